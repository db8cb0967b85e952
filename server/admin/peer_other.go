//go:build !linux && !windows

package admin

import "net"

// checkPeer relies on the socket's mode where peer credentials are not
// read.
func checkPeer(net.Conn) error { return nil }
