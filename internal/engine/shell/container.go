package shell

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cavra-dev/cavra"
)

// containerRunners are the programs that run a command in a container, pod or system container.
var containerRunners = map[string]bool{
	"docker": true, "podman": true, "nerdctl": true, "docker-compose": true, "podman-compose": true,
	"kubectl": true, "oc": true, "lxc": true, "incus": true,
}

// InContainer reports whether c runs in a container or pod (docker exec C cmd and what that runs
// in turn, kubectl exec pod -- cmd): its paths name the container's files, not this machine's.
func InContainer(c cavra.SimpleCommand) bool {
	return slices.ContainsFunc(c.Wrappers, func(w string) bool { return containerRunners[w] })
}

// containerExec walks the command a container runner runs. The command is an argv, as with find
// -exec, not shell text. It runs inside the container: no local directory, environment or
// variables, and its redirections (in a nested sh -c) are not local files. Rules that read argv
// still see it (curl | sh, rm -rf /data): a container's data, often a mounted volume, is lost
// all the same, and a secret it prints reaches the agent; rules written for this machine's
// paths tell container commands apart by their wrappers.
func (w *walker) containerExec(prog string, args []field, wrappers []string, cx *cmdCtx) error {
	inner := containerCommand(prog, args)
	if len(inner) == 0 || inner[0].val == "" {
		return nil
	}
	sc := cx.sc
	sc.remote = true
	sc.home = ""
	sc.env = nil
	sc.fn = ""
	sc.depth++
	if sc.depth > w.opts.MaxDepth {
		return fmt.Errorf("%s command nested deeper than %d levels", ViaContainer, w.opts.MaxDepth)
	}
	// The local stdin (a heredoc, a pipe) feeds the container's command: docker exec -i c sh <<EOF.
	sub := &cmdCtx{sc: sc, st: &state{}, stmt: cx.stmt, consumed: cx.consumed, payloadWords: cx.payloadWords, span: cx.fieldsSpan(inner)}
	if err := w.simple(inner, nil, append(slices.Clip(wrappers), prog), ViaContainer, sub); err != nil {
		return err
	}
	cx.payloadWords = sub.payloadWords
	return nil
}

// containerCommand returns the argv a container runner runs, or nil when it runs none that the
// line names (docker ps, docker run IMAGE with the image's own command).
func containerCommand(prog string, args []field) []field {
	switch prog {
	case "kubectl", "oc":
		return kubectlCommand(args)
	case "lxc", "incus":
		if len(args) > 0 && args[0].val == "exec" {
			return afterDoubleDash(args)
		}
		return nil
	case "docker-compose", "podman-compose":
		return composeCommand(args)
	}
	// docker, podman, nerdctl: global options, then the subcommand.
	i := operandIndex(args, dockerGlobalValued)
	if i >= len(args) {
		return nil
	}
	sub, rest := args[i].val, args[i+1:]
	if sub == "container" && len(rest) > 0 {
		sub, rest = rest[0].val, rest[1:]
	}
	switch sub {
	case "exec":
		return optionsThenCommand(rest, dockerExecBoolean, "dit")
	case "run", "create":
		return dockerRunCommand(rest)
	case "compose":
		return composeCommand(rest)
	}
	return nil
}

var (
	dockerGlobalValued = []string{"-H", "--host", "-c", "--context", "--config", "-l", "--log-level", "--tlscacert",
		"--tlscert", "--tlskey", "--url", "--connection", "--root", "--runroot", "--storage-driver", "-n", "--namespace",
		"-a", "--address", "--cgroup-manager", "--events-backend", "--identity", "--module"}
	dockerExecBoolean = []string{"--detach", "--interactive", "--tty", "--privileged", "--latest", "--help"}
	// dockerRunBoolean are docker/podman run options without a value; every other option of run
	// takes one (there are far more of those).
	dockerRunBoolean = []string{"--detach", "--interactive", "--tty", "--rm", "--privileged", "--init", "--read-only",
		"--publish-all", "--no-healthcheck", "--oom-kill-disable", "--disable-content-trust", "--quiet", "--help",
		"--replace", "--rmi", "--env-host", "--http-proxy", "--no-hosts", "--read-only-tmpfs"}
	composeGlobalValued = []string{"-f", "--file", "-p", "--project-name", "--profile", "--env-file",
		"--project-directory", "--ansi", "--parallel", "--progress"}
	composeBoolean = []string{"--detach", "--no-TTY", "--privileged", "--rm", "--no-deps", "--service-ports",
		"--use-aliases", "--build", "--remove-orphans", "--interactive", "--tty", "--quiet-pull", "--help"}
)

