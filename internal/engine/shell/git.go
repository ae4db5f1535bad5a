package shell

import (
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/cavra-dev/cavra"
)

// gitCommandKeys are the git configuration keys whose value is a command git runs through the
// shell, as "section.name" (a subsection, as in diff.NAME.textconv, is ignored). The sections
// alias (a value starting with "!") and pager (any value but a boolean) are handled apart.
var gitCommandKeys = map[string]bool{
	"core.sshcommand": true, "core.pager": true, "core.editor": true, "core.askpass": true,
	"core.fsmonitor": true, "core.gitproxy": true, "sequence.editor": true, "diff.external": true,
	"diff.textconv": true, "diff.command": true, "merge.driver": true, "filter.clean": true,
	"filter.smudge": true, "filter.process": true, "difftool.cmd": true, "mergetool.cmd": true,
	"browser.cmd": true, "man.cmd": true, "gpg.program": true, "gpg.defaultkeycommand": true,
	"interactive.difffilter": true, "uploadpack.packobjectshook": true, "remote.uploadpack": true,
	"remote.receivepack": true, "sendemail.sendmailcmd": true, "sendemail.tocmd": true,
	"sendemail.cccmd": true, "sendemail.headercmd": true,
}

// gitCommandEnv are the environment variables whose value is a command git runs.
var gitCommandEnv = []string{"GIT_SSH_COMMAND", "GIT_SSH", "GIT_PAGER", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
	"GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "GIT_PROXY_COMMAND", "PAGER", "EDITOR", "VISUAL"}

// gitGlobalValued are git's options before the subcommand that take a separate value.
var gitGlobalValued = []string{"-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--super-prefix", "--list-cmds"}

// gitSetting is one configuration value a git command line sets.
type gitSetting struct {
	key   string
	value field
	// fromEnv says the setting came through the environment (GIT_CONFIG_PARAMETERS,
	// GIT_CONFIG_COUNT, --config-env) rather than the line's own words.
	fromEnv bool
}

// maxEnvSettings bounds how many settings are read from GIT_CONFIG_COUNT or
// GIT_CONFIG_PARAMETERS.
const maxEnvSettings = 64

// gitCommands walks the shell commands that a git invocation would run from configuration given
// on the line (git -c core.pager=CMD, git config alias.x '!CMD', GIT_SSH_COMMAND=CMD git ...)
// and from ext:: remote URLs, so that they are judged like any other command. Configuration
// written with git config is judged where it is written, since its later use is out of sight.
func (w *walker) gitCommands(c cavra.SimpleCommand, args []field, env map[string]string, nested scope, cx *cmdCtx) error {
	var settings []gitSetting
	i := 0
	for i < len(args) {
		a := args[i].val
		if len(a) < 2 || a[0] != '-' {
			break
		}
		switch {
		case a == "-c" && i+1 < len(args):
			if key, value, ok := strings.Cut(args[i+1].val, "="); ok {
				f := args[i+1]
				f.val = value
				settings = append(settings, gitSetting{key: key, value: f})
			}
			i += 2
			continue
		case strings.HasPrefix(a, "--config-env="):
			// --config-env=KEY=ENVVAR takes the value from the environment.
			if key, name, ok := strings.Cut(strings.TrimPrefix(a, "--config-env="), "="); ok {
				if v, known := lookupEnv(name, env, cx.st); known {
					settings = append(settings, gitSetting{key: key, value: field{val: v, start: args[i].start, end: args[i].end}, fromEnv: true})
				}
			}
		case slices.Contains(gitGlobalValued, a) && i+1 < len(args):
			i += 2
			continue
		}
		i++
	}
	var sub field
	var rest []field
	if i < len(args) {
		sub, rest = args[i], args[i+1:]
	}
	if sub.val == "config" {
		if s, ok := gitConfigSet(rest); ok {
			settings = append(settings, s)
		}
	}
	for _, name := range gitCommandEnv {
		if v, ok := lookupEnv(name, env, cx.st); ok && strings.TrimSpace(v) != "" {
			settings = append(settings, gitSetting{key: name, value: field{val: v}})
		}
	}
	if params, ok := lookupEnv("GIT_CONFIG_PARAMETERS", env, cx.st); ok {
		settings = append(settings, gitConfigParameters(params)...)
	}
	if count, ok := lookupEnv("GIT_CONFIG_COUNT", env, cx.st); ok {
		n, _ := strconv.Atoi(count)
		for k := range min(n, maxEnvSettings) {
			key, okKey := lookupEnv("GIT_CONFIG_KEY_"+itoa(k), env, cx.st)
			value, okValue := lookupEnv("GIT_CONFIG_VALUE_"+itoa(k), env, cx.st)
			if okKey && okValue {
				settings = append(settings, gitSetting{key: key, value: field{val: value}, fromEnv: true})
			}
		}
	}
	hasExt := slices.ContainsFunc(args, func(a field) bool { return strings.HasPrefix(a.val, "ext::") })
	if len(settings) == 0 && !hasExt {
		return nil
	}
	st := cx.stateFor(c)
	if err := w.gitEnvSettings(settings, nested, st, cx); err != nil {
		return err
	}
	for _, s := range settings {
		span := cx.span
		if s.value.end.IsValid() {
			span = cx.fieldsSpan([]field{s.value})
		}
		if strings.HasPrefix(s.value.val, "ext::") {
			if err := w.extCommand(s.value, env, nested, st, cx); err != nil {
				return err
			}
			continue
		}
		text, ok := gitCommandValue(s.key, s.value.val)
		if !ok {
			// git -c alias.p='push -f' p origin main: the alias runs git with its words.
			name, isAlias := strings.CutPrefix(strings.ToLower(s.key), "alias.")
			if !isAlias || name != strings.ToLower(sub.val) || sub.dyn {
				continue
			}
			text = "git " + s.value.val
			for _, r := range rest {
				q, err := syntax.Quote(r.val, syntax.LangBash)
				if err != nil {
					break
				}
				text += " " + q
			}
		}
		if s.value.end.IsValid() {
			cx.markPayload(s.value)
		}
		if err := w.payload(text, nested, st.clone(), ViaGit, span, s.value.dyn); err != nil {
			return err
		}
	}
	for _, a := range args {
		if hasExt && strings.HasPrefix(a.val, "ext::") {
			if err := w.extCommand(a, env, nested, st, cx); err != nil {
				return err
			}
		}
	}
	return nil
}

// gitEnvSettings emits the configuration that reaches git through its environment as the
// `git -c KEY=VALUE ...` command it stands for (Via "git"), so that rules written against -c
// (protocol.ext.allow=always, core.hooksPath=..., alias.x=...) judge it too. The command is
// emitted, not walked: the settings' own shell commands are walked once, by gitCommands.
func (w *walker) gitEnvSettings(settings []gitSetting, nested scope, st *state, cx *cmdCtx) error {
	argv := []field{{val: "git"}}
	for _, s := range settings {
		if s.fromEnv {
			argv = append(argv, field{val: "-c"}, field{val: s.key + "=" + s.value.val, dyn: s.value.dyn})
		}
	}
	if len(argv) == 1 {
		return nil
	}
	return w.emit(w.newCommand(argv, nil, nested.wrappers, ViaGit, nested, st.dir, cx.span))
}

// gitConfigParameters parses GIT_CONFIG_PARAMETERS, the variable through which git passes -c
// options to the git commands it runs: entries separated by white space, each either
// 'KEY=VALUE' (the older form) or 'KEY'='VALUE' (git 2.31 and later), single-quoted the way
// git's sq_quote does it (a quote or "!" inside is written by closing the quotes, a backslash
// and the character, and reopening them). 'KEY'= alone, an implicit boolean, runs nothing and
// is skipped. Git refuses to run on text it cannot parse, and so does this.
func gitConfigParameters(s string) []gitSetting {
	var out []gitSetting
	for len(out) < maxEnvSettings {
		s = strings.TrimLeft(s, " \t\n\r\v\f")
		if s == "" {
			break
		}
		key, rest, ok := sqDequote(s)
		if !ok {
			break
		}
		switch {
		case rest == "" || strings.IndexByte(" \t\n\r\v\f", rest[0]) >= 0:
			if k, v, ok := strings.Cut(key, "="); ok {
				out = append(out, gitSetting{key: strings.TrimSpace(k), value: field{val: v}, fromEnv: true})
			}
		case rest[0] == '=' && strings.HasPrefix(rest[1:], "'"):
			value, after, ok := sqDequote(rest[1:])
			if !ok || (after != "" && strings.IndexByte(" \t\n\r\v\f", after[0]) < 0) {
				return out
			}
			out = append(out, gitSetting{key: key, value: field{val: value}, fromEnv: true})
			rest = after
		case rest[0] == '=':
			rest = rest[1:] // 'KEY'= : an implicit boolean
			if rest != "" && strings.IndexByte(" \t\n\r\v\f", rest[0]) < 0 {
				return out
			}
		default:
			return out
		}
		s = rest
	}
	return out
}

// sqDequote reads one single-quoted string from the start of s, as git's sq_dequote_step does:
// the text between quotes, where a backslash and a quote or "!" between two quoted parts stand
// for that character. It returns the string and the text after it.
func sqDequote(s string) (string, string, bool) {
	if !strings.HasPrefix(s, "'") {
		return "", s, false
	}
	var b strings.Builder
	i := 1
	for {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return "", s, false // unterminated
		}
		b.WriteString(s[i : i+j])
		i += j + 1
		// Out of the quotes: \' or \! followed by a quote resumes them.
		if i+2 < len(s) && s[i] == '\\' && (s[i+1] == '\'' || s[i+1] == '!') && s[i+2] == '\'' {
			b.WriteByte(s[i+1])
			i += 3
			continue
		}
		return b.String(), s[i:], true
	}
}

