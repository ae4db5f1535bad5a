//go:build unix

package hooklite

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
)

const daemonSupported = true

// spawnDetached starts cmd in a session of its own with no terminal and no inherited streams,
// so the host waiting on this hook's output does not wait on the daemon too.
func spawnDetached(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// checkSocketDir refuses a socket directory that is not this user's alone: whoever can create
// the socket there could answer this user's hooks.
func checkSocketDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errNoDaemon
		}
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("hook daemon directory %s is not a directory", dir)
	case ok && int(sys.Uid) != os.Getuid():
		return fmt.Errorf("hook daemon directory %s belongs to another user", dir)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("hook daemon directory %s is writable by others", dir)
	}
	return nil
}

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// checkPeer refuses a daemon run by another user, where the system can tell.
func checkPeer(conn net.Conn) error {
	uid, ok, err := PeerUID(conn)
	if err != nil {
		return fmt.Errorf("hook daemon peer: %w", err)
	}
	if ok && uid != os.Getuid() {
		return fmt.Errorf("hook daemon socket is held by user %d", uid)
	}
	return nil
}
