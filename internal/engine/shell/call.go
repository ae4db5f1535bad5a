package shell

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/slab"
)

// cmdCtx carries what building the simple commands of one CallExpr needs.
type cmdCtx struct {
	sc       scope
	st       *state
	stmt     *syntax.Stmt // gives stdin redirections (heredocs); nil for argv built by xargs or find
	consumed map[*syntax.Redirect]bool
	// payloadWords are words parsed again as shell text: their substitutions are found by that
	// parse, so the outer walk skips them rather than report them twice.
	payloadWords map[syntax.Pos]bool
	span         cavra.Span
}

func (w *walker) call(x *syntax.CallExpr, s *syntax.Stmt, sc scope, st *state, consumed map[*syntax.Redirect]bool) error {
	start := len(w.res.Commands)
	defer w.sortFrom(start)
	if len(x.Args) == 0 {
		// NAME=value alone sets shell variables.
		for _, a := range x.Assigns {
			if err := w.substs(a, sc, st); err != nil {
				return err
			}
			w.assign(a, sc, st)
		}
		return nil
	}
	env := sc.env
	if len(x.Assigns) > 0 {
		env = maps.Clone(sc.env)
		if env == nil {
			env = map[string]string{}
		}
		for _, a := range x.Assigns {
			if a.Name == nil {
				continue
			}
			env[a.Name.Value] = w.assignValue(a, sc, st).val
		}
	}
	argv := slab.Take(&w.fieldBuf, len(x.Args)) // most words are one field
	for i, word := range x.Args {
		// A program name made by a substitution stays unknown, even $(echo rm): the engine asks
		// before running a program it cannot name, which is stricter than naming it.
		w.noFold = i == 0
		argv = w.fields(word, sc, st, argv)
	}
	w.noFold = false
	spanStart := stmtSpanStart(s, x.Pos())
	if sc.timeAt.IsValid() && spanStart.After(sc.timeAt) {
		spanStart = sc.timeAt // `time cmd`: the span covers the keyword, like any wrapper's
	}
	cx := &append(slab.Take(&w.ctxBuf, 1), cmdCtx{sc: sc, st: st, stmt: s, consumed: consumed,
		span: sc.span(spanStart, stmtSpanEnd(s, x.End()))})[0]
	sc.timeAt = syntax.Pos{}
	if err := w.simple(argv, env, sc.wrappers, sc.via, cx); err != nil {
		return err
	}
	// Substitutions run in this shell before the command, without its wrappers or prefix env.
	for _, a := range x.Assigns {
		if err := w.substs(a, sc, st); err != nil {
			return err
		}
	}
	for _, word := range x.Args {
		if cx.payloadWords[word.Pos()] {
			continue
		}
		if err := w.substs(word, sc, st); err != nil {
			return err
		}
	}
	return nil
}

// sortFrom puts the commands emitted since start in source order. Commands of one payload share
// its span, and the stable sort keeps their own order.
func (w *walker) sortFrom(start int) {
	if len(w.res.Commands)-start > 1 {
		slices.SortStableFunc(w.res.Commands[start:], func(a, b cavra.SimpleCommand) int {
			return cmp.Compare(a.Span.Start, b.Span.Start)
		})
	}
}

func (w *walker) assignValue(a *syntax.Assign, sc scope, st *state) field {
	switch {
	case a.Array != nil:
		return field{val: sc.text(a.Array.Pos(), a.Array.End()), dyn: true}
	case a.Value != nil:
		return w.wordString(a.Value, sc, st)
	}
	return field{}
}

// assign records a shell variable assignment: a fully known value is remembered, anything else
// makes the variable unknown.
func (w *walker) assign(a *syntax.Assign, sc scope, st *state) {
	if a.Name == nil || a.Naked {
		return
	}
	name := a.Name.Value
	if a.Array != nil || a.Index != nil {
		st.unset(name)
		return
	}
	v := w.assignValue(a, sc, st)
	if v.dyn {
		st.unset(name)
		return
	}
	if a.Append {
		old, ok := st.lookup(name, sc)
		if !ok {
			st.unset(name)
			return
		}
		v.val = old + v.val
	}
	st.set(name, v.val)
}