// lookupEnv returns a variable git would see: from the command's environment, or a variable the
// line set earlier (which git sees when it is exported; assuming so judges more, not less).
func lookupEnv(name string, env map[string]string, st *state) (string, bool) {
	if v, ok := env[name]; ok {
		return v, true
	}
	v, ok := st.vars[name]
	return v, ok
}

// gitConfigSet returns the key and value that `git config [OPTIONS] KEY VALUE` or `git config
// set KEY VALUE` writes; reading, listing and unsetting write nothing.
func gitConfigSet(args []field) (gitSetting, bool) {
	if len(args) > 0 && !strings.HasPrefix(args[0].val, "-") {
		switch args[0].val {
		case "set":
			args = args[1:]
		case "get", "list", "unset", "rename-section", "remove-section", "edit":
			return gitSetting{}, false
		}
	}
	var ops []field
	for i := 0; i < len(args); i++ {
		switch a := args[i].val; {
		case a == "--":
			ops = append(ops, args[i+1:]...)
			i = len(args)
		case a == "-f" || a == "--file" || a == "--blob" || a == "--type" || a == "--default" || a == "--comment" || a == "--value":
			i++
		case a == "--get" || a == "--get-all" || a == "--get-regexp" || a == "--get-urlmatch" || a == "--unset" ||
			a == "--unset-all" || a == "-l" || a == "--list" || a == "--rename-section" || a == "--remove-section" ||
			a == "-e" || a == "--edit" || a == "--get-color" || a == "--get-colorbool":
			return gitSetting{}, false
		case strings.HasPrefix(a, "-"):
		default:
			ops = append(ops, args[i])
		}
	}
	if len(ops) < 2 {
		return gitSetting{}, false
	}
	return gitSetting{key: ops[0].val, value: ops[1]}, true
}

