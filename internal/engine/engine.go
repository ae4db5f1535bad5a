package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine/paths"
	"github.com/cavra-dev/cavra/internal/engine/shell"
	"github.com/cavra-dev/cavra/internal/slab"
)

// Built-in rule ids for decisions no pack rule makes.
const (
	RuleDefault        = "engine.default"
	RuleUnparseable    = "engine.unparseable"
	RuleDynamicProgram = "engine.dynamic-program"
	RuleUnknownTool    = "engine.unknown-tool"
)

// SecretHit is a live secret found in text an action writes or runs.
type SecretHit struct {
	// Path is the file the text is written to; empty for a command line or MCP argument.
	Path        string
	RuleID      string
	Description string
	Line        int
	Column      int
	Redacted    string
}

// Options are the engine's collaborators.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID makes decision ids; random 128-bit hex when nil.
	NewID func() string
	// Secrets finds live secrets in text; secret rules never match when nil.
	Secrets func(text string) []SecretHit
	// Home is the home directory used for "~" when an action does not say; the process's when empty.
	Home string
}

// Policy is a compiled, immutable pack.
type Policy struct {
	Name     string
	Revision string
	Pack     *Pack // the resolved pack, parents merged
	settings settings
	rules    []*rule
	// programMatches maps a program to the set of matches (by programBit) whose literal
	// programs include it, so a decision looks each of its programs up once instead of once
	// per match.
	programMatches map[string]bitset
	programBits    int
	// programRules maps a program to the rules (by index) whose every match names literal
	// programs, one of them this one; unboundRules are the other rules, which any action may
	// match. A decision judges only these and the rules of its programs.
	programRules map[string]bitset
	unboundRules bitset
}

// bitset is a set of small integers.
type bitset []uint64

func (b bitset) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0 }

func (b bitset) add(i int) { b[i/64] |= 1 << (i % 64) }

// union adds the members of o to b, which is at least as long.
func (b bitset) union(o bitset) {
	for i, w := range o {
		b[i] |= w
	}
}

type settings struct {
	defaultOutcome, unparseable, dynamicProgram, unknownTool cavra.Outcome
}

type rule struct {
	Rule
	outcome  cavra.Outcome
	severity cavra.Severity
	ttl      time.Duration
	matches  []compiledMatch
	cond     *condition
}

type compiledMatch struct {
	Match
	subject  subjectType
	content  *regexp.Regexp
	ops      map[string]bool
	subwords [][]string

	kinds, hosts, tools, programs, args, paths, notPaths globs
	gitRemotes, gitRefs, gitNotRefs                      globs
	mcpServers, mcpTools, netHosts, netNotHosts          globs
	pathSet, notPathSet                                  globSet // paths and notPaths, indexed
	// programSet holds the programs when all are literals; programBit is then this match's
	// member of Policy.programMatches.
	programSet map[string]bool
	programBit int
	withSet    map[string]bool
}

// Compile turns a resolved pack into a policy.
func Compile(p *Pack) (*Policy, error) { return compile(p, revision(p)) }

func compile(p *Pack, rev string) (*Policy, error) {
	pol := &Policy{Name: p.Name, Revision: rev, Pack: p}
	outcomeOr := func(s string, def cavra.Outcome) cavra.Outcome {
		if s == "" {
			return def
		}
		return cavra.Outcome(s)
	}
	pol.settings = settings{
		defaultOutcome: outcomeOr(p.Settings.Default, cavra.Allow),
		unparseable:    outcomeOr(p.Settings.Unparseable, cavra.RequireApproval),
		dynamicProgram: outcomeOr(p.Settings.DynamicProgram, cavra.RequireApproval),
		unknownTool:    outcomeOr(p.Settings.UnknownTool, cavra.RequireApproval),
	}
	for i := range p.Rules {
		r := &rule{Rule: p.Rules[i], outcome: cavra.Outcome(p.Rules[i].Outcome), severity: cavra.Severity(p.Rules[i].Severity)}
		if r.ApprovalTTL != "" {
			d, err := time.ParseDuration(r.ApprovalTTL)
			if err != nil {
				return nil, fmt.Errorf("rule %s: approval_ttl: %w", r.ID, err)
			}
			r.ttl = d
		}
		ms := r.Any
		if r.Match != nil {
			ms = append([]Match{*r.Match}, ms...)
		}
		for _, m := range ms {
			cm, err := compileMatch(m)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			r.matches = append(r.matches, cm)
		}
		if r.Condition != "" {
			r.cond = &condition{src: r.Condition}
		}
		pol.rules = append(pol.rules, r)
	}
	pol.indexPrograms()
	return pol, nil
}

