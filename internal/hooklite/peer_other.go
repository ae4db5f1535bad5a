//go:build !linux

package hooklite

import "net"

// PeerUID cannot tell the peer here; the socket directory's ownership and mode guard it.
func PeerUID(net.Conn) (uid int, ok bool, err error) { return 0, false, nil }