// gitCommandValue returns the shell command a configuration value makes git run, if any. Git's
// environment variables (GIT_PAGER, ...) are passed as keys too.
func gitCommandValue(key, value string) (string, bool) {
	if strings.TrimSpace(value) == "" {
		return "", false
	}
	if slices.Contains(gitCommandEnv, key) {
		return value, true
	}
	key = strings.ToLower(key)
	section, rest, _ := strings.Cut(key, ".")
	name := rest
	if j := strings.LastIndexByte(rest, '.'); j >= 0 {
		name = rest[j+1:]
	}
	switch {
	case section == "alias" || (section == "credential" && name == "helper"):
		// A value starting with ! is a shell command; otherwise git words or a helper's name.
		if cmd, ok := strings.CutPrefix(value, "!"); ok {
			return cmd, true
		}
		if section == "credential" && strings.Contains(value, "/") {
			return value, true // a helper given by its path
		}
		return "", false
	case section == "pager" || key == "core.fsmonitor":
		if isGitBool(value) {
			return "", false
		}
		return value, true
	case gitCommandKeys[section+"."+name]:
		return value, true
	}
	return "", false
}

func isGitBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "1", "0":
		return true
	}
	return false
}

// extCommand walks the command of an ext:: remote URL (git clone 'ext::sh -c touch% /tmp/x'),
// which git runs directly: words split at spaces, "% " is a space, "%%" a percent sign.
func (w *walker) extCommand(f field, env map[string]string, nested scope, st *state, cx *cmdCtx) error {
	argv := extArgv(f)
	if len(argv) == 0 {
		return nil
	}
	sc := nested
	sc.depth++
	if sc.depth > w.opts.MaxDepth {
		return nil // a payload this deep is refused where it is parsed; an ext:: word cannot nest itself
	}
	sub := &cmdCtx{sc: sc, st: st.clone(), payloadWords: cx.payloadWords, span: cx.fieldsSpan([]field{f})}
	if err := w.simple(argv, env, nested.wrappers, ViaGit, sub); err != nil {
		return err
	}
	cx.payloadWords = sub.payloadWords
	return nil
}

func extArgv(f field) []field {
	spec := strings.TrimPrefix(f.val, "ext::")
	var out []field
	var cur strings.Builder
	started := false
	flush := func() {
		if !started {
			return
		}
		v := cur.String()
		cur.Reset()
		started = false
		if strings.HasPrefix(v, "%G") || strings.HasPrefix(v, "%V") {
			return // git's own arguments (repository, vhost), not passed to the command
		}
		nf := field{val: v, dyn: f.dyn, start: f.start, end: f.end}
		if len(out) == 0 {
			nf.progFrom = strings.LastIndexByte(v, '/') + 1
		}
		out = append(out, nf)
	}
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		switch {
		case c == ' ':
			flush()
			continue
		case c == '%' && i+1 < len(spec):
			i++
			switch spec[i] {
			case ' ', '%':
				cur.WriteByte(spec[i])
			case 's':
				cur.WriteString("upload-pack")
			case 'S':
				cur.WriteString("git-upload-pack")
			default:
				cur.WriteByte('%')
				cur.WriteByte(spec[i])
			}
		default:
			cur.WriteByte(c)
		}
		started = true
	}
	flush()
	return out
}
