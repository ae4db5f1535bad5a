//go:build !unix

package cli

import (
	"errors"
	"os"
)

var errDaemonRunning = errors.New("a hook daemon already runs for this data home")

// lockDaemon: without Unix sockets cavra-hook never asks a daemon, so none runs.
func lockDaemon(string) (*os.File, error) {
	return nil, errors.New("the hook daemon needs Unix sockets")
}