// candidateRules are the rules a may match: the unbound ones, and those of its programs. The
// set is built in room taken from buf.
func (p *Policy) candidateRules(a *cavra.Action, buf *[]uint64) bitset {
	if a.Command == nil || len(a.Command.Commands) == 0 {
		return p.unboundRules
	}
	out := bitset(append(slab.Take(buf, len(p.unboundRules)), p.unboundRules...))
	for i := range a.Command.Commands {
		out.union(p.programRules[a.Command.Commands[i].Program])
	}
	return out
}

// indexPrograms numbers the matches with literal programs and records, for each program,
// which of them name it.
func (p *Policy) indexPrograms() {
	for _, r := range p.rules {
		for i := range r.matches {
			if m := &r.matches[i]; m.programSet != nil {
				m.programBit = p.programBits
				p.programBits++
			}
		}
	}
	ruleWords := (len(p.rules) + 63) / 64
	p.programRules, p.unboundRules = map[string]bitset{}, make(bitset, ruleWords)
	for ri, r := range p.rules {
		bound := len(r.matches) > 0
		for i := range r.matches {
			bound = bound && r.matches[i].programSet != nil
		}
		if !bound {
			p.unboundRules.add(ri)
			continue
		}
		for i := range r.matches {
			for prog := range r.matches[i].programSet {
				b := p.programRules[prog]
				if b == nil {
					b = make(bitset, ruleWords)
					p.programRules[prog] = b
				}
				b.add(ri)
			}
		}
	}
	p.programMatches = map[string]bitset{}
	words := (p.programBits + 63) / 64
	for _, r := range p.rules {
		for i := range r.matches {
			m := &r.matches[i]
			for prog := range m.programSet {
				b := p.programMatches[prog]
				if b == nil {
					b = make(bitset, words)
					p.programMatches[prog] = b
				}
				b.add(m.programBit)
			}
		}
	}
}

func compileMatch(m Match) (compiledMatch, error) {
	s, err := subjectOf(&m)
	if err != nil {
		return compiledMatch{}, err
	}
	cm := compiledMatch{Match: m, subject: s}
	if m.Content != "" {
		if cm.content, err = regexp.Compile(m.Content); err != nil {
			return compiledMatch{}, fmt.Errorf("content: %w", err)
		}
	}
	if len(m.Ops) > 0 {
		cm.ops = set(m.Ops...)
	}
	for _, sc := range m.Subcommands {
		cm.subwords = append(cm.subwords, strings.Fields(sc))
	}
	cm.kinds, cm.hosts, cm.tools = compileGlobs(m.Kinds), compileGlobs(m.Hosts), compileGlobs(m.Tools)
	cm.programs, cm.args = compileGlobs(m.Programs), compileGlobs(m.Args)
	cm.paths, cm.notPaths = compileGlobs(m.Paths), compileGlobs(m.NotPaths)
	cm.pathSet, cm.notPathSet = compileGlobSet(m.Paths), compileGlobSet(m.NotPaths)
	if lits, ok := cm.programs.literals(); ok && len(lits) > 0 {
		cm.programSet = set(lits...)
	}
	if len(m.WithPrograms) > 0 {
		cm.withSet = set(m.WithPrograms...)
	}
	if g := m.Git; g != nil {
		cm.gitRemotes, cm.gitRefs, cm.gitNotRefs = compileGlobs(g.Remotes), compileGlobs(g.Refs), compileGlobs(g.NotRefs)
	}
	if c := m.MCP; c != nil {
		cm.mcpServers, cm.mcpTools = compileGlobs(c.Servers), compileGlobs(c.Tools)
	}
	if n := m.Network; n != nil {
		cm.netHosts, cm.netNotHosts = compileGlobs(n.Hosts), compileGlobs(n.NotHosts)
	}
	return cm, nil
}

// Engine decides actions against one policy. It is safe for concurrent use.
type Engine struct {
	policy *Policy
	opts   Options
	// noMatchReason is the reason of a decision no rule made, built once.
	noMatchReason string
	// evaluations reuses per-decision state, a decision's largest allocation.
	evaluations sync.Pool
}

// New returns an engine for p.
func New(p *Policy, opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = randomID
	}
	if opts.Home == "" {
		opts.Home, _ = os.UserHomeDir()
	}
	return &Engine{policy: p, opts: opts, noMatchReason: "no rule of policy " + p.Name + " matched"}
}