// dockerRunCommand returns the command of docker run [OPTIONS] IMAGE [COMMAND...]; with
// --entrypoint PROG, PROG runs with the words after the image as its arguments.
func dockerRunCommand(args []field) []field {
	var entrypoint *field
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
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
			if name == "--entrypoint" {
				f := args[i]
				f.val = value
				entrypoint = &f
			}
			i++
			continue
		}
		if strings.HasPrefix(a, "--") {
			if slices.Contains(dockerRunBoolean, a) {
				i++
				continue
			}
			if a == "--entrypoint" && i+1 < len(args) {
				f := args[i+1]
				entrypoint = &f
			}
			i += 2
			continue
		}
		i += shortOptionWords(a, "ditPq")
	}
	if i >= len(args) {
		return nil
	}
	image, cmd := args[i], args[i+1:]
	if entrypoint != nil && entrypoint.val != "" {
		return append([]field{*entrypoint}, cmd...)
	}
	if tool, ok := imageTool(image.val); ok && !image.dyn && (len(cmd) == 0 || program(cmd[0]) != tool) {
		// The image's entrypoint is the tool: the words after the image are its arguments.
		image.val, image.progFrom = tool, 0
		return append([]field{image}, cmd...)
	}
	return cmd
}

// imageTools are images whose entrypoint is a command-line tool, so that `docker run IMAGE ARGS`
// runs `TOOL ARGS`. Running a tool from its official image must not slip past the rules about
// that tool (docker run hashicorp/terraform destroy, docker run amazon/aws-cli s3 rm ...).
var imageTools = map[string]string{
	"hashicorp/terraform": "terraform", "ghcr.io/opentofu/opentofu": "tofu", "hashicorp/packer": "packer",
	"amazon/aws-cli": "aws", "public.ecr.aws/aws-cli/aws-cli": "aws",
	"bitnami/kubectl": "kubectl", "rancher/kubectl": "kubectl", "registry.k8s.io/kubectl": "kubectl",
	"alpine/helm": "helm", "alpine/git": "git", "curlimages/curl": "curl",
}

// imageTool is the tool an image reference runs, its tag, digest and Docker Hub prefix ignored.
func imageTool(ref string) (string, bool) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i] // a tag; a colon before the last slash is a registry's port
	}
	for _, hub := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		ref = strings.TrimPrefix(ref, hub)
	}
	tool, ok := imageTools[strings.ToLower(ref)]
	return tool, ok
}

// composeCommand returns the command of [docker] compose [OPTIONS] exec|run [OPTIONS] SERVICE
// COMMAND...
func composeCommand(args []field) []field {
	i := operandIndex(args, composeGlobalValued)
	if i >= len(args) {
		return nil
	}
	switch args[i].val {
	case "exec", "run":
		return optionsThenCommand(args[i+1:], composeBoolean, "dTiP")
	}
	return nil
}

// kubectlCommand returns the command of kubectl exec|run|debug ... -- COMMAND..., and of the
// older kubectl exec POD COMMAND... form.
func kubectlCommand(args []field) []field {
	valued := []string{"-n", "--namespace", "--context", "--cluster", "--user", "--kubeconfig", "-s", "--server",
		"--token", "--as", "--as-group", "--request-timeout", "--cache-dir", "--certificate-authority",
		"--client-certificate", "--client-key", "-c", "--container", "-f", "--filename", "--pod-running-timeout",
		"--image", "--target", "--profile", "-v", "--v"}
	i := operandIndex(args, valued)
	if i >= len(args) {
		return nil
	}
	switch args[i].val {
	case "exec":
		rest := args[i+1:]
		if cmd := afterDoubleDash(rest); cmd != nil {
			return cmd
		}
		j := operandIndex(rest, valued)
		if j+1 < len(rest) {
			return rest[j+1:] // after the pod
		}
	case "run", "debug":
		return afterDoubleDash(args[i+1:])
	}
	return nil
}

func afterDoubleDash(args []field) []field {
	for i, a := range args {
		if a.val == "--" {
			if i+1 < len(args) {
				return args[i+1:]
			}
			return nil
		}
	}
	return nil
}

// optionsThenCommand skips options (every long option not in boolean, and every short option
// letter not in booleanShort, takes a value), then one operand (the container or service), and
// returns the rest.
func optionsThenCommand(args []field, boolean []string, booleanShort string) []field {
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
		switch {
		case strings.HasPrefix(a, "--") && (strings.Contains(a, "=") || slices.Contains(boolean, a)):
			i++
		case strings.HasPrefix(a, "--"):
			i += 2
		default:
			i += shortOptionWords(a, booleanShort)
		}
	}
	if i+1 >= len(args) {
		return nil
	}
	return args[i+1:]
}

// shortOptionWords is how many words a cluster of short options (-it, -e X, -eX=1) spans: the
// first letter not in boolean takes the rest of the cluster, or the next word, as its value.
func shortOptionWords(a, boolean string) int {
	for j := 1; j < len(a); j++ {
		if strings.IndexByte(boolean, a[j]) < 0 {
			if j == len(a)-1 {
				return 2
			}
			return 1
		}
	}
	return 1
}

// operandIndex returns the index of the first operand, skipping options and the values of the
// options in valued (given as separate words).
func operandIndex(args []field, valued []string) int {
	i := 0
	for i < len(args) {
		a := args[i].val
		if a == "--" {
			return i + 1
		}
		if len(a) < 2 || a[0] != '-' {
			return i
		}
		if !strings.Contains(a, "=") && slices.Contains(valued, a) {
			i++
		}
		i++
	}
	return i
}
