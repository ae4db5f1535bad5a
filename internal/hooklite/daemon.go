package hooklite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cavra-dev/cavra/internal/home/homedir"
)

// The local decision daemon (`cavra hook daemon`) keeps the full binary warm for local mode:
// policies loaded, CEL conditions compiled, the audit log open. A hook process that links the
// policy engine starts in about five milliseconds before it has decided anything, and the full
// binary in fifteen; cavra-hook starts in one and asks the daemon over a Unix socket in the
// data home. The daemon runs the very `cavra hook <host>` command the hook would have run, with
// the hook's payload, environment and working directory, so its answers are the same by
// construction. When there is no daemon, cavra-hook starts one in the background and hands this
// call to the full binary; whatever goes wrong with the daemon, the call falls back to the full
// binary, never to an answer of its own.

// DaemonVar turns the daemon off when set to 0, off, false or no: cavra-hook then hands every
// local-mode call to the full binary.
const DaemonVar = "CAVRA_HOOKD"

// DaemonTimeoutVar bounds how long cavra-hook waits for the daemon's answer (default
// DefaultDaemonTimeout) before it asks the full binary instead.
const DaemonTimeoutVar = "CAVRA_HOOKD_TIMEOUT"

// DaemonIdleVar sets how long a daemon cavra-hook starts waits for calls before it exits
// (default 30m).
const DaemonIdleVar = "CAVRA_HOOKD_IDLE"

// DefaultDaemonTimeout is long enough for a decision that waits on a busy database, and short
// enough that a stuck daemon leaves the host time to run the fallback.
const DefaultDaemonTimeout = 3 * time.Second

// DaemonOps are the requests the daemon answers besides a hook call.
const (
	OpHook   = ""
	OpStop   = "stop"
	OpStatus = "status"
)

// maxDaemonMessage bounds one message on the socket: a payload at MaxPayload in base64, plus
// the environment.
const maxDaemonMessage = MaxPayload/3*4 + 8<<20

// DaemonRequest is one call to the daemon.
type DaemonRequest struct {
	Op string `json:"op,omitempty"`
	// Args are the arguments after `cavra hook`: the host and its flags.
	Args []string `json:"args,omitempty"`
	// Env is the hook's environment, which the command reads instead of the daemon's own.
	Env []string `json:"env,omitempty"`
	// Dir is the hook's working directory, against which relative --policy and --decision-log
	// paths are resolved.
	Dir string `json:"dir,omitempty"`
	// Binary is the full cavra binary the hook would run; the daemon answers only when it is
	// that binary, so an upgrade never leaves an old daemon deciding.
	Binary  Stamp  `json:"binary"`
	Payload []byte `json:"payload,omitempty"`
}

// DaemonResponse is the daemon's answer: what `cavra hook` printed and its exit code. Stale,
// when set, says why the daemon did not run the call (another binary, a changed data home);
// the caller then asks the full binary, and the daemon exits.
type DaemonResponse struct {
	Code   int    `json:"code"`
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Stale  string `json:"stale,omitempty"`
	// Status is the answer to OpStatus.
	Status *DaemonStatus `json:"status,omitempty"`
}

// DaemonStatus describes a running daemon.
type DaemonStatus struct {
	PID     int       `json:"pid"`
	Home    string    `json:"home"`
	Binary  Stamp     `json:"binary"`
	Started time.Time `json:"started"`
	Calls   int64     `json:"calls"`
}

// Stamp identifies one build of a file on disk: its path, size and modification time.
type Stamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time"` // Unix nanoseconds
}

// StampOf stamps the file at path.
func StampOf(path string) (Stamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	return Stamp{Path: path, Size: st.Size(), ModTime: st.ModTime().UnixNano()}, nil
}

// DaemonDisabled reports whether DaemonVar turns the daemon off.
func DaemonDisabled(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv(DaemonVar))) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// DaemonTimeout is DaemonTimeoutVar, or the default when unset or invalid.
func DaemonTimeout(getenv func(string) string) time.Duration {
	if d, err := time.ParseDuration(getenv(DaemonTimeoutVar)); err == nil && d > 0 {
		return d
	}
	return DefaultDaemonTimeout
}

// maxSocketPath keeps a socket path within sun_path on every Unix (104 bytes on macOS).
const maxSocketPath = 100

// SocketPath is where the daemon of the data home home listens: hookd.sock in the home, or,
// when that path is too long for a Unix socket, a name derived from the home in a private
// per-user directory under the temporary directory.
func SocketPath(home string) string {
	if p := filepath.Join(home, "hookd.sock"); len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(home))
	return filepath.Join(privateRunDir(), hex.EncodeToString(sum[:12])+".sock")
}

// privateRunDir is the per-user directory for sockets whose home path is too long.
func privateRunDir() string {
	return filepath.Join(os.TempDir(), "cavra-"+strconv.Itoa(os.Getuid()))
}

// LockPath is the file the running daemon holds locked, beside its socket.
func LockPath(socket string) string { return strings.TrimSuffix(socket, ".sock") + ".lock" }

