package shell

import (
	"maps"
	"slices"
	"strings"

	"github.com/cavra-dev/cavra"
)

// wrapperSpec describes a program that runs another program given as its remaining arguments,
// so that its options can be skipped to find the command it wraps.
type wrapperSpec struct {
	argShort  string   // short options that take a value: -u USER, -uUSER
	argLong   []string // long options that take a value when not given as --name=value
	stopShort string   // short options under which no command runs (command -v, sudo -l)
	stopLong  []string
	// optShort are short options whose value, if any, is the rest of the word (sshpass -eVAR).
	optShort string
	// operands is how many operands come before the command (timeout's DURATION).
	operands int
	// assignments says NAME=VALUE operands before the command set its environment.
	assignments bool
	// noOptions says the first argument is already the command (builtin, busybox).
	noOptions bool
	// via is the mechanism recorded on the wrapped command, when it is not a plain prefix.
	via string
	// chdir lists the options that set the wrapped command's directory.
	chdir []string
	// envOptions says -i and -u NAME edit the environment (env's meaning, not sudo's).
	envOptions bool
}

// wrapperSpecs are the programs stripped from the front of a command. Each is recorded in
// SimpleCommand.Wrappers. xargs also sets Via.
var wrapperSpecs = map[string]*wrapperSpec{
	"sudo": {
		argShort: "ugpCDhrtTUR",
		argLong: []string{"user", "group", "prompt", "close-from", "chdir", "host", "role", "type",
			"command-timeout", "other-user", "chroot"},
		stopShort:   "lveKV",
		stopLong:    []string{"list", "validate", "edit", "remove-timestamp", "version", "help"},
		assignments: true,
		chdir:       []string{"-D", "--chdir"},
	},
	"doas": {argShort: "u", stopShort: "LC"},
	"env": {
		argShort:    "uCSP",
		argLong:     []string{"unset", "chdir", "split-string"},
		stopLong:    []string{"help", "version", "list-signal-handling"},
		assignments: true,
		chdir:       []string{"-C", "--chdir"},
		envOptions:  true,
	},
	"nohup":   {stopLong: []string{"help", "version"}},
	"timeout": {argShort: "sk", argLong: []string{"signal", "kill-after"}, operands: 1, stopLong: []string{"help", "version"}},
	"nice":    {argShort: "n", argLong: []string{"adjustment"}, stopLong: []string{"help", "version"}},
	"ionice":  {argShort: "cn", stopShort: "pPuh", stopLong: []string{"pid", "pgid", "uid", "help", "version"}},
	"stdbuf":  {argShort: "ioe", argLong: []string{"input", "output", "error"}, stopLong: []string{"help", "version"}},
	"setsid":  {stopShort: "hV", stopLong: []string{"help", "version"}},
	"time":    {argShort: "fo", argLong: []string{"format", "output"}, stopLong: []string{"help", "version"}},
	"command": {stopShort: "vV"},
	"builtin": {noOptions: true},
	"exec":    {argShort: "a"},
	"busybox": {noOptions: true},
	"pkexec":  {argLong: []string{"user"}, stopLong: []string{"help", "version"}},
	"run0": {
		argShort: "uDg",
		argLong: []string{"user", "group", "chdir", "unit", "property", "description", "slice",
			"nice", "setenv", "background"},
		stopLong: []string{"help", "version"},
		chdir:    []string{"-D", "--chdir"},
	},
	"unbuffer": {},
	// sshpass runs its command (ssh, scp, rsync) with a password typed into its terminal.
	"sshpass": {argShort: "fdpP", optShort: "e", stopShort: "hV", stopLong: []string{"help"}},
	"xargs": {
		argShort: "adEILnPs",
		argLong: []string{"arg-file", "delimiter", "max-args", "max-procs", "max-chars",
			"process-slot-var"},
		stopLong: []string{"help", "version"},
		via:      ViaXargs,
	},
}

// opt is one parsed option.
type opt struct{ name, value string }

// stripResult is what parsing a wrapper's options found.
type stripResult struct {
	next    int      // index, in the wrapper's arguments, of the wrapped command
	stop    bool     // an option says no command runs
	opts    []opt    // options seen, for the effects below
	assigns []string // NAME=VALUE operands
	chdir   string   // env -C DIR, sudo -D DIR
	split   *field   // env -S STRING
	// envOptions: see wrapperSpec.
	envOptions bool
}

