// Package shell turns a shell command line into every simple command it would run, as argv
// lists, by walking a real syntax tree (mvdan.cc/sh/v3/syntax). Wrappers (sudo, env, timeout,
// xargs, ...) are stripped, nested shell payloads (sh -c, eval, heredocs fed to a shell, find
// -exec, ssh remote commands) are parsed recursively, and literal variable assignments made
// earlier in the line are substituted, so that a rule written against "rm -rf /" also sees
// `\rm -r -f /`, `sudo env X=1 /bin/rm -rf /` or `bash -c 'eval "rm -rf /"'`.
//
// The walk is static: nothing is executed and the filesystem is never read.
//
// Conventions of the result:
//   - Argv words are the values after brace expansion and quote removal. A word that holds an
//     expansion whose value is unknown keeps that expansion's source text ("$TARGET/x",
//     "$(pwd)") and makes the command Dynamic; known variables ($HOME, $PWD, X=... earlier in
//     the line) are substituted and split into words as the shell would.
//   - Via is the innermost mechanism that reached a command: a command in a pipeline inside a
//     subshell has Via "pipeline". Every element of a pipeline, the first included, has Via
//     "pipeline", because each runs in its own subshell with redirected stdio.
//   - Commands nested in a payload inherit the wrappers and environment of the command that
//     ran it: `sudo bash -c 'rm x'` yields bash and rm, both with Wrappers [sudo].
//   - An ssh remote command has Via "ssh" and no Dir; its redirections are not local files, and
//     "ssh" is appended to its Wrappers, so commands nested further (ssh h sh -c '...') still say
//     where they run; see OverSSH. The same holds for ssh run by sshpass or autossh, for rsync
//     --rsync-path=CMD and for an sftp -s server path. Commands that an ssh client runs on this
//     machine (-o ProxyCommand=..., LocalCommand, KnownHostsCommand; rsync -e CMD; scp/sftp -S
//     PROG, scp -D PROG, sftp -D CMD) have Via "ssh command". A
//     command run in a container or pod (docker/podman/nerdctl exec|run|create, docker compose
//     exec|run, kubectl/oc exec|run|debug, lxc/incus exec) is handled the same way with Via
//     "container", and its runner (docker, kubectl, ...) is appended to Wrappers, so commands
//     nested further (docker exec c sh -c '...') still say where they run; see InContainer.
//   - Shell commands that git runs from its configuration (-c core.pager=..., git config
//     alias.x '!...', GIT_SSH_COMMAND=..., GIT_CONFIG_PARAMETERS, ext:: remote URLs) have Via
//     "git". Configuration given to git through the environment (GIT_CONFIG_PARAMETERS,
//     GIT_CONFIG_COUNT, --config-env) also yields a `git -c KEY=VALUE ...` command, Via "git",
//     so that rules written against -c see it.
//   - A function that calls itself unconditionally in a forked process (:(){ :|:& };:) has that
//     call marked Via "fork bomb".
//   - A line too large or too deeply nested to judge safely is an error, like a syntax error.
package shell

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine/paths"
	"github.com/cavra-dev/cavra/internal/slab"
)

// Options says where a line runs.
type Options struct {
	Dir      string // the working directory of the line (absolute); cd inside the line updates it
	Home     string // for ~ and $HOME
	MaxDepth int    // nesting limit for sh -c / eval / substitutions; 0 means a sane default (8)
}

// Result is what a line would do.
type Result struct {
	Commands []cavra.SimpleCommand // every simple command, in source order, nested ones included
	Files    []cavra.FileOp        // redirections: > >> >| &> are FileWrite, < is FileRead; paths resolved
}