// decl handles declare, export, local, readonly, typeset and nameref: a builtin command that
// also assigns.
func (w *walker) decl(x *syntax.DeclClause, s *syntax.Stmt, sc scope, st *state) error {
	start := len(w.res.Commands)
	defer w.sortFrom(start)
	argv := []field{{val: x.Variant.Value}}
	for _, a := range x.Args {
		switch {
		case a.Naked && a.Name != nil:
			argv = append(argv, field{val: a.Name.Value})
		case a.Naked && a.Value != nil:
			argv = w.fields(a.Value, sc, st, argv)
		case a.Name != nil:
			v := w.assignValue(a, sc, st)
			prefix := a.Name.Value + "="
			if a.Append {
				prefix = a.Name.Value + "+="
			}
			argv = append(argv, field{val: prefix + v.val, dyn: v.dyn})
		}
	}
	c := w.newCommand(argv, sc.env, sc.wrappers, sc.via, sc, st.dir, sc.span(stmtSpanStart(s, x.Pos()), stmtSpanEnd(s, x.End())))
	if err := w.emit(c); err != nil {
		return err
	}
	for _, a := range x.Args {
		if err := w.substs(a, sc, st); err != nil {
			return err
		}
	}
	for _, a := range x.Args {
		w.assign(a, sc, st)
	}
	return nil
}

func (w *walker) newCommand(argv []field, env map[string]string, wrappers []string, via string, sc scope, dir string, span cavra.Span) cavra.SimpleCommand {
	c := cavra.SimpleCommand{
		Argv:    make([]string, len(argv)),
		Program: program(argv[0]),
		Dir:     dir,
		Via:     via,
		Dynamic: sc.dynamic,
		Span:    span,
	}
	for i, f := range argv {
		c.Argv[i] = f.val
		c.Dynamic = c.Dynamic || f.dyn
	}
	if len(wrappers) > 0 {
		c.Wrappers = slices.Clone(wrappers)
	}
	if len(env) > 0 {
		c.Env = maps.Clone(env)
	}
	if sc.remote {
		c.Dir = ""
	}
	return c
}

// fieldsSpan is the span of the words that produced fs.
func (cx *cmdCtx) fieldsSpan(fs []field) cavra.Span {
	if len(fs) == 0 {
		return cx.span
	}
	return cx.sc.span(fs[0].start, fs[len(fs)-1].end)
}

func (cx *cmdCtx) markPayload(fs ...field) {
	if cx.payloadWords == nil {
		cx.payloadWords = map[syntax.Pos]bool{}
	}
	for _, f := range fs {
		cx.payloadWords[f.start] = true
	}
}

func joinFields(fs []field) (string, bool) {
	var b strings.Builder
	dyn := false
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.val)
		dyn = dyn || f.dyn
	}
	return b.String(), dyn
}

// simple strips the wrappers from argv, emits the command that remains and walks whatever it
// runs in turn (shell payloads, find -exec commands).
func (w *walker) simple(argv []field, env map[string]string, wrappers []string, via string, cx *cmdCtx) error {
	dir := cx.st.dir
	wrappers = slices.Clip(wrappers)
	i := 0
	for i < len(argv) && !argv[i].dyn {
		name := program(argv[i])
		spec, ok := wrapperSpecs[name]
		if !ok {
			break
		}
		r := spec.strip(argv[i+1:])
		if r.stop {
			break
		}
		next := i + 1 + r.next
		if r.split != nil {
			// env -S 'cmd args' rest...: the string is split into words; parse it as shell text.
			text, dyn := joinFields(append([]field{*r.split}, argv[next:]...))
			cx.markPayload(*r.split)
			sc := cx.sc
			sc.wrappers = append(wrappers, name)
			sc.env = r.applyEnv(env)
			st := cx.st.clone()
			if r.chdir != "" {
				st.moveTo(resolveDir(r.chdir, dir, cx.sc.home))
			}
			return w.payload(text, sc, st, ViaEnvSplit, cx.fieldsSpan(argv[i:]), dyn)
		}
		if next >= len(argv) {
			break // the wrapper runs nothing else: it is the program
		}
		env = r.applyEnv(env)
		if r.chdir != "" {
			dir = resolveDir(r.chdir, dir, cx.sc.home)
		}
		if spec.via != "" {
			via = spec.via
		}
		wrappers = append(wrappers, name)
		i = next
	}
	cmd := argv[i:]
	if len(cmd) == 0 || cmd[0].val == "" {
		return nil // nothing runs: an empty command name is "command not found"
	}
	// Only a direct call runs the function: sudo f, command f or env f run a program named f.
	if sc := cx.sc; i == 0 && sc.fn != "" && sc.forked && !sc.branch && !cmd[0].dyn && cmd[0].val == sc.fn {
		via = ViaForkBomb
	}
	c := w.newCommand(cmd, env, wrappers, via, cx.sc, dir, cx.span)
	if err := w.emit(c); err != nil {
		return err
	}
	return w.special(c, cmd, env, wrappers, cx)
}