func (s *wrapperSpec) strip(args []field) stripResult {
	r := stripResult{envOptions: s.envOptions}
	i := 0
options:
	for !s.noOptions && i < len(args) {
		a := args[i].val
		if a == "--" {
			i++
			break
		}
		if a == "-" && s.envOptions { // `env - cmd` is the old spelling of env -i
			r.opts = append(r.opts, opt{"-i", ""})
			i++
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, value, hasValue := strings.Cut(a[2:], "=")
			if slices.Contains(s.stopLong, name) {
				r.stop = true
				return r
			}
			if !hasValue && slices.Contains(s.argLong, name) && i+1 < len(args) {
				i++
				value = args[i].val
			}
			r.opts = append(r.opts, opt{"--" + name, value})
			if name == "split-string" {
				f := field{val: value, dyn: args[i].dyn, start: args[i].start, end: args[i].end}
				r.split = &f
				i++
				break options
			}
			i++
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if strings.IndexByte(s.stopShort, c) >= 0 {
				r.stop = true
				return r
			}
			if strings.IndexByte(s.optShort, c) >= 0 {
				r.opts = append(r.opts, opt{"-" + string(c), a[j+1:]})
				break
			}
			if strings.IndexByte(s.argShort, c) >= 0 {
				value := a[j+1:]
				if value == "" && i+1 < len(args) {
					i++
					value = args[i].val
				}
				r.opts = append(r.opts, opt{"-" + string(c), value})
				if c == 'S' {
					f := field{val: value, dyn: args[i].dyn, start: args[i].start, end: args[i].end}
					r.split = &f
					i++
					break options
				}
				break
			}
			r.opts = append(r.opts, opt{"-" + string(c), ""})
		}
		i++
	}
	if s.assignments {
		for i < len(args) && isAssignment(args[i].val) {
			r.assigns = append(r.assigns, args[i].val)
			i++
		}
	}
	if r.split == nil {
		i += s.operands
	}
	r.next = i
	for _, o := range r.opts {
		if slices.Contains(s.chdir, o.name) {
			r.chdir = o.value
		}
	}
	return r
}

// applyEnv returns env with the wrapper's environment changes applied, leaving env unchanged.
func (r stripResult) applyEnv(env map[string]string) map[string]string {
	changed := len(r.assigns) > 0
	for _, o := range r.opts {
		if !r.envOptions {
			break
		}
		switch o.name {
		case "-i", "--ignore-environment", "-u", "--unset":
			changed = true
		}
	}
	if !changed {
		return env
	}
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	for _, o := range r.opts {
		if !r.envOptions {
			break
		}
		switch o.name {
		case "-i", "--ignore-environment":
			clear(out)
		case "-u", "--unset":
			delete(out, o.value)
		}
	}
	for _, a := range r.assigns {
		name, value, _ := strings.Cut(a, "=")
		out[name] = value
	}
	return out
}

// isAssignment reports whether s has the NAME=VALUE form.
func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// shellPrograms are the POSIX-like shells whose -c payload is parsed as shell text.
var shellPrograms = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "mksh": true, "ash": true,
	"rbash": true, "yash": true, "posh": true, "ksh93": true, "oksh": true,
}

// shellInvocation finds, in a shell's arguments, the index of its -c payload (-1 if none),
// whether the shell reads its script from stdin (no -c, no script file, or -s), and the index of
// its first operand after the options.
func shellInvocation(args []field) (payload int, stdin bool, operands int) {
	hasC, hasS := false, false
	i := 0
	for i < len(args) {
		a := args[i].val
		if a == "--" || a == "-" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if strings.HasPrefix(a, "--") {
			if a == "--rcfile" || a == "--init-file" {
				i++
			}
			i++
			continue
		}
		withValue := 0
		for _, c := range a[1:] {
			switch c {
			case 'c':
				hasC = hasC || a[0] == '-'
			case 's':
				hasS = hasS || a[0] == '-'
			case 'o', 'O':
				withValue++
			}
		}
		i += 1 + withValue
	}
	if hasC {
		if i < len(args) {
			return i, false, i
		}
		return -1, false, i
	}
	return -1, hasS || i >= len(args), i
}