// The Via values a command can carry.
const (
	ViaTop          = ""
	ViaPipeline     = "pipeline"
	ViaSubshell     = "subshell"
	ViaSubstitution = "substitution"
	ViaShellC       = "sh -c"
	ViaSSH          = "ssh"
	ViaEval         = "eval"
	ViaXargs        = "xargs"
	ViaFindExec     = "find -exec"
	ViaHeredoc      = "heredoc"
	ViaFunction     = "function"
	ViaTrap         = "trap"
	ViaAlias        = "alias"
	ViaEnvSplit     = "env -S"
	ViaPipedScript  = "piped script" // `echo 'rm -rf /' | sh`: literal text piped into a shell
	ViaContainer    = "container"    // docker exec C cmd, kubectl exec pod -- cmd
	ViaGit          = "git"          // a shell command in a git config value or an ext:: URL
	ViaSSHCommand   = "ssh command"  // ssh -o ProxyCommand=CMD, LocalCommand, rsync -e CMD: run here
	ViaForkBomb     = "fork bomb"    // f(){ f|f& }: a function that forks itself without end
)

const (
	defaultMaxDepth = 8
	// maxParsedBytes bounds the total text parsed for one line, nested payloads included:
	// variables let a short line build payloads that grow exponentially (X=$X$X; eval "$X").
	maxParsedBytes = 1 << 20
	// maxExpandedBytes bounds the total text substituted for variables in one line: a 64 KiB
	// value used many times must not turn a short line into gigabytes of argv.
	maxExpandedBytes = 4 << 20
	// maxTextBytes bounds one parsed text (the line or a payload): at the parser's worst case of
	// ~4 KiB of stack per byte it keeps far below Go's fatal 1 GiB stack limit.
	maxTextBytes = 128 << 10
	// maxBracketDepth bounds bracket nesting, the cheapest way to make the parser recurse.
	maxBracketDepth = 512
	// maxVarValue bounds a tracked variable's value; a longer value is treated as unknown.
	maxVarValue = 1 << 16
	// maxVars bounds how many variables are tracked, since every subshell and branch copies them.
	maxVars = 256
	// maxCommands bounds how many commands one line may yield before it is refused.
	maxCommands = 1 << 14
)

// errPanic marks an internal failure recovered from a panic; the fuzz test asserts it never
// happens.
var errPanic = errors.New("internal error in shell normaliser")

// parserPool reuses parsers: a syntax.Parser may be reused once a Parse call has returned but
// not used concurrently, and allocating one per line costs more than parsing a short line.
var parserPool = sync.Pool{New: func() any {
	return syntax.NewParser(syntax.Variant(syntax.LangBash))
}}

// Parse returns every simple command that line would run and the files its redirections touch.
// It never panics. A line that cannot be parsed returns an error (the caller then refuses to
// allow silently); a payload nested deeper than MaxDepth is also an error.
func Parse(line string, opts Options) (res Result, err error) {
	w := walkers.Get().(*walker)
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, cavra.Errorf(cavra.ErrInternal, "parse shell line: %w: %v", errPanic, r)
		}
		w.reset()
		walkers.Put(w)
	}()
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = defaultMaxDepth
	}
	w.opts, w.budget, w.expandBudget = opts, maxParsedBytes, maxExpandedBytes
	f, err := w.parse(line)
	if err != nil {
		return Result{}, cavra.Errorf(cavra.ErrInvalid, "parse shell line: %w", err)
	}
	st := &state{dir: opts.Dir}
	sc := scope{src: line, home: opts.Home}
	if err := w.stmts(f.Stmts, sc, st); err != nil {
		return Result{}, cavra.Errorf(cavra.ErrInvalid, "normalise shell line: %w", err)
	}
	if w.expandBudget < 0 {
		return Result{}, cavra.Errorf(cavra.ErrInvalid, "normalise shell line: variables expand to more than %d bytes", maxExpandedBytes)
	}
	// The walker's buffers go back to the pool: the caller gets exact-size copies.
	return Result{Commands: cloneOrNil(w.res.Commands), Files: cloneOrNil(w.res.Files)}, nil
}

// walkers reuses walkers, and with them the buffers a line is walked into: its plain syntax
// nodes and the commands and files found.
var walkers = sync.Pool{New: func() any { return new(walker) }}

// maxKeptResults bounds the commands or files a pooled walker's buffers keep room for.
const maxKeptResults = 64

