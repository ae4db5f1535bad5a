// Package hooklite is remote-mode hook forwarding with nothing heavy linked in: it imports the
// root package, the client and the standard library only. The full binary's remote mode
// (internal/cli) and the lean `cavra-hook` binary (cmd/cavra-hook, which starts in about a
// millisecond because no heavy package initialiser runs) both use it, so flags, environment,
// limits and failure wording have one implementation.
package hooklite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/client"
)

// MaxPayload bounds what a hook reads from stdin; payloads are far smaller, but a Write of a
// large file carries its whole content.
const MaxPayload = 32 << 20

// DefaultTimeout is how long a remote hook waits for the control plane.
const DefaultTimeout = 2 * time.Second

// FailClosedPrefix starts the reason of every block; the CLI prints it after "cavra: ".
const FailClosedPrefix = "blocked by CAVRA (fail closed): "

// RemoteFailedVar, set in the environment of a remote-mode `cavra hook <host>` that has
// fail-open on, tells it the control plane already gave no answer and why: it skips asking
// and goes straight to its fail-open path (host answer plus local audit record). cavra-hook
// sets it when it hands a fail-open over to the full binary, which alone links the audit log.
// It cannot weaken a hook beyond what fail-open already allows: with fail-open off it is
// ignored, and the skipped call is recorded as a fail-open decision like any other.
const RemoteFailedVar = "CAVRA_REMOTE_FAILED"

// maxCauseEnv bounds the cause text passed in RemoteFailedVar: a server's problem detail can
// be long, and one environment string is limited (128 KiB on Linux).
const maxCauseEnv = 4 << 10

// Flags are the remote-mode flags as given on a hook's command line. Each falls back to its
// environment variable when not given.
type Flags struct {
	Server    string
	Token     string
	TokenFile string
	// Timeout is --timeout; TimeoutSet says it was given (else CAVRA_TIMEOUT, else the default).
	Timeout    time.Duration
	TimeoutSet bool
	// FailOpen is --fail-open; FailOpenSet says it was given (else CAVRA_FAIL_OPEN).
	FailOpen    bool
	FailOpenSet bool
}

// Config is remote mode resolved from flags and environment.
type Config struct {
	Server   string
	Token    string
	Timeout  time.Duration
	FailOpen bool
}

// Resolve returns the remote-mode settings, or ok false when no server is set (local mode). A
// server without a usable token, or a bad timeout or fail-open value, is an error: the hook
// must block.
func Resolve(f Flags, getenv func(string) string) (cfg Config, ok bool, err error) {
	server := f.Server
	if server == "" {
		server = getenv("CAVRA_SERVER")
	}
	cfg.Server = strings.TrimSpace(server)
	if cfg.Server == "" {
		return cfg, false, nil
	}
	cfg.Timeout = f.Timeout
	if !f.TimeoutSet {
		cfg.Timeout = DefaultTimeout
		if v := strings.TrimSpace(getenv("CAVRA_TIMEOUT")); v != "" {
			if cfg.Timeout, err = ParseTimeout(v); err != nil {
				return cfg, true, fmt.Errorf("CAVRA_TIMEOUT: %w", err)
			}
		}
	}
	if cfg.Timeout <= 0 {
		return cfg, true, fmt.Errorf("--timeout must be positive, not %s", cfg.Timeout)
	}
	cfg.FailOpen = f.FailOpen
	if !f.FailOpenSet {
		if v := strings.TrimSpace(getenv("CAVRA_FAIL_OPEN")); v != "" {
			if cfg.FailOpen, err = strconv.ParseBool(v); err != nil {
				return cfg, true, fmt.Errorf("CAVRA_FAIL_OPEN=%q: want 1, true, 0 or false", v)
			}
		}
	}
	if cfg.Token, err = ResolveToken(f.Token, f.TokenFile, getenv); err != nil {
		return cfg, true, err
	}
	return cfg, true, nil
}

