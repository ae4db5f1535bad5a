package engine

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine/shell"
)

// What common programs do to the files they name, so that file rules (secrets, protected
// paths) judge `cat ~/.ssh/id_rsa` the same as the Read tool on that path.
var (
	deletePrograms = set("rm", "rmdir", "unlink", "shred", "srm", "trash", "trash-put")
	readPrograms   = set("cat", "tac", "less", "more", "head", "tail", "bat", "batcat", "nl", "base64",
		"base32", "xxd", "od", "hexdump", "strings", "source", ".", "vi", "vim", "nvim", "nano", "emacs",
		"view", "sort", "uniq", "wc", "md5sum", "sha1sum", "sha256sum", "gpg", "jq", "yq", "diff",
		"cmp", "awk", "gawk", "cut", "paste", "column", "file", "stat", "gzip", "zcat", "tar", "zip", "7z")
	writePrograms = set("touch", "tee", "truncate", "chmod", "chown", "chgrp", "chattr", "setfacl", "mkdir")
	// copyPrograms read their sources and write their last argument.
	copyPrograms = set("cp", "install", "rsync", "scp", "ln")
	// searchPrograms take a pattern first, then files to read.
	searchPrograms = set("grep", "egrep", "fgrep", "rg", "ag", "ack", "zgrep")
	fetchPrograms  = set("curl", "wget", "http", "https", "xh", "aria2c", "httpie", "lwp-request", "fetch")
	socketPrograms = set("nc", "ncat", "netcat", "telnet", "socat")
	remotePrograms = set("ssh", "sftp", "mosh")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// operands returns the non-flag arguments of argv (after argv[0]); "--" ends the flags.
func operands(argv []string) []string { return appendOperands(nil, argv) }

// appendOperands appends the operands of argv to out.
func appendOperands(out []string, argv []string) []string {
	flagsDone := false
	for _, a := range argv[1:] {
		switch {
		case flagsDone:
			out = append(out, a)
		case a == "--":
			flagsDone = true
		case len(a) > 1 && a[0] == '-':
		default:
			out = append(out, a)
		}
	}
	return out
}

// eachFlag calls yield with each flag of a command's arguments, until yield returns false:
// "--force" gives "force", "-rf" gives "rf", "r" and "f" (single-dash long options such as find's
// -delete count as words too); "--" ends the flags. A flag may come more than once.
func eachFlag(args []string, yield func(string) bool) {
	for _, a := range args {
		if a == "--" {
			return
		}
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, _, _ := strings.Cut(a[2:], "=")
			if !yield(name) {
				return
			}
		case len(a) > 1 && a[0] == '-' && !isNumber(a[1:]):
			word, _, _ := strings.Cut(a[1:], "=")
			if !yield(word) {
				return
			}
			for j, r := range word {
				flag := word[j : j+1] // no copy, unlike string(r)
				if r >= utf8.RuneSelf {
					flag = string(r)
				}
				if !yield(flag) {
					return
				}
			}
		}
	}
}

// argsHaveFlag reports whether a command with arguments args has any of the flags names.
func argsHaveFlag(args []string, names ...string) bool {
	found := false
	eachFlag(args, func(f string) bool {
		found = slices.Contains(names, f)
		return !found
	})
	return found
}

// flagList is the flags of argv (see eachFlag), sorted and without repeats: what conditions see.
func flagList(argv []string) []string { return appendFlags(nil, argv) }

// flagsBound is the most flags appendFlags can find in argv.
func flagsBound(argv []string) int {
	n := 0
	for _, a := range argv[1:] {
		if len(a) > 1 && a[0] == '-' {
			n += len(a) // the word, and at most one flag per further byte
		}
	}
	return n
}

// appendFlags appends flagList(argv) to out, sorting and compacting only what it appends.
func appendFlags(out []string, argv []string) []string {
	from := len(out)
	eachFlag(argv[1:], func(f string) bool {
		out = append(out, f)
		return true
	})
	slices.Sort(out[from:])
	return append(out[:from], slices.Compact(out[from:])...)
}

func hasFlag(sorted []string, name string) bool {
	_, found := slices.BinarySearch(sorted, name)
	return found
}