// reset makes w as new, keeping its buffers emptied.
func (w *walker) reset() {
	nodes, cmds, files, fieldBuf, ctxBuf := w.nodes, w.res.Commands, w.res.Files, w.fieldBuf, w.ctxBuf
	nodes.reset()
	slab.Release(&fieldBuf, maxArenaNodes)
	slab.Release(&ctxBuf, maxKeptResults)
	clear(cmds) // no line's commands outlive its Parse call in the pool
	clear(files)
	*w = walker{nodes: nodes, fieldBuf: fieldBuf, ctxBuf: ctxBuf}
	if cap(cmds) <= maxKeptResults {
		w.res.Commands = cmds[:0]
	}
	if cap(files) <= maxKeptResults {
		w.res.Files = files[:0]
	}
}

func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// walker accumulates the result of one Parse call.
type walker struct {
	opts         Options
	res          Result
	budget       int // bytes that may still be parsed
	expandBudget int // bytes of variable values that may still be substituted
	// stdinShell is set when the last command walked was a shell reading its script from stdin.
	stdinShell *pendingShell
	// noFold keeps the substitutions of the word being expanded unknown (see call); foldDepth
	// bounds how deeply nested substitutions are folded into their output.
	noFold    bool
	foldDepth int
	// nodes holds the syntax trees of plain lines (see parseSimple); fieldBuf and ctxBuf the
	// words and contexts of the commands walked. All three are freed when Parse returns, never
	// before, so nothing handed out during a walk is handed out twice.
	nodes    nodeArena
	fieldBuf []field
	ctxBuf   []cmdCtx
}

// scope is the lexical context of the nodes being walked. It is passed by value: entering a
// nested construct changes a copy.
type scope struct {
	src      string      // the text the nodes' offsets refer to
	override *cavra.Span // for nested payloads: the outer word every command points at
	via      string
	wrappers []string          // wrappers of the command that ran this payload
	env      map[string]string // environment given to the command that ran this payload
	depth    int
	dynamic  bool // the payload text itself was not fully known
	remote   bool // an ssh remote command: no local directory, no local files
	// fn is the function whose body is being walked; forked says a fork (pipeline, background
	// job, subshell, substitution) was entered since, and branch says a branch that may not run
	// (if, loop, case, && or ||). A call to fn that is forked and not in a branch never ends.
	// (The bools sit together: at 128 bytes or less a scope is copied into closures rather
	// than moved to the heap.)
	forked, branch bool
	fn             string
	home           string
	// timeAt is the position of a `time` keyword whose simple command's span it starts.
	timeAt syntax.Pos
}