// suCommand finds su's -c/--command payload.
func suCommand(args []field) (field, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i].val
		switch {
		case a == "--":
			return field{}, false
		case a == "--command" || a == "--session-command":
			if i+1 < len(args) {
				return args[i+1], true
			}
		case strings.HasPrefix(a, "--command=") || strings.HasPrefix(a, "--session-command="):
			f := args[i]
			_, f.val, _ = strings.Cut(a, "=")
			return f, true
		case strings.HasPrefix(a, "--"):
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'c':
					if j+1 < len(a) {
						f := args[i]
						f.val = a[j+1:]
						return f, true
					}
					if i+1 < len(args) {
						return args[i+1], true
					}
					return field{}, false
				case 's', 'g', 'G', 'w':
					i++ // the option's value is the next word
					j = len(a)
				}
			}
		}
	}
	return field{}, false
}

// sshValued are the short options of ssh that take a value.
const sshValued = "BbcDEeFIiJLlmOoPpQRSWw"

// sshArgs returns the values of ssh's -o options and the words of its remote command. Like
// OpenSSH, it reads options after the destination too (ssh host -p 22 cmd): the remote command
// starts at the first word after the destination that is not an option.
func sshArgs(args []field) (opts, remote []field) {
	i, host, terminated := 0, false, false
	for i < len(args) {
		a := args[i].val
		if !terminated && a == "--" {
			terminated = true
			i++
			if host {
				break
			}
			continue
		}
		if terminated || len(a) < 2 || a[0] != '-' {
			if host {
				break
			}
			host = true
			i++
			if terminated {
				break
			}
			continue
		}
		for j := 1; j < len(a); j++ {
			if strings.IndexByte(sshValued, a[j]) < 0 {
				continue
			}
			v, ok := args[i], true
			if j == len(a)-1 {
				i++
				if ok = i < len(args); ok {
					v = args[i]
				}
			} else {
				v.val = a[j+1:]
			}
			if ok && a[j] == 'o' {
				opts = append(opts, v)
			}
			break
		}
		i++
	}
	if !host || i >= len(args) {
		return opts, nil
	}
	return opts, args[i:]
}

// autosshArgs returns the arguments autossh passes to the ssh it runs: its own, without
// autossh's -M PORT and -f. stop is true for -V, under which no ssh runs. Options end at "--" or
// at the word after the destination, where the remote command starts.
func autosshArgs(args []field) (out []field, stop bool) {
	i, operands := 0, 0
	for ; i < len(args); i++ {
		a := args[i].val
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if operands++; operands > 1 {
				break
			}
			out = append(out, args[i])
			continue
		}
		word, kept := args[i], []byte{'-'}
		var value *field
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch {
			case c == 'V':
				return nil, true
			case c == 'f':
				continue // autossh goes to the background itself
			case c != 'M' && strings.IndexByte(sshValued, c) < 0:
				kept = append(kept, c)
				continue
			}
			// c takes a value: the rest of the word, or the next word. -M's is autossh's own.
			if c != 'M' {
				kept = append(kept, a[j:]...)
			}
			if j == len(a)-1 && i+1 < len(args) {
				i++
				if c != 'M' {
					value = &args[i]
				}
			}
			break
		}
		if len(kept) > 1 {
			word.val = string(kept)
			out = append(out, word)
		}
		if value != nil {
			out = append(out, *value)
		}
	}
	return append(out, args[i:]...), false
}

// sshClientValued are the short options that take a value, for the programs that pass -o
// options on to ssh.
var sshClientValued = map[string]string{
	"scp":  "cDFiJloPSX",
	"sftp": "BbcDFiJloPRSs",
}

// sshClient is what the options of scp or sftp make them run besides the transfer.
type sshClient struct {
	opts []field // -o values, passed to ssh
	// programs are program paths run directly, not shell lines: -S names one run in place of
	// ssh, with ssh's options; scp -D a local sftp server run instead of ssh.
	programs []field
	// direct (sftp -D) is a local sftp server command and its arguments, run instead of ssh.
	direct *field
	// server (sftp -s) is a subsystem name or, when it holds a '/', a command run on the host.
	server *field
}

// sshClientArgs reads the options of scp or sftp.
func sshClientArgs(prog string, args []field) sshClient {
	withValue := sshClientValued[prog]
	var cl sshClient
	for i := 0; i < len(args); i++ {
		a := args[i].val
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue // operands and options may mix
		}
		opt, v, last, ok := clusterValue(args, i, withValue)
		i = last
		if !ok {
			continue
		}
		switch opt {
		case 'o':
			cl.opts = append(cl.opts, v)
		case 'S':
			cl.programs = append(cl.programs, v)
		case 'D':
			if prog == "sftp" {
				cl.direct = &v
			} else {
				cl.programs = append(cl.programs, v)
			}
		case 's':
			cl.server = &v
		}
	}
	return cl
}