func isNumber(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// appendDerivedFiles appends the file operations a simple command implies to out.
func appendDerivedFiles(out []cavra.FileOp, c cavra.SimpleCommand) []cavra.FileOp {
	if shell.OverSSH(c) {
		return out // ssh h sh -c 'cat .env': another machine's files; secrets.remote-* judge them
	}
	var opsBuf [8]string // most commands have few operands: no allocation for them
	ops := appendOperands(opsBuf[:0], c.Argv)
	add := func(op cavra.FileOperation, raw string) {
		if raw == "" || raw == "-" {
			return
		}
		out = append(out, cavra.FileOp{Op: op, Raw: raw})
	}
	p := c.Program
	switch {
	case deletePrograms[p]:
		for _, o := range ops {
			add(cavra.FileDelete, o)
		}
	case readPrograms[p]:
		for _, o := range ops {
			if p == "awk" || p == "gawk" || p == "jq" || p == "yq" {
				if o == ops[0] {
					continue // the program text
				}
			}
			add(cavra.FileRead, o)
		}
	case writePrograms[p]:
		for i, o := range ops {
			if (p == "chmod" || p == "chown" || p == "chgrp" || p == "setfacl" || p == "chattr") && i == 0 {
				continue // the mode or owner
			}
			add(cavra.FileWrite, o)
		}
	case copyPrograms[p]:
		if len(ops) >= 2 {
			for _, o := range ops[:len(ops)-1] {
				add(cavra.FileRead, o)
			}
			add(cavra.FileWrite, ops[len(ops)-1])
		}
	case p == "mv":
		if len(ops) >= 2 {
			dst := ops[len(ops)-1]
			for _, o := range ops[:len(ops)-1] {
				if o != "" {
					out = append(out, cavra.FileOp{Op: cavra.FileMove, Raw: o, To: dst})
				}
			}
		}
	case searchPrograms[p]:
		if len(ops) >= 2 {
			for _, o := range ops[1:] {
				add(cavra.FileRead, o)
			}
		}
	case p == "sed" || p == "perl":
		if argsHaveFlag(c.Argv[1:], "i") && len(ops) >= 2 {
			for _, o := range ops[1:] {
				add(cavra.FileWrite, o)
			}
		}
	case p == "dd":
		for _, a := range c.Argv[1:] {
			if v, ok := strings.CutPrefix(a, "of="); ok {
				add(cavra.FileWrite, v)
			}
			if v, ok := strings.CutPrefix(a, "if="); ok {
				add(cavra.FileRead, v)
			}
		}
	case fetchPrograms[p]:
		// Uploads read local files: curl -d @file, -F f=@file, -T file, --data-binary @file,
		// wget --post-file=file, --body-file file.
		for i, a := range c.Argv[1:] {
			if _, v, ok := strings.Cut(a, "@"); ok && (strings.HasPrefix(a, "@") || strings.Contains(a, "=@")) {
				add(cavra.FileRead, v)
			}
			switch a {
			case "-T", "--upload-file", "--post-file", "--body-file":
				if i+2 < len(c.Argv) {
					add(cavra.FileRead, c.Argv[i+2])
				}
			}
			for _, flag := range []string{"--upload-file=", "--post-file=", "--body-file="} {
				if v, ok := strings.CutPrefix(a, flag); ok {
					add(cavra.FileRead, v)
				}
			}
		}
	case p == "openssl":
		// openssl names its files by flag; its other operands are subcommands and values.
		for i := 1; i+1 < len(c.Argv); i++ {
			switch c.Argv[i] {
			case "-in", "-inkey", "-key", "-CAkey", "-passin":
				if v := c.Argv[i+1]; !strings.Contains(v, ":") || strings.HasPrefix(v, "file:") {
					add(cavra.FileRead, strings.TrimPrefix(v, "file:"))
				}
			case "-out", "-keyout":
				add(cavra.FileWrite, c.Argv[i+1])
			}
		}
	}
	return out
}

// deriveNetwork returns the outbound requests a simple command implies.
func deriveNetwork(c cavra.SimpleCommand) []cavra.NetworkRequest {
	var out []cavra.NetworkRequest
	p := c.Program
	switch {
	case fetchPrograms[p] || p == "git" || p == "pip" || p == "pip3" || p == "npm" || p == "go":
		for _, a := range c.Argv[1:] {
			if strings.Contains(a, "://") {
				if r, ok := request(a); ok {
					out = append(out, r)
				}
			}
		}
		if fetchPrograms[p] && len(out) == 0 {
			// curl example.com/x: a bare host is a URL to curl.
			for _, o := range operands(c.Argv) {
				if strings.Contains(o, ".") && !strings.HasPrefix(o, "@") && !strings.ContainsAny(o, " =") {
					if r, ok := request("https://" + o); ok {
						out = append(out, r)
					}
				}
			}
		}
	case socketPrograms[p] || remotePrograms[p]:
		ops := operands(c.Argv)
		if p == "ssh" || p == "sftp" {
			// ssh -i KEY -o OPT=V HOST: option values are not the host. A bare `ssh -i KEY` is
			// what git's core.sshCommand holds; git adds the host.
			ops = operandsSkipping(c.Argv[1:], sshValueFlags)
		}
		if len(ops) > 0 {
			host := ops[0]
			if _, h, ok := strings.Cut(host, "@"); ok {
				host = h
			}
			out = append(out, cavra.NetworkRequest{URL: p + "://" + host, Host: strings.ToLower(host)})
		}
	}
	return out
}

func request(raw string) (cavra.NetworkRequest, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return cavra.NetworkRequest{}, false
	}
	return cavra.NetworkRequest{URL: raw, Host: strings.ToLower(u.Hostname())}, true
}