func (w *walker) parse(text string) (*syntax.File, error) {
	w.budget -= len(text)
	if w.budget < 0 {
		return nil, fmt.Errorf("shell text, nested payloads included, exceeds %d bytes", maxParsedBytes)
	}
	// The parser recurses once per nesting level, using up to ~4 KiB of stack per input byte in
	// arithmetic: deep enough nesting overflows the goroutine stack, which is fatal rather than
	// a recoverable panic. Bound both the text and its bracket nesting before parsing.
	if len(text) > maxTextBytes {
		return nil, fmt.Errorf("shell text of %d bytes exceeds the %d-byte limit", len(text), maxTextBytes)
	}
	if d := bracketDepth(text); d > maxBracketDepth {
		return nil, fmt.Errorf("brackets nest %d deep, more than the limit of %d", d, maxBracketDepth)
	}
	if f, ok := w.nodes.parseSimple(text); ok {
		return f, nil
	}
	p := parserPool.Get().(*syntax.Parser)
	f, err := p.Parse(strings.NewReader(text), "")
	parserPool.Put(p)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// payload parses text as a shell program run via the given mechanism and walks it. Every
// command found gets span (the outer word that held the text).
func (w *walker) payload(text string, sc scope, st *state, via string, span cavra.Span, dynamic bool) error {
	if sc.depth+1 > w.opts.MaxDepth {
		return fmt.Errorf("%s payload nested deeper than %d levels", via, w.opts.MaxDepth)
	}
	f, err := w.parse(text)
	if err != nil {
		return fmt.Errorf("parse %s payload %q: %w", via, truncate(text, 80), err)
	}
	sc.src = text
	sc.override = &span
	sc.timeAt = syntax.Pos{}
	if via != ViaEval {
		sc.fn = "" // a new shell process does not know the functions of this one
	}
	sc.via = via
	sc.depth++
	sc.dynamic = sc.dynamic || dynamic
	return w.stmts(f.Stmts, sc, st)
}

// bracketDepth is the deepest nesting of (, { and [ in text, ignoring quoting: an estimate
// that only has to catch pathological input cheaply.
func bracketDepth(text string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '(', '{', '[':
			depth++
			deepest = max(deepest, depth)
		case ')', '}', ']':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (w *walker) stmts(list []*syntax.Stmt, sc scope, st *state) error {
	for _, s := range list {
		if err := w.stmt(s, sc, st); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) stmt(s *syntax.Stmt, sc scope, st *state) error {
	if s.Background || s.Coprocess || s.Disown {
		st = st.clone() // an asynchronous job runs in a subshell: its cd does not leak out
		sc.forked = true
	}
	dirBefore := st.dir
	var consumed map[*syntax.Redirect]bool
	if len(s.Redirs) > 0 {
		consumed = map[*syntax.Redirect]bool{} // heredocs parsed as a shell payload
	}
	if s.Cmd != nil {
		if err := w.command(s.Cmd, s, sc, st, consumed); err != nil {
			return err
		}
	}
	return w.redirects(s.Redirs, sc, st, dirBefore, consumed)
}

func (w *walker) command(cmd syntax.Command, s *syntax.Stmt, sc scope, st *state, consumed map[*syntax.Redirect]bool) error {
	switch x := cmd.(type) {
	case *syntax.CallExpr:
		return w.call(x, s, sc, st, consumed)
	case *syntax.BinaryCmd:
		if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
			return w.pipeline(x, sc, st)
		}
		if err := w.stmt(x.X, sc, st); err != nil {
			return err
		}
		second := sc
		second.branch = true // x && y, x || y: y may not run
		return w.stmt(x.Y, second, st)
	case *syntax.Subshell:
		sub := sc
		sub.via = ViaSubshell
		sub.forked = true
		return w.stmts(x.Stmts, sub, st.clone())
	case *syntax.Block:
		return w.stmts(x.Stmts, sc, st)
	case *syntax.IfClause:
		return w.ifClause(x, sc, st)
	case *syntax.WhileClause:
		if err := w.stmts(x.Cond, sc, st); err != nil {
			return err
		}
		body := st.clone()
		loop := sc
		loop.branch = true
		if err := w.stmts(x.Do, loop, body); err != nil {
			return err
		}
		st.merge(st.clone(), body)
		return nil
	case *syntax.ForClause:
		body := st.clone()
		inLoop := sc
		inLoop.branch = true
		switch loop := x.Loop.(type) {
		case *syntax.WordIter:
			for _, item := range loop.Items {
				if err := w.substs(item, sc, st); err != nil {
					return err
				}
			}
			if loop.Name != nil {
				st.unset(loop.Name.Value)
				body.unset(loop.Name.Value)
			}
		case *syntax.CStyleLoop:
			for _, e := range []syntax.ArithmExpr{loop.Init, loop.Cond, loop.Post} {
				if e != nil {
					if err := w.substs(e, sc, st); err != nil {
						return err
					}
				}
			}
		}
		if err := w.stmts(x.Do, inLoop, body); err != nil {
			return err
		}
		st.merge(st.clone(), body)
		return nil
	case *syntax.CaseClause:
		if x.Word != nil {
			if err := w.substs(x.Word, sc, st); err != nil {
				return err
			}
		}
		outcomes := []*state{st.clone()} // no pattern matched
		for _, item := range x.Items {
			for _, p := range item.Patterns {
				if err := w.substs(p, sc, st); err != nil {
					return err
				}
			}
			branch := st.clone()
			arm := sc
			arm.branch = true
			if err := w.stmts(item.Stmts, arm, branch); err != nil {
				return err
			}
			outcomes = append(outcomes, branch)
		}
		st.merge(outcomes...)
		return nil
	case *syntax.FuncDecl:
		// The body is judged where it is defined, whether or not the line calls it.
		body := sc
		body.via = ViaFunction
		body.fn, body.forked, body.branch = "", false, false
		if x.Name != nil {
			body.fn = x.Name.Value
		}
		if x.Body == nil {
			return nil
		}
		return w.stmt(x.Body, body, st.clone())
	case *syntax.ArithmCmd:
		if x.X == nil {
			return nil
		}
		return w.substs(x.X, sc, st)
	case *syntax.TestClause:
		if x.X == nil {
			return nil
		}
		return w.substs(x.X, sc, st)
	case *syntax.LetClause:
		for _, e := range x.Exprs {
			if err := w.substs(e, sc, st); err != nil {
				return err
			}
		}
		return nil
	case *syntax.DeclClause:
		return w.decl(x, s, sc, st)
	case *syntax.TimeClause:
		if x.Stmt == nil {
			return nil
		}
		timed := sc
		if n := len(sc.wrappers); n == 0 || sc.wrappers[n-1] != "time" { // `time time x` times once
			timed.wrappers = append(slices.Clip(sc.wrappers), "time")
		}
		if _, ok := x.Stmt.Cmd.(*syntax.CallExpr); ok {
			timed.timeAt = x.Time
		}
		return w.stmt(x.Stmt, timed, st)
	case *syntax.CoprocClause:
		if x.Stmt == nil {
			return nil
		}
		sub := sc
		sub.via = ViaSubshell
		sub.forked = true
		return w.stmt(x.Stmt, sub, st.clone())
	case *syntax.TestDecl:
		if x.Body == nil {
			return nil
		}
		return w.stmt(x.Body, sc, st.clone())
	}
	return fmt.Errorf("unsupported shell construct %T", cmd)
}

// pipeline walks every element of a pipeline; each runs in its own subshell.
func (w *walker) pipeline(x *syntax.BinaryCmd, sc scope, st *state) error {
	var elems []*syntax.Stmt
	var collect func(s *syntax.Stmt)
	collect = func(s *syntax.Stmt) {
		if b, ok := s.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) && len(s.Redirs) == 0 && !s.Negated {
			collect(b.X)
			collect(b.Y)
			return
		}
		elems = append(elems, s)
	}
	collect(x.X)
	collect(x.Y)
	sub := sc
	sub.via = ViaPipeline
	sub.forked = true
	for i, e := range elems {
		w.stdinShell = nil
		if err := w.stmt(e, sub, st.clone()); err != nil {
			return err
		}
		if i > 0 {
			if err := w.pipedScript(elems[i-1], sub, st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) ifClause(x *syntax.IfClause, sc scope, st *state) error {
	if err := w.stmts(x.Cond, sc, st); err != nil {
		return err
	}
	arm := sc
	arm.branch = true
	then := st.clone()
	if err := w.stmts(x.Then, arm, then); err != nil {
		return err
	}
	other := st.clone()
	if x.Else != nil {
		if err := w.ifClause(x.Else, arm, other); err != nil {
			return err
		}
	}
	st.merge(then, other)
	return nil
}

// substs walks every command substitution and process substitution inside n; they run in a
// subshell of the current shell.
func (w *walker) substs(n syntax.Node, sc scope, st *state) error {
	if plainWord(n) {
		return nil // nothing to walk, and the walk's closure would be allocated for every word
	}
	var err error
	syntax.Walk(n, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch x := n.(type) {
		case *syntax.CmdSubst:
			err = w.substitution(x.Stmts, sc, st)
			return false
		case *syntax.ProcSubst:
			err = w.substitution(x.Stmts, sc, st)
			return false
		}
		return true
	})
	return err
}

// plainWord reports whether n is a word of literal and quoted text only, which holds no
// substitution; most words are.
func plainWord(n syntax.Node) bool {
	word, ok := n.(*syntax.Word)
	if !ok || word == nil {
		return false
	}
	for _, p := range word.Parts {
		switch x := p.(type) {
		case *syntax.Lit, *syntax.SglQuoted:
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				if _, ok := q.(*syntax.Lit); !ok {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

func (w *walker) substitution(list []*syntax.Stmt, sc scope, st *state) error {
	if sc.depth+1 > w.opts.MaxDepth {
		return fmt.Errorf("substitution nested deeper than %d levels", w.opts.MaxDepth)
	}
	sc.via = ViaSubstitution
	sc.forked = true
	sc.depth++
	sc.timeAt = syntax.Pos{}
	return w.stmts(list, sc, st.clone())
}

// span returns the span of n in the original line.
func (sc scope) span(start, end syntax.Pos) cavra.Span {
	if sc.override != nil {
		return *sc.override
	}
	return cavra.Span{Start: int(start.Offset()), End: int(end.Offset())}
}

// text returns the source text between two positions, clamped to the source.
func (sc scope) text(start, end syntax.Pos) string {
	s, e := int(start.Offset()), int(end.Offset())
	if s < 0 || s > len(sc.src) {
		return ""
	}
	if e < s {
		e = s
	}
	if e > len(sc.src) {
		e = len(sc.src)
	}
	return sc.src[s:e]
}

// stmtSpanEnd is where a simple command's span ends: its last word or redirection, but a
// heredoc ends at its delimiter word, not its body.
func stmtSpanEnd(s *syntax.Stmt, end syntax.Pos) syntax.Pos {
	for _, r := range s.Redirs {
		e := r.End()
		if r.Hdoc != nil && r.Word != nil {
			e = r.Word.End()
		}
		if e.After(end) {
			end = e
		}
	}
	return end
}

func stmtSpanStart(s *syntax.Stmt, start syntax.Pos) syntax.Pos {
	for _, r := range s.Redirs {
		if p := r.Pos(); start.After(p) {
			start = p
		}
	}
	return start
}

func (w *walker) emit(c cavra.SimpleCommand) error {
	if len(w.res.Commands) >= maxCommands {
		return fmt.Errorf("line yields more than %d commands", maxCommands)
	}
	w.res.Commands = append(w.res.Commands, c)
	return nil
}

// redirects records the files a statement's redirections touch and walks substitutions in
// their words.
func (w *walker) redirects(redirs []*syntax.Redirect, sc scope, st *state, dir string, consumed map[*syntax.Redirect]bool) error {
	for _, r := range redirs {
		if consumed[r] {
			continue
		}
		if r.Word != nil {
			if err := w.substs(r.Word, sc, st); err != nil {
				return err
			}
		}
		if r.Hdoc != nil {
			if err := w.substs(r.Hdoc, sc, st); err != nil {
				return err
			}
		}
		if r.Word == nil || sc.remote {
			continue
		}
		var ops []cavra.FileOperation
		switch r.Op {
		case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.AppClob,
			syntax.RdrAll, syntax.RdrAllClob, syntax.AppAll, syntax.AppAllClob:
			ops = []cavra.FileOperation{cavra.FileWrite}
		case syntax.RdrIn:
			ops = []cavra.FileOperation{cavra.FileRead}
		case syntax.RdrInOut:
			ops = []cavra.FileOperation{cavra.FileRead, cavra.FileWrite}
		case syntax.DplOut, syntax.DplIn:
			// 2>&1 and >&- duplicate or close descriptors; >&file (bash) writes a file.
			v := w.wordString(r.Word, sc, st)
			if v.val == "-" || isDigits(strings.TrimSuffix(v.val, "-")) {
				continue
			}
			if r.Op == syntax.DplOut {
				ops = []cavra.FileOperation{cavra.FileWrite}
			} else {
				ops = []cavra.FileOperation{cavra.FileRead}
			}
		default: // heredocs and here-strings feed text, not files
			continue
		}
		v := w.wordString(r.Word, sc, st)
		for _, op := range ops {
			w.res.Files = append(w.res.Files, cavra.FileOp{Op: op, Path: paths.Resolve(v.val, dir, sc.home), Raw: v.val})
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
