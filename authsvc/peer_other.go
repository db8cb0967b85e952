//go:build !linux && !windows

package authsvc

import "net"

// checkPeer relies on the socket's mode where peer credentials are not
// read.
func checkPeer(net.Conn) error { return nil }
