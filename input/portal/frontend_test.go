//go:build linux || freebsd || netbsd || openbsd

package portal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/openmfd/mfd/input"
	pollpkg "github.com/openmfd/mfd/internal/poll"
)

// portalRig is a private session bus with the real xdg-desktop-portal
// frontend and the fake backend behind it.
type portalRig struct {
	addr    string
	fake    *fakeBackend
	version uint32 // the frontend's RemoteDesktop version
}

func newPortalRig(t *testing.T) *portalRig {
	t.Helper()
	daemon, frontend := requireDaemon(t), requireFrontend(t)
	dir := shortTempDir(t)
	addr := startBus(t, daemon, dir)
	fake := startFakeBackend(t, addr)
	startFrontend(t, frontend, addr, dir, true)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v, err := conn.Object(busName, objPath).GetProperty(ifaceRD + ".version")
	if err != nil {
		t.Fatal(err)
	}
	return &portalRig{addr: addr, fake: fake, version: v.Value().(uint32)}
}

// shortTempDir is a temporary directory with a path short enough for a
// Unix socket (108 bytes), which t.TempDir's long names can exceed.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mfdp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *portalRig) open(t *testing.T, stateDir string) input.Injector {
	t.Helper()
	inj, err := New(Options{BusAddress: r.addr, StateDir: stateDir, ConsentTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("New through the frontend: %v", err)
	}
	t.Cleanup(func() { inj.Close() })
	return inj
}

// waitCalls waits until the fake has recorded want after the first skip
// calls, and fails with the difference if it does not.
func (r *portalRig) waitCalls(t *testing.T, skip int, want []string) {
	t.Helper()
	pollpkg.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		got := r.fake.Calls()
		if len(got) < skip {
			return errors.New("fewer calls than before")
		}
		if got = got[skip:]; !slices.Equal(got, want) {
			return &callsDiff{got, want}
		}
		return nil
	})
}

type callsDiff struct{ got, want []string }

func (d *callsDiff) Error() string {
	return "the fake backend saw:\n  " + strings.Join(d.got, "\n  ") + "\nwant:\n  " + strings.Join(d.want, "\n  ")
}

