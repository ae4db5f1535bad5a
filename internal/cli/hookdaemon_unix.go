//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// errDaemonRunning means another daemon holds the data home's daemon lock.
var errDaemonRunning = errors.New("a hook daemon already runs for this data home")

// lockDaemon takes the daemon lock at path, which the process holds until it exits.
func lockDaemon(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open hook daemon lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDaemonRunning
		}
		return nil, fmt.Errorf("lock hook daemon: %w", err)
	}
	return f, nil
}