// special walks what the command runs itself: shell payloads, find -exec commands, remote
// commands; and applies its effect on the shell state (cd, unset, read).
func (w *walker) special(c cavra.SimpleCommand, cmd []field, env map[string]string, wrappers []string, cx *cmdCtx) error {
	nested := cx.sc
	nested.wrappers = wrappers
	nested.env = env
	args := cmd[1:]
	switch prog := c.Program; {
	case shellPrograms[prog] || looksLikeShellVariable(cmd[0]):
		payload, stdin, operands := shellInvocation(args)
		// Through xargs the shell gets more arguments, unknown here, after those written.
		moreArgs := slices.Contains(wrappers, "xargs")
		if payload >= 0 {
			pf := args[payload]
			cx.markPayload(pf)
			nst := cx.stateFor(c)
			nst.bindPositional(args[payload+1:], moreArgs)
			return w.payload(pf.val, nested, nst, ViaShellC, cx.fieldsSpan(args[payload:payload+1]), pf.dyn)
		}
		if !stdin {
			return nil
		}
		if r := stdinRedirect(cx.stmt); r != nil {
			body, span := w.heredocText(r, cx)
			cx.consumed[r] = true
			nst := cx.stateFor(c)
			nst.bindPositional(append([]field{{val: prog}}, args[operands:]...), moreArgs)
			return w.payload(body.val, nested, nst, ViaHeredoc, span, body.dyn)
		}
		w.stdinShell = &pendingShell{sc: nested, st: cx.stateFor(c)}
	case prog == "eval":
		if len(args) > 0 && args[0].val == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			return nil
		}
		text, dyn := joinFields(args)
		cx.markPayload(args...)
		// eval runs in the current shell: its cd and assignments carry on.
		return w.payload(text, nested, cx.st, ViaEval, cx.fieldsSpan(args), dyn)
	case prog == "su" || prog == "runuser" || prog == "script":
		if pf, ok := suCommand(args); ok {
			cx.markPayload(pf)
			return w.payload(pf.val, nested, cx.stateFor(c), ViaShellC, cx.fieldsSpan([]field{pf}), pf.dyn)
		}
	case prog == "ssh":
		return w.ssh(c, args, nested, cx)
	case prog == "autossh":
		return w.autossh(c, args, nested, cx)
	case prog == "scp" || prog == "sftp":
		return w.sshClient(c, prog, args, nested, cx)
	case prog == "rsync":
		shells, paths := rsyncArgs(args)
		if len(shells) == 0 {
			if v, ok := lookupEnv("RSYNC_RSH", env, cx.st); ok && strings.TrimSpace(v) != "" {
				shells = []field{{val: v}}
			}
		}
		for _, f := range shells {
			span := cx.span
			if f.end.IsValid() {
				cx.markPayload(f)
				span = cx.fieldsSpan([]field{f})
			}
			if err := w.payload(f.val, nested, cx.stateFor(c), ViaSSHCommand, span, f.dyn); err != nil {
				return err
			}
		}
		for _, f := range paths {
			if strings.TrimSpace(f.val) == "" {
				continue
			}
			cx.markPayload(f)
			if err := w.onHost(f.val, f.dyn, nested, cx.fieldsSpan([]field{f})); err != nil {
				return err
			}
		}
	case containerRunners[prog]:
		return w.containerExec(prog, args, wrappers, cx)
	case prog == "git" || prog == "hub":
		return w.gitCommands(c, args, env, nested, cx)
	case prog == "watch":
		if rest := watchCommand(args); len(rest) > 0 {
			text, dyn := joinFields(rest)
			cx.markPayload(rest...)
			return w.payload(text, nested, cx.stateFor(c), ViaShellC, cx.fieldsSpan(rest), dyn)
		}
	case prog == "trap":
		rest := skipOptions(args)
		if len(rest) >= 2 && rest[0].val != "-" && rest[0].val != "" {
			cx.markPayload(rest[0])
			return w.payload(rest[0].val, nested, cx.stateFor(c), ViaTrap, cx.fieldsSpan(rest[:1]), rest[0].dyn)
		}
	case prog == "alias":
		for _, a := range args {
			_, value, ok := strings.Cut(a.val, "=")
			if !ok || strings.TrimSpace(value) == "" {
				continue
			}
			cx.markPayload(a)
			if err := w.payload(value, nested, cx.stateFor(c), ViaAlias, cx.fieldsSpan([]field{a}), a.dyn); err != nil {
				return err
			}
		}
	case prog == "find":
		return w.findExec(c, args, env, wrappers, cx)
	case prog == "cd" || prog == "pushd" || prog == "popd":
		if !cx.sc.remote {
			home, _ := cx.st.lookup("HOME", cx.sc) // cd alone goes to $HOME, which the line may set
			cx.st.chdir(prog, args, home)
		}
	case prog == "unset" || prog == "read" || prog == "readarray" || prog == "mapfile" || prog == "getopts":
		for _, a := range skipOptions(args) {
			cx.st.unset(a.val)
		}
	}
	return nil
}

