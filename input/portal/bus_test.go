//go:build linux || freebsd || netbsd || openbsd

package portal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"go.uber.org/goleak"

	pollpkg "github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// frontendPaths are where distributions install the xdg-desktop-portal
// frontend (Debian and Fedora use libexec, Arch lib).
var frontendPaths = []string{
	"/usr/libexec/xdg-desktop-portal",
	"/usr/lib/xdg-desktop-portal",
	"/usr/lib/xdg-desktop-portal/xdg-desktop-portal",
}

// requireDaemon returns the path of dbus-daemon. A missing one skips the
// test with the install line; with CI=true it fails it, because CI installs
// it (scripts/deps.sh test).
func requireDaemon(tb testing.TB) string {
	tb.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		missing(tb, "dbus-daemon", "dbus-daemon")
	}
	return daemon
}

// requireFrontend returns the path of the xdg-desktop-portal frontend, or
// skips (fails under CI=true) as requireDaemon does.
func requireFrontend(tb testing.TB) string {
	tb.Helper()
	for _, p := range frontendPaths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	missing(tb, "xdg-desktop-portal ("+strings.Join(frontendPaths, ", ")+")", "xdg-desktop-portal")
	return ""
}

func missing(tb testing.TB, what, pkg string) {
	tb.Helper()
	msg := fmt.Sprintf("missing %s; install with: sudo apt-get install -y %s", what, pkg)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// startBus starts a private dbus-daemon on a socket in dir and returns its
// address. It is stopped when the test ends.
func startBus(tb testing.TB, daemon, dir string) string {
	tb.Helper()
	conf := filepath.Join(dir, "bus.conf")
	// A session bus that lets everyone on it own any name and talk to
	// anyone, with no service activation: every service the test needs it
	// starts itself.
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	// dbus-daemon warns on stderr that it may not raise its fd limit;
	// that and anything else it says is shown only when the test fails.
	var errBuf syncbuf.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting dbus-daemon: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("dbus-daemon's stderr:\n%s", errBuf.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("reading dbus-daemon's address: %v", err)
	}
	return strings.TrimSpace(line)
}

// startFrontend starts the real xdg-desktop-portal frontend on the bus at
// addr with the fake backend (registered as fakeBusName) as its only
// portal implementation, and waits until it offers RemoteDesktop. With
// withBackend false it has no backend at all, as a desktop without
// xdg-desktop-portal-gnome or -kde, and the wait is for its Trash
// portal, which the frontend always offers.
func startFrontend(tb testing.TB, frontend, addr, dir string, withBackend bool) {
	tb.Helper()
	portals := filepath.Join(dir, "share", "xdg-desktop-portal", "portals")
	confDir := filepath.Join(dir, "config", "xdg-desktop-portal")
	for _, d := range []string{portals, confDir, filepath.Join(dir, "data"), filepath.Join(dir, "runtime")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	// Up to 1.16 the frontend picks a backend by UseIn against
	// $XDG_CURRENT_DESKTOP, in $XDG_DESKTOP_PORTAL_DIR; from 1.17 on it
	// reads portals.conf, and $XDG_DATA_DIRS. Both are laid out.
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	if withBackend {
		write(filepath.Join(portals, "mfdfake.portal"), "[portal]\nDBusName="+fakeBusName+
			"\nInterfaces=org.freedesktop.impl.portal.RemoteDesktop;\nUseIn=mfdfake\n")
	}
	write(filepath.Join(confDir, "portals.conf"), "[preferred]\ndefault=mfdfake\n")

	cmd := exec.Command(frontend, "--verbose", "--replace")
	cmd.Env = append(os.Environ(),
		"DBUS_SESSION_BUS_ADDRESS="+addr,
		"XDG_DESKTOP_PORTAL_DIR="+portals,
		"XDG_DATA_DIRS="+filepath.Join(dir, "share"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"XDG_CURRENT_DESKTOP=mfdfake",
		"GIO_USE_VFS=local",
		"GSETTINGS_BACKEND=memory",
	)
	logf, err := os.Create(filepath.Join(dir, "frontend.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", frontend, err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if tb.Failed() {
			b, _ := os.ReadFile(logf.Name())
			tb.Logf("xdg-desktop-portal's log:\n%s", b)
		}
	})

	conn, err := dbus.Connect(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	obj := conn.Object(busName, objPath)
	pollpkg.Until(tb, 20*time.Second, 20*time.Millisecond, func() error {
		iface := ifaceRD
		if !withBackend {
			iface = "org.freedesktop.portal.Trash"
		}
		_, err := obj.GetProperty(iface + ".version")
		return err
	})
}