// sshValueFlags are the options of ssh and sftp that take a separate value.
var sshValueFlags = set("-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
	"-P", "-p", "-Q", "-R", "-S", "-W", "-w")

// gitGlobalValueFlags take a separate value before the subcommand.
var gitGlobalValueFlags = set("-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env")

// deriveGit returns the git operation of a git command line, if any.
func deriveGit(c cavra.SimpleCommand) (cavra.GitOp, bool) {
	if c.Program != "git" && c.Program != "hub" { // hub wraps git with the same arguments
		return cavra.GitOp{}, false
	}
	args := c.Argv[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if gitGlobalValueFlags[args[0]] && len(args) > 1 {
			args = args[2:]
			continue
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return cavra.GitOp{}, false
	}
	op := cavra.GitOp{Subcommand: args[0], Args: args[1:]}
	if op.Subcommand != "push" {
		op.Force = argsHaveFlag(op.Args, "force") || argsHaveFlag(op.Args, "f") && (op.Subcommand == "clean" || op.Subcommand == "checkout" || op.Subcommand == "branch")
		op.Delete = op.Subcommand == "branch" && argsHaveFlag(op.Args, "D", "d", "delete")
		if op.Delete {
			op.Refs = operands(append([]string{"git"}, op.Args...))
		}
		return op, true
	}
	op.Force = argsHaveFlag(op.Args, "f", "force", "force-with-lease", "force-if-includes", "mirror")
	op.Delete = argsHaveFlag(op.Args, "d", "delete", "prune", "mirror")
	pos := operandsSkipping(op.Args, set("-o", "--push-option", "--repo", "--receive-pack", "--exec"))
	for i, a := range op.Args {
		// --repo names the remote, and then every operand is a refspec.
		if v, ok := strings.CutPrefix(a, "--repo="); ok {
			op.Remote = v
		} else if a == "--repo" && i+1 < len(op.Args) {
			op.Remote = op.Args[i+1]
		}
	}
	if op.Remote == "" && len(pos) > 0 {
		op.Remote, pos = pos[0], pos[1:]
	}
	if op.Remote != "" {
		for _, spec := range pos {
			if strings.HasPrefix(spec, "+") {
				op.Force = true
				spec = spec[1:]
			}
			src, dst, hasColon := strings.Cut(spec, ":")
			if hasColon && src == "" {
				op.Delete = true
			}
			if !hasColon {
				dst = src
			}
			dst = strings.TrimPrefix(strings.TrimPrefix(dst, "refs/heads/"), "refs/tags/")
			if dst != "" {
				op.Refs = append(op.Refs, dst)
			}
		}
	}
	return op, true
}

// operandsSkipping is operands for arguments where some flags take a separate value.
func operandsSkipping(args []string, valueFlags map[string]bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i+1:]...)
		case valueFlags[a]:
			i++
		case len(a) > 1 && a[0] == '-':
		default:
			out = append(out, a)
		}
	}
	return out
}
