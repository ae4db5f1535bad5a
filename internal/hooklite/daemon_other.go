//go:build !unix

package hooklite

import (
	"errors"
	"net"
	"os/exec"
)

// There is no hook daemon without Unix sockets: local mode goes to the full binary.
const daemonSupported = false

func spawnDetached(*exec.Cmd) error { return errors.New("no hook daemon on this system") }

func checkSocketDir(string) error { return errNoDaemon }

func isConnRefused(error) bool { return false }

func checkPeer(net.Conn) error { return nil }
