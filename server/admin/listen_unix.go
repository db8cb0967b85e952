//go:build !windows

package admin

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// socketFile is the admin socket's name in the state dir.
const socketFile = "admin.sock"

// SocketPath returns the admin socket's path in stateDir.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, socketFile) }

// Listen opens stateDir's admin socket, removing a stale one and refusing
// when a live server answers on it.
func Listen(stateDir string) (net.Listener, error) {
	path := SocketPath(stateDir)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("another server is running on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The dir is 0700 already, so the moment between bind and chmod is
	// not an opening.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("setting socket mode: %w", err)
	}
	return ln, nil
}

// dial connects to the admin socket in dir.
func dial(dir string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", SocketPath(dir), timeout)
}