// sshOptions walks the commands that ssh -o options make the ssh client run on this machine
// (ProxyCommand, LocalCommand, KnownHostsCommand: shell lines, whatever the destination), and
// returns the value of a RemoteCommand option, which runs on the remote host.
func (w *walker) sshOptions(c cavra.SimpleCommand, opts []field, nested scope, cx *cmdCtx) (*field, error) {
	var remote *field
	for _, o := range opts {
		key, value := splitSSHOption(o.val)
		if strings.TrimSpace(value) == "" || strings.EqualFold(value, "none") {
			continue
		}
		v := o
		v.val = value
		if key == "remotecommand" {
			remote = &v
			continue
		}
		if !sshOptionCommands[key] {
			continue
		}
		cx.markPayload(o)
		if err := w.payload(value, nested, cx.stateFor(c), ViaSSHCommand, cx.fieldsSpan([]field{o}), o.dyn); err != nil {
			return nil, err
		}
	}
	return remote, nil
}

// ssh walks what an ssh client runs: the commands of its -o options here, and its remote
// command on the host.
func (w *walker) ssh(c cavra.SimpleCommand, args []field, nested scope, cx *cmdCtx) error {
	opts, remote := sshArgs(args)
	remoteOption, err := w.sshOptions(c, opts, nested, cx)
	if err != nil {
		return err
	}
	if len(remote) == 0 && remoteOption != nil {
		remote = []field{*remoteOption} // ssh -o RemoteCommand='cmd' host
	}
	if len(remote) == 0 {
		return nil
	}
	text, dyn := joinFields(remote)
	cx.markPayload(remote...)
	return w.onHost(text, dyn, nested, cx.fieldsSpan(remote))
}

// onHost walks a shell line run on a remote host through ssh: "ssh" joins its wrappers, and it
// has no local directory, home or shell state.
func (w *walker) onHost(text string, dyn bool, nested scope, span cavra.Span) error {
	host := nested
	host.remote = true
	host.home = ""
	host.wrappers = append(slices.Clip(nested.wrappers), "ssh")
	return w.payload(text, host, &state{}, ViaSSH, span, dyn)
}

// autossh walks the ssh that autossh runs with its arguments (less autossh's own options), as a
// command of its own: AUTOSSH_PATH, if set, names the program run in place of ssh.
func (w *walker) autossh(c cavra.SimpleCommand, args []field, nested scope, cx *cmdCtx) error {
	sshArgv, stop := autosshArgs(args)
	if stop {
		return nil
	}
	prog := field{val: "ssh"}
	if v, ok := lookupEnv("AUTOSSH_PATH", nested.env, cx.st); ok && strings.TrimSpace(v) != "" {
		prog = optionValue(field{}, v)
	}
	return w.runs(c, append([]field{prog}, sshArgv...), nested, append(slices.Clip(nested.wrappers), "autossh"), c.Via, cx)
}