// ParseTimeout reads a Go duration ("1500ms", "2s") or a number of seconds ("2", "0.5").
func ParseTimeout(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 3600 {
		return time.Duration(s * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%q is not a duration (e.g. 2s, 500ms)", v)
}

// ResolveToken takes the token from --token, --token-file, CAVRA_TOKEN, CAVRA_TOKEN_FILE, in
// that order: flags before the environment.
func ResolveToken(token, tokenFile string, getenv func(string) string) (string, error) {
	if token != "" {
		return strings.TrimSpace(token), nil
	}
	file := tokenFile
	if file == "" {
		if t := strings.TrimSpace(getenv("CAVRA_TOKEN")); t != "" {
			return t, nil
		}
		file = getenv("CAVRA_TOKEN_FILE")
	}
	if file == "" {
		return "", errors.New("CAVRA_SERVER is set but CAVRA_TOKEN is not set: set CAVRA_TOKEN or CAVRA_TOKEN_FILE (or --token, --token-file)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return t, nil
}

// ReadPayload reads a hook payload of at most MaxPayload bytes.
func ReadPayload(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("hook payload larger than %d bytes", MaxPayload)
	}
	return data, nil
}

// Failure is a remote hook that got no usable answer.
type Failure struct {
	// Cause says what went wrong, in words an agent's user can act on.
	Cause error
	// NoAnswer is true when the control plane gave no answer (down, slow, broken), the only
	// case fail-open covers.
	NoAnswer bool
}

func (f *Failure) Error() string { return f.Cause.Error() }
func (f *Failure) Unwrap() error { return f.Cause }

// Ask forwards the raw payload of host's hook to the control plane and returns the host's
// answer, trimmed, to print as one line. Any error is a *Failure.
func Ask(ctx context.Context, cfg Config, host string, payload []byte) ([]byte, error) {
	opts := []client.Option{client.WithTimeout(cfg.Timeout), client.WithUserAgent("cavra-hook/" + host)}
	if home, err := os.UserHomeDir(); err == nil {
		opts = append(opts, client.WithHeader(client.AgentHomeHeader, home))
	}
	c, err := client.New(cfg.Server, cfg.Token, opts...)
	if err != nil {
		return nil, &Failure{Cause: fmt.Errorf("CAVRA_SERVER: %w", err)}
	}
	ans, err := c.Hook(ctx, host, payload)
	if err != nil {
		return nil, &Failure{Cause: RemoteFailure(cfg.Server, err), NoAnswer: FailOpenApplies(err)}
	}
	return []byte(strings.TrimSpace(string(ans.Body))), nil
}

// RemoteFailure says what went wrong with the control plane, in words an agent's user can act on.
func RemoteFailure(server string, err error) error {
	switch cavra.Code(err) {
	case cavra.ErrUnauthorized, cavra.ErrForbidden:
		return fmt.Errorf("the CAVRA control plane at %s refused the token (check CAVRA_TOKEN): %w", server, err)
	case cavra.ErrInvalid, cavra.ErrConflict:
		return fmt.Errorf("the CAVRA control plane at %s rejected the hook payload: %w", server, err)
	case cavra.ErrUnavailable:
		return fmt.Errorf("the CAVRA control plane at %s is unreachable: %w", server, err)
	}
	return fmt.Errorf("the CAVRA control plane at %s failed to answer: %w", server, err)
}

// FailOpenApplies reports whether err means the control plane gave no answer (down, slow,
// broken), the only case fail-open covers. A refused token or a rejected payload is the control
// plane's answer: a revoked token must stop the agent even in fail-open mode.
func FailOpenApplies(err error) bool {
	switch cavra.Code(err) {
	case cavra.ErrUnauthorized, cavra.ErrForbidden, cavra.ErrInvalid, cavra.ErrConflict:
		return false
	}
	return true
}

// causeForEnv is cause as RemoteFailedVar carries it: one bounded line.
func causeForEnv(cause error) string {
	s := strings.Join(strings.Fields(cause.Error()), " ")
	if len(s) > maxCauseEnv {
		cut := maxCauseEnv
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	if s == "" {
		s = "no answer"
	}
	return s
}