// Policy returns the policy the engine decides with.
func (e *Engine) Policy() *Policy { return e.policy }

// randomID is 128 bits in hex: 48 bits of Unix milliseconds, then 80 random bits. Time first
// keeps ids in the order they were made, so the evidence store's indexes grow at their right
// edge instead of taking a random page per decision.
func randomID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails on supported platforms
	var id [2 * len(b)]byte
	hex.Encode(id[:], b[:])
	return string(id[:])
}

// Normalize validates a and derives the structured facts rules match on: every simple command
// of a command line, clean absolute paths, git operations and requests implied by commands.
// An unparseable command line is recorded in Command.ParseError, not returned as an error:
// it is the policy's to judge. Errors are invalid actions (cavra.ErrInvalid).
func (e *Engine) Normalize(a cavra.Action) (cavra.Action, error) {
	if a.Kind == "" {
		return a, cavra.Errorf(cavra.ErrInvalid, "action has no kind")
	}
	if !a.Kind.Valid() {
		return a, cavra.Errorf(cavra.ErrInvalid, "action kind %q is not domain.verb", a.Kind)
	}
	if !a.Effect.Valid() {
		return a, cavra.Errorf(cavra.ErrInvalid, "unknown effect %q", a.Effect)
	}
	if !a.Risk.Valid() {
		return a, cavra.Errorf(cavra.ErrInvalid, "unknown risk %q", a.Risk)
	}
	if a.Cwd != "" && !strings.HasPrefix(a.Cwd, "/") {
		return a, cavra.Errorf(cavra.ErrInvalid, "cwd %q is not an absolute path", a.Cwd)
	}
	if a.Version == "" {
		a.Version = cavra.TaxonomyVersion
	}
	if a.Home == "" {
		a.Home = e.opts.Home
	}
	switch a.Kind {
	case cavra.KindCommandExec:
		if a.Command == nil {
			return a, cavra.Errorf(cavra.ErrInvalid, "a command.exec action needs command.line")
		}
	case cavra.KindFileRead, cavra.KindFileWrite, cavra.KindFileDelete:
		if len(a.Files) == 0 {
			return a, cavra.Errorf(cavra.ErrInvalid, "a %s action needs files", a.Kind)
		}
	case cavra.KindMCPCall:
		if a.MCP == nil || a.MCP.Server == "" {
			return a, cavra.Errorf(cavra.ErrInvalid, "an mcp.call action needs mcp.server")
		}
	}
	// Copy the slices we extend so the caller's action is never modified.
	a.Files = append([]cavra.FileOp(nil), a.Files...)
	a.Git = append([]cavra.GitOp(nil), a.Git...)
	a.Network = append([]cavra.NetworkRequest(nil), a.Network...)
	// The action's own files resolve against its cwd; files derived from a command line below
	// resolve against the directory each command runs in.
	for i := range a.Files {
		f := &a.Files[i]
		if f.Raw == "" {
			f.Raw = f.Path
		}
		f.Path = paths.Resolve(f.Raw, a.Cwd, a.Home)
		if f.To != "" {
			f.To = paths.Resolve(f.To, a.Cwd, a.Home)
		}
	}
	if a.Command != nil {
		cmd := *a.Command
		cmd.Commands, cmd.ParseError = nil, ""
		res, err := shell.Parse(cmd.Line, shell.Options{Dir: a.Cwd, Home: a.Home})
		if err != nil {
			cmd.ParseError = err.Error()
		} else {
			cmd.Commands = res.Commands
			a.Files = append(a.Files, res.Files...)
			for _, c := range res.Commands {
				if shell.OverSSH(c) {
					continue // runs on another machine: its paths are not ours
				}
				from := len(a.Files)
				if !shell.InContainer(c) { // a container's paths are not ours either; its network is
					a.Files = appendDerivedFiles(a.Files, c)
				}
				for i := from; i < len(a.Files); i++ {
					f := &a.Files[i]
					f.Path = paths.Resolve(f.Raw, dirOf(c, a.Cwd), a.Home)
					if f.To != "" {
						f.To = paths.Resolve(f.To, dirOf(c, a.Cwd), a.Home)
					}
				}
				if g, ok := deriveGit(c); ok {
					a.Git = append(a.Git, g)
				}
				a.Network = append(a.Network, deriveNetwork(c)...)
			}
		}
		a.Command = &cmd
	}
	for i := range a.Network {
		if a.Network[i].Host == "" {
			if r, ok := request(a.Network[i].URL); ok {
				a.Network[i].Host = r.Host
			}
		}
	}
	return a, nil
}