// sshClient walks what scp or sftp run besides the transfer: the commands of their -o options,
// the programs they run in place of ssh (-S, -D) and an sftp server command run on the host.
func (w *walker) sshClient(c cavra.SimpleCommand, prog string, args []field, nested scope, cx *cmdCtx) error {
	cl := sshClientArgs(prog, args)
	if _, err := w.sshOptions(c, cl.opts, nested, cx); err != nil {
		return err
	}
	for _, f := range cl.programs {
		// A path, run without a shell: the program is the whole value, and its words are not
		// parsed again (their substitutions are the outer walk's).
		if err := w.runs(c, []field{f}, nested, nested.wrappers, ViaSSHCommand, cx); err != nil {
			return err
		}
	}
	if f := cl.direct; f != nil && strings.TrimSpace(f.val) != "" {
		// sftp splits the value into a command and its arguments; parsing it as shell text
		// finds at least what that runs.
		cx.markPayload(*f)
		if err := w.payload(f.val, nested, cx.stateFor(c), ViaSSHCommand, cx.fieldsSpan([]field{*f}), f.dyn); err != nil {
			return err
		}
	}
	if f := cl.server; f != nil && strings.Contains(f.val, "/") {
		// sftp -s /path/to/sftp-server: a path is run by the remote shell, not as a subsystem.
		cx.markPayload(*f)
		return w.onHost(f.val, f.dyn, nested, cx.fieldsSpan([]field{*f}))
	}
	return nil
}

// runs walks argv as a command that c runs itself, without a shell (find -exec's way).
func (w *walker) runs(c cavra.SimpleCommand, argv []field, nested scope, wrappers []string, via string, cx *cmdCtx) error {
	if len(argv) == 0 || argv[0].val == "" {
		return nil
	}
	sc := nested
	sc.fn = "" // an exec'd program does not know this shell's functions
	if sc.depth++; sc.depth > w.opts.MaxDepth {
		return fmt.Errorf("%s command nested deeper than %d levels", c.Program, w.opts.MaxDepth)
	}
	span := cx.span
	if argv[0].end.IsValid() {
		span = cx.fieldsSpan(argv[:1])
	}
	sub := &cmdCtx{sc: sc, st: cx.stateFor(c), payloadWords: cx.payloadWords, span: span}
	err := w.simple(argv, nested.env, wrappers, via, sub)
	cx.payloadWords = sub.payloadWords
	return err
}

// stateFor returns the shell state a program run by c starts from: a copy of the current one,
// in c's directory (which a wrapper such as sudo -D or env -C may have changed).
func (cx *cmdCtx) stateFor(c cavra.SimpleCommand) *state {
	st := cx.st.clone()
	if c.Dir != "" && c.Dir != st.dir {
		st.moveTo(c.Dir)
	}
	return st
}

// looksLikeShellVariable reports whether an unknown program is probably a shell: $SHELL,
// ${BASH}, $(which bash). Its -c payload is then parsed too, since judging more is safe.
func looksLikeShellVariable(argv0 field) bool {
	return argv0.dyn && strings.Contains(strings.ToLower(argv0.val), "sh")
}

// findExec walks the commands of find's -exec, -execdir, -ok and -okdir actions.
func (w *walker) findExec(c cavra.SimpleCommand, args []field, env map[string]string, wrappers []string, cx *cmdCtx) error {
	for i := 0; i < len(args); i++ {
		switch args[i].val {
		case "-exec", "-execdir", "-ok", "-okdir":
		default:
			continue
		}
		j := i + 1
		for j < len(args) && args[j].val != ";" && !(args[j].val == "+" && args[j-1].val == "{}") {
			j++
		}
		if payload := args[i+1 : j]; len(payload) > 0 {
			sub := &cmdCtx{sc: cx.sc, st: cx.stateFor(c), payloadWords: cx.payloadWords, span: cx.fieldsSpan(payload)}
			if err := w.simple(payload, env, wrappers, ViaFindExec, sub); err != nil {
				return err
			}
			cx.payloadWords = sub.payloadWords
		}
		i = j
	}
	return nil
}

// pendingShell is a shell reading its script from stdin, met in a pipeline element: the
// element before it may be printing that script.
type pendingShell struct {
	sc scope
	st *state
}

