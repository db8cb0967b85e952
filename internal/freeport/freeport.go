// Package freeport finds a free TCP port on the loopback address, for
// tests and the bench that must name a port before a program listens on it
// (a child process's flag, a config file).
package freeport

import (
	"fmt"
	"net"
	"testing"
)

// Get returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller does; callers that can listen on
// port 0 themselves should do that instead.
func Get() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Must is Get for tests: it fails tb when no port can be had.
func Must(tb testing.TB) int {
	tb.Helper()
	p, err := Get()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