// WriteMessage writes v as one length-prefixed JSON message.
func WriteMessage(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > maxDaemonMessage {
		return fmt.Errorf("message of %d bytes is over the limit of %d", len(body), maxDaemonMessage)
	}
	frame := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	_, err = w.Write(append(frame, body...))
	return err
}

// ReadMessage reads one length-prefixed JSON message into v.
func ReadMessage(r io.Reader, v any) error {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > maxDaemonMessage {
		return fmt.Errorf("message of %d bytes is over the limit of %d", n, maxDaemonMessage)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// errNoDaemon means nothing listens on the socket: the daemon is to be started.
var errNoDaemon = errors.New("no hook daemon")

// DialDaemon connects to the daemon listening on socket. It refuses a socket in a directory
// another user could have planted it in, and a peer that is not this user (where the system
// says who the peer is). It returns errNoDaemon when nothing listens there.
func DialDaemon(ctx context.Context, socket string) (net.Conn, error) {
	if err := checkSocketDir(filepath.Dir(socket)); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || isConnRefused(err) {
			return nil, errNoDaemon
		}
		return nil, err
	}
	if err := checkPeer(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Exchange sends req on conn and reads the answer, within deadline.
func Exchange(conn net.Conn, req DaemonRequest, deadline time.Time) (DaemonResponse, error) {
	var resp DaemonResponse
	if err := conn.SetDeadline(deadline); err != nil {
		return resp, err
	}
	if err := WriteMessage(conn, req); err != nil {
		return resp, fmt.Errorf("send to hook daemon: %w", err)
	}
	if err := ReadMessage(conn, &resp); err != nil {
		return resp, fmt.Errorf("read hook daemon answer: %w", err)
	}
	return resp, nil
}

// runLocal answers a local-mode hook call through the daemon. Without a daemon it starts one
// and hands this call over to the full binary before reading stdin; when the daemon cannot
// answer (stale, broken, too slow) the full binary answers the payload already read.
func runLocal(ctx context.Context, p Proc, args []string) int {
	cavraPath, err := findCavra(p)
	if err != nil {
		return failClosed(p, err)
	}
	if DaemonDisabled(p.Getenv) || !daemonSupported {
		return handOverTo(p, cavraPath, args)
	}
	home, err := homeDir(p.Getenv)
	if err != nil || !filepath.IsAbs(home) {
		// The full binary reports a home it cannot find in its own words.
		return handOverTo(p, cavraPath, args)
	}
	binStamp, err := StampOf(cavraPath)
	if err != nil {
		return handOverTo(p, cavraPath, args)
	}
	socket := SocketPath(home)
	dialCtx, cancel := context.WithTimeout(ctx, time.Second)
	conn, err := DialDaemon(dialCtx, socket)
	cancel()
	if err != nil {
		if errors.Is(err, errNoDaemon) {
			StartDaemon(p, cavraPath, home)
		}
		return handOverTo(p, cavraPath, args)
	}
	defer conn.Close()
	data, err := ReadPayload(p.Stdin)
	if err != nil {
		return failClosed(p, err)
	}
	var dir string
	if p.Getwd != nil {
		dir, _ = p.Getwd()
	}
	resp, err := Exchange(conn, DaemonRequest{
		Args:    args,
		Env:     p.Environ,
		Dir:     dir,
		Binary:  binStamp,
		Payload: data,
	}, time.Now().Add(DaemonTimeout(p.Getenv)))
	if err != nil || resp.Stale != "" {
		// The full binary answers instead: a daemon that did not answer may still have
		// recorded the call, and two records of one call are better than none.
		code, err := runCavraAt(ctx, p, cavraPath, args, data, nil)
		if err != nil {
			return failClosed(p, err)
		}
		return code
	}
	if _, err := p.Stdout.Write(resp.Stdout); err != nil {
		fmt.Fprintln(p.Stderr, "cavra:", err)
		return exitBlock
	}
	p.Stderr.Write(resp.Stderr)
	return resp.Code
}

// StartDaemon starts `cavra hook daemon` for home in the background. It is best effort: the
// daemon makes sure only one runs per home, and the call that starts it is answered without it.
func StartDaemon(p Proc, cavraPath, home string) {
	cmd := exec.Command(cavraPath, "hook", "daemon", "--log-file", filepath.Join(home, DaemonLogFile))
	env := withoutVar(withoutVar(p.Environ, RemoteFailedVar), homedir.EnvVar)
	cmd.Env = append(env, homedir.EnvVar+"="+home)
	// Not the agent's working directory: a daemon must not keep a project directory busy.
	cmd.Dir = string(filepath.Separator)
	if p.Spawn != nil {
		_ = p.Spawn(cmd)
	}
}

// DaemonLogFile is the daemon's log in the data home.
const DaemonLogFile = "hookd.log"

func homeDir(getenv func(string) string) (string, error) { return homedir.Dir(getenv) }
