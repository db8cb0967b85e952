//go:build !windows

package admin

import (
	"errors"
	"net"
	"os"
	"testing"
)

// checkPrivate checks that only the owner can reach dir's admin socket.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v, want socket 0600", fi.Mode())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", di.Mode().Perm())
	}
}

func TestAdminSocketStale(t *testing.T) {
	dir := stateDir(t)
	// A socket left by a killed server: bound, then closed without unlink.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: SocketPath(dir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	serve(t, dir, &fakeHandler{})
	if _, err := Dial(dir); err != nil {
		t.Errorf("Dial after replacing a stale socket: %v", err)
	}
}

func TestAdminSocketRemovedOnClose(t *testing.T) {
	dir := stateDir(t)
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := os.Stat(SocketPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left after Close: %v", err)
	}
}