// TestPortalSessionThroughFrontend opens the backend through the real
// frontend: the fake backend sees a session created, keyboard and pointer
// selected, and the user asked at Start; closing the injector closes the
// backend's session.
func TestPortalSessionThroughFrontend(t *testing.T) {
	r := newPortalRig(t)
	inj := r.open(t, t.TempDir())
	if inj.Backend() != "portal" {
		t.Errorf("Backend() = %q", inj.Backend())
	}
	if got, want := inj.Caps(), (input.Caps{Scroll: true}); got != want {
		t.Errorf("Caps() = %+v, want %+v (no Unicode promise, no absolute pointer without a stream)", got, want)
	}
	if err := inj.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	persist := 0
	if r.version >= 2 {
		persist = 2
	}
	r.waitCalls(t, 0, []string{
		"CreateSession",
		"SelectDevices types=3 persist=" + itoa(persist) + ` restore=""`,
		"Start asked the user",
		"SessionClose",
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestPortalInputThroughFrontend types, taps, holds, moves, clicks and
// scrolls through the real frontend, and checks what reached the fake
// backend: text as keysyms (Unicode keysyms past Latin-1, Enter as
// XK_Return), buttons as evdev codes, scrolling on both axes, and what was
// held released on Close.
func TestPortalInputThroughFrontend(t *testing.T) {
	r := newPortalRig(t)
	inj := r.open(t, "")
	start := len(r.fake.Calls())

	steps := []struct {
		name string
		do   func() error
	}{
		{"Type", func() error { return inj.Type("hé€😀\n") }},
		{"Tap", func() error { return inj.Tap("c", []string{"ctrl"}) }},
		{"KeyDown", func() error { return inj.KeyDown("shift") }},
		{"KeyDown again", func() error { return inj.KeyDown("shift") }},
		{"Tap with a held modifier", func() error { return inj.Tap("a", []string{"shift"}) }},
		{"Move", func() error { return inj.Move(10, -5, true) }},
		{"Click", func() error { return inj.Click(input.ButtonLeft, 1) }},
		{"Click right twice", func() error { return inj.Click(input.ButtonRight, 2) }},
		{"ButtonDown", func() error { return inj.ButtonDown(input.ButtonMiddle) }},
		{"Scroll", func() error { return inj.Scroll(2, -3) }},
		{"Scroll down", func() error { return inj.Scroll(0, 1) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if err := inj.Move(100, 100, false); !errors.Is(err, input.ErrUnsupported) {
		t.Errorf("Move(100, 100, abs) = %v, want ErrUnsupported", err)
	}
	if err := inj.Type("a\x01b"); err == nil {
		t.Errorf(`Type("a\x01b") = nil, want an error for the control character`)
	}
	if err := inj.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := inj.Type("x"); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Type after Close = %v, want ErrNoInput", err)
	}
	r.waitCalls(t, start, []string{
		"keysym 0x68 down", "keysym 0x68 up", // h
		"keysym 0xe9 down", "keysym 0xe9 up", // é: Latin-1
		"keysym 0x10020ac down", "keysym 0x10020ac up", // €: Unicode keysym
		"keysym 0x101f600 down", "keysym 0x101f600 up", // 😀
		"keysym 0xff0d down", "keysym 0xff0d up", // \n as Return
		"keysym 0xffe3 down", "keysym 0x63 down", "keysym 0x63 up", "keysym 0xffe3 up", // ctrl+c
		"keysym 0xffe1 down",                 // shift held
		"keysym 0x61 down", "keysym 0x61 up", // shift+a: the held shift is neither pressed again nor let go
		"motion 10 -5",
		"button 0x110 down", "button 0x110 up",
		"button 0x111 down", "button 0x111 up", "button 0x111 down", "button 0x111 up",
		"button 0x112 down",
		"axis 0 -3", "axis 1 2",
		"axis 0 1",
		// Close releases what is held, then closes the session.
		"keysym 0xffe1 up", "button 0x112 up",
		"SessionClose",
	})
}

// TestPortalConsentThroughFrontend opens the backend twice with one state
// dir. A frontend with RemoteDesktop version 2 (xdg-desktop-portal 1.17+)
// carries the restore token: the second start is not asked. Version 1
// (Debian 12's 1.16) cannot: the backend says so, asks at both starts and
// writes no token file.
func TestPortalConsentThroughFrontend(t *testing.T) {
	r := newPortalRig(t)
	state := t.TempDir()
	r.open(t, state).Close()
	r.open(t, state).Close()
	tokenPath := filepath.Join(state, TokenFile)
	calls := r.fake.Calls()
	selects := slices.DeleteFunc(slices.Clone(calls), func(c string) bool { return !strings.HasPrefix(c, "SelectDevices") })
	t.Logf("frontend RemoteDesktop version %d; backend saw %q", r.version, calls)
	if r.version < 2 {
		if got := r.fake.Asked(); got != 2 {
			t.Errorf("asked %d times, want 2: version 1 cannot restore", got)
		}
		if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("token file after a version 1 start: %v, want none", err)
		}
		return
	}
	if got := r.fake.Asked(); got != 1 {
		t.Errorf("asked %d times, want 1: the second start restores", got)
	}
	if len(selects) != 2 || !strings.Contains(selects[1], `restore="grant-1"`) {
		t.Errorf("SelectDevices calls = %q, want the second with the first grant's restore data", selects)
	}
	st, err := os.Stat(tokenPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, %v; want mode 0600", st, err)
	}
}

// TestPortalDeclinedThroughFrontend answers the consent dialog with
// Cancel: New fails with ErrRefused.
func TestPortalDeclinedThroughFrontend(t *testing.T) {
	r := newPortalRig(t)
	r.fake.mu.Lock()
	r.fake.decline = true
	r.fake.mu.Unlock()
	inj, err := New(Options{BusAddress: r.addr, ConsentTimeout: 20 * time.Second})
	if err == nil {
		inj.Close()
		t.Fatal("New with the user declining = nil error")
	}
	if !errors.Is(err, input.ErrRefused) {
		t.Errorf("New with the user declining = %v, want ErrRefused", err)
	}
}

// TestPortalKeyboardOnlyThroughFrontend grants the keyboard only: typing
// works, the pointer is refused with a clear error and caps say no scroll.
func TestPortalKeyboardOnlyThroughFrontend(t *testing.T) {
	r := newPortalRig(t)
	r.fake.mu.Lock()
	r.fake.grant = devKeyboard
	r.fake.mu.Unlock()
	inj := r.open(t, "")
	if inj.Caps().Scroll {
		t.Error("Caps().Scroll with no pointer granted = true")
	}
	if err := inj.Type("k"); err != nil {
		t.Errorf("Type = %v", err)
	}
	if err := inj.Click(input.ButtonLeft, 1); !errors.Is(err, input.ErrRefused) {
		t.Errorf("Click without a pointer = %v, want ErrRefused", err)
	}
}

// TestPortalDesktopEndsSession closes the session from the backend's side,
// as GNOME's "stop sharing" does: later input answers ErrNoInput instead
// of vanishing.
func TestPortalDesktopEndsSession(t *testing.T) {
	r := newPortalRig(t)
	inj := r.open(t, "")
	if err := inj.Type("a"); err != nil {
		t.Fatal(err)
	}
	session := inj.(*injector).session
	if err := r.fake.conn.Emit(session, "org.freedesktop.impl.portal.Session.Closed"); err != nil {
		t.Fatal(err)
	}
	pollpkg.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if err := inj.Type("a"); !errors.Is(err, input.ErrNoInput) {
			return errors.New("Type after the desktop ended the session did not fail with ErrNoInput")
		}
		return nil
	})
}

// TestPortalWithoutBackend runs the frontend with no RemoteDesktop
// backend, as on a desktop without xdg-desktop-portal-gnome or -kde: New
// fails at once with ErrNoInput and says what is missing, so auto
// detection moves on.
func TestPortalWithoutBackend(t *testing.T) {
	daemon, frontend := requireDaemon(t), requireFrontend(t)
	dir := shortTempDir(t)
	addr := startBus(t, daemon, dir)
	startFrontend(t, frontend, addr, dir, false)
	inj, err := New(Options{BusAddress: addr, ConsentTimeout: 20 * time.Second})
	if err == nil {
		inj.Close()
		t.Fatal("New without a RemoteDesktop backend = nil error")
	}
	if !errors.Is(err, input.ErrNoInput) || !strings.Contains(err.Error(), "GNOME or KDE backend") {
		t.Errorf("New without a RemoteDesktop backend = %v, want ErrNoInput naming the missing backend", err)
	}
}

// TestPortalConsentLeftOpen never answers the consent dialog: New gives up
// after ConsentTimeout with ErrNoInput, and closes its request so the
// dialog goes away.
func TestPortalConsentLeftOpen(t *testing.T) {
	r := newPortalRig(t)
	r.fake.mu.Lock()
	r.fake.hang = make(chan struct{})
	r.fake.mu.Unlock()
	defer close(r.fake.hang)
	inj, err := New(Options{BusAddress: r.addr, ConsentTimeout: 300 * time.Millisecond})
	if err == nil {
		inj.Close()
		t.Fatal("New with the dialog left open = nil error")
	}
	if !errors.Is(err, input.ErrNoInput) || !strings.Contains(err.Error(), "dialog") {
		t.Errorf("New with the dialog left open = %v, want ErrNoInput about the dialog", err)
	}
	pollpkg.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !slices.Contains(r.fake.Calls(), "RequestClose") {
			return errors.New("the backend's request (its dialog) was not closed")
		}
		return nil
	})
}