// clusterValue reads the short-option word args[i] (-vo VALUE, -oVALUE): the first of its
// options that takes a value (one of withValue), that value, and the index of the last word
// read. ok is false when no option of the word takes a value, or its value is missing.
func clusterValue(args []field, i int, withValue string) (opt byte, value field, last int, ok bool) {
	a := args[i].val
	for j := 1; j < len(a); j++ {
		switch {
		case strings.IndexByte(withValue, a[j]) < 0:
			continue
		case j < len(a)-1:
			return a[j], optionValue(args[i], a[j+1:]), i, true
		case i+1 < len(args):
			return a[j], args[i+1], i + 1, true
		}
		return 0, field{}, i + 1, false
	}
	return 0, field{}, i, false
}

// optionValue returns the field for the value attached to an option word (-Svalue): its text
// is val, and its program name is found again in that text.
func optionValue(word field, val string) field {
	word.val, word.progFrom = val, 0
	if i := strings.LastIndexByte(val, '/'); i >= 0 && !word.dyn {
		word.progFrom = i + 1
	}
	return word
}

// sshOptionCommands are the ssh options (lower case) whose value is a command line that ssh runs
// through the local shell; RemoteCommand runs on the remote host instead.
var sshOptionCommands = map[string]bool{"proxycommand": true, "localcommand": true, "knownhostscommand": true}

// splitSSHOption splits an ssh -o option into its key (lower case) and value: ssh accepts
// "Key=Value", "Key Value" and "Key = Value".
func splitSSHOption(s string) (key, value string) {
	s = strings.TrimLeft(s, " \t")
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		return strings.ToLower(s), ""
	}
	key, value = strings.ToLower(s[:end]), strings.TrimLeft(s[end:], " \t")
	if v, ok := strings.CutPrefix(value, "="); ok {
		value = strings.TrimLeft(v, " \t")
	}
	return key, value
}

// rsyncArgs returns the values of rsync's -e/--rsh options, the command rsync runs to reach the
// remote host (ssh -p 2222, or anything else), and of its --rsync-path options, the shell line
// that remote shell runs on the host to start rsync there ("sudo rsync", "cd /a && rsync").
func rsyncArgs(args []field) (shells, paths []field) {
	const withValue = "BefMT@" // short options with a value: --block-size, --rsh, --filter, ...
	for i := 0; i < len(args); i++ {
		a := args[i].val
		switch {
		case a == "--":
			return shells, paths
		case a == "--rsh" || a == "--rsync-path":
			if i+1 < len(args) {
				i++
				if a == "--rsh" {
					shells = append(shells, args[i])
				} else {
					paths = append(paths, args[i])
				}
			}
		case strings.HasPrefix(a, "--rsh="):
			f := args[i]
			f.val = strings.TrimPrefix(a, "--rsh=")
			shells = append(shells, f)
		case strings.HasPrefix(a, "--rsync-path="):
			f := args[i]
			f.val = strings.TrimPrefix(a, "--rsync-path=")
			paths = append(paths, f)
		case strings.HasPrefix(a, "--"):
		case len(a) > 1 && a[0] == '-':
			opt, v, last, ok := clusterValue(args, i, withValue)
			i = last
			if ok && opt == 'e' {
				shells = append(shells, v)
			}
		}
	}
	return shells, paths
}

// OverSSH reports whether c runs on another machine through ssh (ssh host cmd, and what that
// runs in turn): its paths name that machine's files, not this one's.
func OverSSH(c cavra.SimpleCommand) bool {
	return slices.Contains(c.Wrappers, "ssh")
}

// watchCommand returns the words watch joins into the shell command it runs.
func watchCommand(args []field) []field {
	i := 0
	for i < len(args) {
		a := args[i].val
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		if strings.HasPrefix(a, "--") {
			if a == "--interval" || a == "--equexit" {
				i++
			}
			i++
			continue
		}
		for j := 1; j < len(a); j++ {
			if a[j] == 'n' || a[j] == 'q' {
				if j == len(a)-1 {
					i++
				}
				break
			}
		}
		i++
	}
	if i >= len(args) {
		return nil
	}
	return args[i:]
}