// pipedScript parses the literal text that prev prints (echo, printf, cat of a heredoc) when
// the pipeline element after it was a shell reading its script from stdin.
func (w *walker) pipedScript(prev *syntax.Stmt, sc scope, st *state) error {
	pending := w.stdinShell
	w.stdinShell = nil
	if pending == nil {
		return nil
	}
	call, ok := prev.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return nil
	}
	var argv []field
	for _, word := range call.Args {
		argv = w.fields(word, sc, st, argv)
	}
	if len(argv) == 0 {
		return nil
	}
	var text field
	switch program(argv[0]) {
	case "echo":
		args := argv[1:]
		escapes := false
		for len(args) > 0 && isEchoFlags(args[0].val) {
			escapes = escapes || strings.Contains(args[0].val, "e")
			args = args[1:]
		}
		text.val, text.dyn = joinFields(args)
		if escapes {
			text.val = decodeANSIC(text.val)
		}
	case "printf":
		if len(argv) != 2 {
			return nil
		}
		text = argv[1]
		text.val = strings.ReplaceAll(decodeANSIC(text.val), "%%", "%")
	case "cat":
		if len(argv) != 1 {
			return nil
		}
		r := stdinRedirect(prev)
		if r == nil {
			return nil
		}
		cx := &cmdCtx{sc: sc, st: st}
		body, _ := w.heredocText(r, cx)
		text = body
	default:
		return nil
	}
	span := sc.span(stmtSpanStart(prev, call.Pos()), stmtSpanEnd(prev, call.End()))
	return w.payload(text.val, pending.sc, pending.st.clone(), ViaPipedScript, span, text.dyn)
}

func isEchoFlags(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, c := range s[1:] {
		if c != 'n' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// stdinRedirect returns the heredoc or here-string that feeds a statement's stdin, if any.
func stdinRedirect(s *syntax.Stmt) *syntax.Redirect {
	if s == nil {
		return nil
	}
	var found *syntax.Redirect
	for _, r := range s.Redirs {
		if r.N != nil && r.N.Value != "0" {
			continue
		}
		switch r.Op {
		case syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
			found = r
		case syntax.RdrIn, syntax.DplIn, syntax.RdrInOut:
			found = nil // a later redirection wins
		}
	}
	return found
}

// heredocText returns the text a heredoc or here-string feeds, and the span of its body.
func (w *walker) heredocText(r *syntax.Redirect, cx *cmdCtx) (field, cavra.Span) {
	if r.Op == syntax.WordHdoc {
		f := w.wordString(r.Word, cx.sc, cx.st)
		f.val += "\n"
		return f, cx.sc.span(r.Word.Pos(), r.Word.End())
	}
	if r.Hdoc == nil {
		return field{}, cx.sc.span(r.Pos(), r.End())
	}
	body := w.wordQuoted(r.Hdoc, heredocQuoting(r.Word), cx.sc, cx.st)
	if r.Op == syntax.DashHdoc {
		lines := strings.Split(body.val, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimLeft(l, "\t")
		}
		body.val = strings.Join(lines, "\n")
	}
	span := cx.sc.span(r.Hdoc.Pos(), r.Hdoc.End())
	if cx.sc.override == nil {
		// The body word's end covers the closing delimiter line; the span is the body alone.
		delim := w.wordString(r.Word, cx.sc, cx.st).val
		text := cx.sc.text(r.Hdoc.Pos(), r.Hdoc.End())
		if delim != "" && strings.HasSuffix(text, delim) {
			text = text[:len(text)-len(delim)]
		}
		span.End = span.Start + len(strings.TrimRight(text, " \t\n"))
	}
	return body, span
}

// bindPositional sets $0, $1, ... for a shell payload from the words after it. When more
// arguments follow that are not known (xargs appends its input), only the written ones are set.
func (st *state) bindPositional(args []field, more bool) {
	for k := range st.vars {
		if isDigits(k) || k == "@" || k == "*" || k == "#" {
			delete(st.vars, k)
		}
	}
	allKnown := !more
	var all []string
	for i, a := range args {
		if a.dyn {
			allKnown = false
			continue
		}
		st.set(itoa(i), a.val)
		if i > 0 {
			all = append(all, a.val)
		}
	}
	if !allKnown {
		return
	}
	st.set("*", strings.Join(all, " "))
	st.set("#", itoa(len(all)))
	if len(all) == 1 {
		// "$@" is one word per argument: only a single argument is exactly one known word.
		st.set("@", all[0])
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func resolveDir(p, dir, home string) string {
	st := &state{dir: dir}
	st.chdir("cd", []field{{val: p}}, home)
	return st.dir
}

// skipOptions drops leading -x options and a "--".
func skipOptions(args []field) []field {
	for len(args) > 0 {
		a := args[0].val
		if a == "--" {
			return args[1:]
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
	}
	return args
}