func dirOf(c cavra.SimpleCommand, cwd string) string {
	if c.Dir != "" {
		return c.Dir
	}
	return cwd
}

// Decide normalises a and judges it. The returned decision always names the rule that decided.
func (e *Engine) Decide(ctx context.Context, a cavra.Action) (cavra.Decision, error) {
	n, err := e.Normalize(a)
	if err != nil {
		return cavra.Decision{}, err
	}
	return e.DecideNormalized(ctx, n)
}

// DecideNormalized judges an action that Normalize returned.
func (e *Engine) DecideNormalized(ctx context.Context, a cavra.Action) (cavra.Decision, error) {
	ev, _ := e.evaluations.Get().(*evaluation)
	if ev == nil {
		ev = new(evaluation)
	}
	ev.start(e, a)
	defer func() {
		ev.finish()
		e.evaluations.Put(ev)
	}()
	found := ev.found[:0]
	candidates := e.policy.candidateRules(&a, &ev.bits)
	for ri, r := range e.policy.rules {
		if !candidates.has(ri) {
			continue
		}
		m, err := ev.rule(r)
		if err != nil {
			return cavra.Decision{}, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if m != nil {
			found = append(found, *m)
			ev.found = found // so that the buffer is emptied even when a later rule fails
		}
	}
	found = append(found, ev.builtins()...)
	ev.found = found
	var matches []cavra.Match
	if len(found) > 0 {
		matches = slices.Clone(found) // the decision's own, exact-size copy
	}
	slices.SortStableFunc(matches, func(x, y cavra.Match) int {
		if c := cmp.Compare(y.Outcome.Rank(), x.Outcome.Rank()); c != 0 {
			return c
		}
		return cmp.Compare(y.Severity.Rank(), x.Severity.Rank())
	})
	d := cavra.Decision{
		ID:             e.opts.NewID(),
		Policy:         e.policy.Name,
		PolicyRevision: e.policy.Revision,
		Matches:        matches,
		Fingerprint:    a.Fingerprint(),
		DecidedAt:      e.opts.Now().UTC(),
	}
	if len(matches) == 0 {
		d.Outcome = e.policy.settings.defaultOutcome
		d.RuleID = RuleDefault
		d.Reason = e.noMatchReason
		return d, nil
	}
	top := matches[0]
	d.Outcome, d.RuleID, d.Severity = top.Outcome, top.RuleID, top.Severity
	d.Reason, d.Remediation, d.Compliance = top.Message, top.Remediation, top.Compliance
	for _, r := range e.policy.rules {
		if r.ID == top.RuleID {
			d.ApprovalTTL = cavra.Duration(r.ttl)
			if d.Outcome == cavra.RequireApproval && r.Approvers > 1 {
				d.Approvers = r.Approvers
			}
		}
	}
	return d, nil
}

// evaluation holds per-decision state computed at most once.
type evaluation struct {
	engine  *Engine
	action  cavra.Action
	secrets []SecretHit
	scanned bool
	vars    lazyMap    // CEL view of the action, once its names are set
	in      celInput   // the variables of the condition being evaluated
	cmds    []cmdFacts // per simple command, computed on first need
	// cmdsBuf and words hold cmds and the commands' flags, operands and paths. They are kept
	// from one decision to the next, so that what only lives during a decision is not garbage.
	cmdsBuf []cmdFacts
	words   []string
	// matchBuf holds the matches rules return; found collects those a decision keeps.
	matchBuf []cavra.Match
	found    []cavra.Match
	// bits and bitsets hold the candidate rules and the program index.
	bits    []uint64
	bitsets []bitset
	// cmdObject is action.command as conditions see it, once its names are set; lazyBuf holds
	// the views of its simple commands.
	cmdObject lazyMap
	lazyBuf   []lazyMap
	// programs is the set of matches (by programBit) naming a program of some command;
	// cmdPrograms holds the same per command. Both are built on first need.
	programs    bitset
	cmdPrograms []bitset
	globbed     []globbedEntry // globbed paths met so far
}

type globbedEntry struct {
	x  globbedPath
	ok bool
}

// pathHit is globSet.pathHit, working out once per decision what a globbed path can expand to.
func (ev *evaluation) pathHit(s *globSet, v string) bool {
	home := ev.action.Home
	if s.hit(v, home) {
		return true
	}
	if !hasMeta(base(v)) {
		return false
	}
	var x *globbedPath
	for i := range ev.globbed {
		if e := &ev.globbed[i]; e.x.v == v {
			if !e.ok {
				return false
			}
			x = &e.x
			break
		}
	}
	if x == nil {
		g, ok := globbed(v)
		g.v = v
		ev.globbed = append(ev.globbed, globbedEntry{x: g, ok: ok})
		if !ok {
			return false
		}
		x = &ev.globbed[len(ev.globbed)-1].x
	}
	for i := range s.all {
		if s.all[i].expandsTo(x, home) {
			return true
		}
	}
	return false
}

// programIndex looks each command's program up in the policy's index, once per decision.
func (ev *evaluation) programIndex() {
	if ev.cmdPrograms != nil {
		return
	}
	pol := ev.engine.policy
	cmds := ev.action.Command.Commands
	ev.cmdPrograms = slab.Take(&ev.bitsets, len(cmds))[:len(cmds)]
	words := (pol.programBits + 63) / 64
	ev.programs = slab.Take(&ev.bits, words)[:words]
	for i := range cmds {
		b := pol.programMatches[cmds[i].Program]
		ev.cmdPrograms[i] = b
		ev.programs.union(b)
	}
}

// start readies ev, new or pooled, to judge a for e. It keeps only ev's emptied buffers.
func (ev *evaluation) start(e *Engine, a cavra.Action) {
	*ev = evaluation{engine: e, action: a, cmdsBuf: ev.cmdsBuf, words: ev.words, matchBuf: ev.matchBuf,
		found: ev.found, bits: ev.bits, bitsets: ev.bitsets, lazyBuf: ev.lazyBuf}
}

// finish empties ev's buffers and lets go of the action, so a pooled evaluation keeps nothing
// of it alive.
func (ev *evaluation) finish() {
	slab.Release(&ev.cmdsBuf, maxKeptCommands)
	slab.Release(&ev.words, maxKeptWords)
	slab.Release(&ev.matchBuf, maxKeptCommands)
	slab.Release(&ev.found, maxKeptCommands)
	slab.Release(&ev.bits, maxKeptWords)
	slab.Release(&ev.bitsets, maxKeptCommands)
	slab.Release(&ev.lazyBuf, maxKeptCommands)
	ev.start(nil, cavra.Action{})
}

// The most commands and words a pooled evaluation keeps room for between decisions.
const (
	maxKeptCommands = 64
	maxKeptWords    = 1024
)

// cmdFacts are what several rules ask of one simple command, computed once per decision.
type cmdFacts struct {
	built    bool
	flags    []string // flagSet's flags, sorted
	operands []string
	paths    []string // operands resolved against the command's directory
	value    lazyMap  // the command as conditions see it, once its names are set
	lists    [numLists]celStrings
}

func (ev *evaluation) facts(i int) *cmdFacts {
	if ev.cmds == nil {
		n := len(ev.action.Command.Commands)
		ev.cmds = slab.Take(&ev.cmdsBuf, n)[:n]
	}
	f := &ev.cmds[i]
	if f.built {
		return f
	}
	c := &ev.action.Command.Commands[i]
	// Operands and their paths share one array sized for the most operands argv can have.
	words := slab.Take(&ev.words, 2*max(len(c.Argv)-1, 0))
	f.operands = appendOperands(words, c.Argv)
	f.paths = words[len(f.operands):len(f.operands):cap(words)]
	for _, o := range f.operands {
		f.paths = append(f.paths, paths.Resolve(o, dirOf(*c, ev.action.Cwd), ev.action.Home))
	}
	f.flags = appendFlags(slab.Take(&ev.words, flagsBound(c.Argv)), c.Argv)
	f.built = true
	return f
}

// commandViewFields are the fields of a simple command as conditions see it.
var commandViewFields = append(slices.Clip(simpleCommandFields), "flags", "operands", "paths")

// commandField is field k of simple command i as conditions see it: the command's own fields,
// and its flags, operands and paths.
func (ev *evaluation) commandField(i int, k string) (any, bool) {
	f := ev.facts(i)
	switch k {
	case "flags":
		return f.list(listFlags, f.flags), true
	case "operands":
		return f.list(listOperands, f.operands), true
	case "paths":
		return f.list(listPaths, f.paths), true
	case "argv":
		return f.list(listArgv, ev.action.Command.Commands[i].Argv), true
	case "wrappers":
		w := ev.action.Command.Commands[i].Wrappers
		return f.list(listWrappers, w), len(w) > 0
	}
	return simpleCommandField(&ev.action.Command.Commands[i], k)
}

// The lists of a command's view, by their place in cmdFacts.lists.
const (
	listFlags = iota
	listOperands
	listPaths
	listArgv
	listWrappers
	numLists
)

// list is s as the CEL list in f's place n.
func (f *cmdFacts) list(n int, s []string) *celStrings {
	f.lists[n] = celStrings{s: s}
	return &f.lists[n]
}

// commandObject is action.command as conditions see it.
func (ev *evaluation) commandObject() *lazyMap {
	if ev.cmdObject.names == nil {
		ev.cmdObject = lazyMap{names: commandObjectFields, src: commandObjectSource{ev}, adapter: celAdapter()}
	}
	return &ev.cmdObject
}

// lazyField implements fieldSource for the simple commands' lazy maps.
func (ev *evaluation) lazyField(i int, k string) (any, bool) { return ev.commandField(i, k) }

// commandValue is simple command i as conditions see it, each field built on first read.
func (ev *evaluation) commandValue(i int) *lazyMap {
	f := ev.facts(i)
	if f.value.names == nil {
		f.value = lazyMap{names: commandViewFields, adapter: celAdapter(), src: ev, index: i}
	}
	return &f.value
}

// commandMap is commandValue(i) whole, as a Go map.
func (ev *evaluation) commandMap(i int) map[string]any {
	return wholeMap(commandViewFields, func(k string) (any, bool) { return ev.commandField(i, k) })
}

// builtins are the engine's own judgements: lines it could not parse, programs it cannot name.
func (ev *evaluation) builtins() []cavra.Match {
	s := ev.engine.policy.settings
	var out []cavra.Match
	if c := ev.action.Command; c != nil {
		if c.ParseError != "" {
			out = append(out, cavra.Match{RuleID: RuleUnparseable, Outcome: s.unparseable, Severity: cavra.SeverityHigh,
				Subject: "command", Text: c.Line,
				Message:     "the command line could not be parsed, so it cannot be judged: " + c.ParseError,
				Remediation: "rewrite the command in plain shell syntax, or ask a human to run it"})
		}
		for _, sc := range c.Commands {
			if sc.Dynamic && (sc.Program == "" || strings.ContainsAny(sc.Argv[0], "$`")) {
				span := sc.Span
				out = append(out, cavra.Match{RuleID: RuleDynamicProgram, Outcome: s.dynamicProgram, Severity: cavra.SeverityMedium,
					Subject: "command", Text: spanText(c.Line, span), Span: &span,
					Message:     "the program to run is only known at run time (" + sc.Argv[0] + "), so it cannot be judged",
					Remediation: "name the program literally instead of through a variable or substitution"})
				break
			}
		}
	}
	if ev.action.Kind == "tool.call" {
		out = append(out, cavra.Match{RuleID: RuleUnknownTool, Outcome: s.unknownTool, Severity: cavra.SeverityMedium,
			Subject: "action", Text: ev.action.Source.Tool,
			Message:     fmt.Sprintf("tool %q is not known to CAVRA, so what it does cannot be judged", ev.action.Source.Tool),
			Remediation: "use a known tool, or add a policy rule for this tool's kind"})
	}
	return out
}

func spanText(line string, s cavra.Span) string {
	if s.Start < 0 || s.End > len(line) || s.Start > s.End {
		return line
	}
	return line[s.Start:s.End]
}

// rule evaluates r; on a match it returns what matched, else nil.
func (ev *evaluation) rule(r *rule) (*cavra.Match, error) {
	for i := range r.matches {
		m := &r.matches[i]
		if !ev.actionLevel(m) {
			continue
		}
		found, err := ev.subjects(m, r)
		if err != nil {
			return nil, err
		}
		if found != nil {
			found.RuleID, found.Outcome, found.Severity = r.ID, r.outcome, r.severity
			found.Message, found.Remediation, found.Compliance = r.Message, r.Remediation, r.Compliance
			return found, nil
		}
	}
	return nil, nil
}

func (ev *evaluation) actionLevel(m *compiledMatch) bool {
	a := &ev.action
	if !m.kinds.any(string(a.Kind), "") || !m.hosts.any(a.Source.Host, "") ||
		!m.tools.any(a.Source.Tool, "") || !anyExact(m.Effects, string(a.Effect)) {
		return false
	}
	if m.withSet != nil {
		if a.Command == nil {
			return false
		}
		found := false
		for _, c := range a.Command.Commands {
			if m.withSet[c.Program] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	// Reject at once a match whose subjects the action does not have.
	switch m.subject {
	case subjectCommand:
		if a.Command == nil || len(a.Command.Commands) == 0 {
			return false
		}
		if m.programSet != nil {
			ev.programIndex()
			return ev.programs.has(m.programBit)
		}
	case subjectFile:
		return len(a.Files) > 0
	case subjectGit:
		return len(a.Git) > 0
	case subjectMCP:
		return a.MCP != nil
	case subjectNetwork:
		return len(a.Network) > 0
	}
	return true
}

func anyExact(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, l := range list {
		if l == v {
			return true
		}
	}
	return false
}

// subjects finds the first subject of m's type that satisfies m and r's condition. What
// matched is described only once found: most candidates fail the condition.
func (ev *evaluation) subjects(m *compiledMatch, r *rule) (*cavra.Match, error) {
	a := &ev.action
	pass := func(subject any) (bool, error) {
		if r.cond == nil {
			return true, nil
		}
		sub, err := subjectValue(subject)
		if err != nil {
			return false, err
		}
		ev.in = celInput{ev: ev, subject: sub}
		return r.cond.eval(&ev.in)
	}
	switch m.subject {
	case subjectAction:
		if ok, err := pass(nil); err != nil || !ok {
			return nil, err
		}
		return ev.newMatch(cavra.Match{Subject: "action", Text: string(a.Kind)}), nil
	case subjectCommand:
		if a.Command == nil {
			return nil, nil
		}
		for i := range a.Command.Commands {
			if !ev.commandMatches(m, i) {
				continue
			}
			var view any
			if r.cond != nil {
				view = ev.commandValue(i)
			}
			if ok, err := pass(view); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			span := a.Command.Commands[i].Span
			return ev.newMatch(cavra.Match{Subject: "command", Text: spanText(a.Command.Line, span), Span: &span}), nil
		}
	case subjectFile:
		for i := range a.Files {
			f := &a.Files[i]
			if !ev.fileMatches(m, f) {
				continue
			}
			if ok, err := pass(f); err != nil || ok {
				return ev.hit(err, "file", f.Path)
			}
		}
	case subjectGit:
		for i := range a.Git {
			g := &a.Git[i]
			if !gitMatches(m, *g) {
				continue
			}
			if ok, err := pass(g); err != nil || ok {
				return ev.hit(err, "git", describeGit(*g))
			}
		}
	case subjectMCP:
		if a.MCP != nil && m.mcpServers.any(a.MCP.Server, "") && m.mcpTools.any(a.MCP.Tool, "") {
			if ok, err := pass(a.MCP); err != nil || ok {
				return ev.hit(err, "mcp", a.MCP.Server+"/"+a.MCP.Tool)
			}
		}
	case subjectNetwork:
		for i := range a.Network {
			n := &a.Network[i]
			if !networkMatches(m, *n) {
				continue
			}
			if ok, err := pass(n); err != nil || ok {
				return ev.hit(err, "network", n.URL)
			}
		}
	case subjectSecret:
		for _, s := range ev.secretHits() {
			if m.paths != nil && !m.pathSet.hit(s.Path, a.Home) || m.notPathSet.hit(s.Path, a.Home) {
				continue
			}
			if ok, err := pass(s); err != nil || ok {
				return ev.hit(err, "content", s.RuleID+": "+s.Redacted)
			}
		}
	}
	return nil, nil
}

// hit is what subjects returns for a subject that passed its condition, or failed it with err.
func (ev *evaluation) hit(err error, subject, text string) (*cavra.Match, error) {
	if err != nil {
		return nil, err
	}
	return ev.newMatch(cavra.Match{Subject: subject, Text: text}), nil
}

// newMatch is m in the evaluation's storage: DecideNormalized copies the matches it keeps.
func (ev *evaluation) newMatch(m cavra.Match) *cavra.Match {
	return &append(slab.Take(&ev.matchBuf, 1), m)[0]
}

func (ev *evaluation) commandMatches(m *compiledMatch, i int) bool {
	c := &ev.action.Command.Commands[i]
	if m.programSet != nil {
		ev.programIndex()
		if !ev.cmdPrograms[i].has(m.programBit) {
			return false
		}
	} else if !m.programs.any(c.Program, "") {
		return false
	}
	if !anyExact(m.Via, c.Via) {
		return false
	}
	if len(m.Wrappers) > 0 {
		found := false
		for _, w := range c.Wrappers {
			if anyExact(m.Wrappers, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(m.Flags)+len(m.AnyFlags) > 0 {
		flags := ev.facts(i).flags
		for _, f := range m.Flags {
			if !hasFlag(flags, strings.TrimLeft(f, "-")) {
				return false
			}
		}
		if len(m.AnyFlags) > 0 {
			found := false
			for _, f := range m.AnyFlags {
				if hasFlag(flags, strings.TrimLeft(f, "-")) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	if len(m.subwords) > 0 && !subcommandMatches(m.subwords, ev.facts(i).operands) {
		return false
	}
	if len(m.Args) > 0 {
		found := false
		for _, arg := range c.Argv[1:] {
			if m.args.hit(arg, "") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(m.Paths) > 0 {
		found := false
		for _, p := range ev.facts(i).paths {
			if ev.pathHit(&m.pathSet, p) && !m.notPathSet.hit(p, ev.action.Home) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// subcommandMatches reports whether one of the word sequences starts within the first three
// operands, so that `kubectl --context prod delete pod` matches "delete".
func subcommandMatches(seqs [][]string, ops []string) bool {
	for _, seq := range seqs {
		for start := 0; start < len(ops) && start < 3; start++ {
			if start+len(seq) > len(ops) {
				break
			}
			ok := true
			for k, w := range seq {
				if ops[start+k] != w {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func (ev *evaluation) fileMatches(m *compiledMatch, f *cavra.FileOp) bool {
	if m.ops != nil && !m.ops[string(f.Op)] {
		return false
	}
	home := ev.action.Home
	if m.paths != nil {
		if !ev.pathHit(&m.pathSet, f.Path) && (f.To == "" || !ev.pathHit(&m.pathSet, f.To)) {
			return false
		}
	}
	if m.notPaths != nil && m.notPathSet.hit(f.Path, home) && (f.To == "" || m.notPathSet.hit(f.To, home)) {
		return false
	}
	if m.content != nil && !m.content.MatchString(f.Content) {
		return false
	}
	return true
}

func gitMatches(cm *compiledMatch, g cavra.GitOp) bool {
	m := cm.Git
	if !anyExact(m.Subcommands, g.Subcommand) || !cm.gitRemotes.any(g.Remote, "") {
		return false
	}
	if m.Force != nil && *m.Force != g.Force {
		return false
	}
	if m.Delete != nil && *m.Delete != g.Delete {
		return false
	}
	if len(m.Refs) > 0 || len(m.NotRefs) > 0 {
		found := false
		for _, ref := range g.Refs {
			if cm.gitRefs.any(ref, "") && !cm.gitNotRefs.hit(ref, "") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func describeGit(g cavra.GitOp) string {
	parts := []string{"git", g.Subcommand}
	if g.Remote != "" {
		parts = append(parts, g.Remote)
	}
	parts = append(parts, g.Refs...)
	if g.Force {
		parts = append(parts, "(force)")
	}
	if g.Delete {
		parts = append(parts, "(delete)")
	}
	return strings.Join(parts, " ")
}

func networkMatches(cm *compiledMatch, n cavra.NetworkRequest) bool {
	m := cm.Network
	if !cm.netHosts.any(n.Host, "") || cm.netNotHosts.hit(n.Host, "") {
		return false
	}
	if len(m.Schemes) > 0 {
		scheme, _, _ := strings.Cut(n.URL, "://")
		if !anyExact(m.Schemes, scheme) {
			return false
		}
	}
	return true
}

// secretHits scans the action's written text and command line once, on first need.
func (ev *evaluation) secretHits() []SecretHit {
	if ev.scanned || ev.engine.opts.Secrets == nil {
		return ev.secrets
	}
	ev.scanned = true
	if c := ev.action.Command; c != nil && c.Line != "" {
		ev.secrets = append(ev.secrets, ev.engine.opts.Secrets(c.Line)...)
	}
	for _, f := range ev.action.Files {
		if f.Content != "" {
			for _, h := range ev.engine.opts.Secrets(f.Content) {
				h.Path = f.Path
				ev.secrets = append(ev.secrets, h)
			}
		}
	}
	if mcp := ev.action.MCP; mcp != nil {
		for _, v := range mcp.Arguments {
			if s, ok := v.(string); ok && s != "" {
				ev.secrets = append(ev.secrets, ev.engine.opts.Secrets(s)...)
			}
		}
	}
	return ev.secrets
}
