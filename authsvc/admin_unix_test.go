//go:build !windows

package authsvc

import (
	"errors"
	"net"
	"os"
	"testing"
)

// checkAdminPrivate checks that only the owner can reach dir's admin
// socket.
func checkAdminPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(AdminSocketPath(dir))
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
	env := newTestService(t, nil)
	// A socket left by a killed server: bound, then closed without unlink.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: AdminSocketPath(env.dir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	startService(t, env)
	if _, err := DialAdmin(env.dir); err != nil {
		t.Errorf("DialAdmin after replacing a stale socket: %v", err)
	}
}

func TestAdminSocketRemovedOnClose(t *testing.T) {
	env := newTestService(t, nil)
	startService(t, env)
	env.svc.Close()
	if _, err := os.Stat(AdminSocketPath(env.dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left after Close: %v", err)
	}
}
