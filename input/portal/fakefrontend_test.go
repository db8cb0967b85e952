//go:build linux || freebsd || netbsd || openbsd

package portal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// fakeFrontend plays xdg-desktop-portal 1.17 or newer (RemoteDesktop
// version 2) on a private bus, for what Debian 12's frontend (1.16,
// version 1) cannot carry: persist_mode and the restore token. It follows
// the documented client side of the interface: Request objects at the
// path made of the caller's unique name and handle_token, answers by a
// Response signal, restore tokens good for one start each.
type fakeFrontend struct {
	conn *dbus.Conn

	mu       sync.Mutex
	asked    int
	starts   int
	valid    map[string]bool // tokens handed out and not yet used
	issued   int
	selects  []string // "persist=N restore=TOKEN" per SelectDevices
	persist  uint32
	restore  string
	remember bool // the user leaves "remember" ticked
}

func startFakeFrontend(tb testing.TB, addr string) *fakeFrontend {
	tb.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	f := &fakeFrontend{conn: conn, valid: map[string]bool{}, remember: true}
	if err := conn.Export(fakeFrontendRD{f}, objPath, ifaceRD); err != nil {
		tb.Fatal(err)
	}
	if _, err := prop.Export(conn, objPath, prop.Map{ifaceRD: {
		"AvailableDeviceTypes": {Value: uint32(3), Emit: prop.EmitFalse},
		"version":              {Value: uint32(2), Emit: prop.EmitFalse},
	}}); err != nil {
		tb.Fatal(err)
	}
	if r, err := conn.RequestName(busName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		tb.Fatalf("taking %s: %v, %v", busName, r, err)
	}
	return f
}

// respond answers a request the way the portal documents: a Response
// signal on /org/freedesktop/portal/desktop/request/SENDER/TOKEN, where
// SENDER is the caller's unique name without ':' and with '.' as '_'.
func (f *fakeFrontend) respond(sender dbus.Sender, opts vardict, code uint32, res vardict) (dbus.ObjectPath, *dbus.Error) {
	tok, _ := opts["handle_token"].Value().(string)
	if tok == "" {
		return "", dbus.MakeFailedError(errors.New("no handle_token"))
	}
	s := strings.ReplaceAll(strings.TrimPrefix(string(sender), ":"), ".", "_")
	path := dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + s + "/" + tok)
	// The answer goes out before the method's reply, as a quick portal's
	// can: a client that subscribes only once the call returns misses it.
	if err := f.conn.Emit(path, ifaceRequest+".Response", code, res); err != nil {
		return "", dbus.MakeFailedError(err)
	}
	return path, nil
}

type fakeFrontendRD struct{ f *fakeFrontend }

func (r fakeFrontendRD) CreateSession(sender dbus.Sender, opts vardict) (dbus.ObjectPath, *dbus.Error) {
	st, _ := opts["session_handle_token"].Value().(string)
	s := strings.ReplaceAll(strings.TrimPrefix(string(sender), ":"), ".", "_")
	session := "/org/freedesktop/portal/desktop/session/" + s + "/" + st
	r.f.conn.Export(fakeFrontendSession{}, dbus.ObjectPath(session), ifaceSession)
	return r.f.respond(sender, opts, 0, vardict{"session_handle": dbus.MakeVariant(session)})
}

func (r fakeFrontendRD) SelectDevices(sender dbus.Sender, session dbus.ObjectPath, opts vardict) (dbus.ObjectPath, *dbus.Error) {
	f := r.f
	f.mu.Lock()
	f.persist, _ = opts["persist_mode"].Value().(uint32)
	f.restore, _ = opts["restore_token"].Value().(string)
	f.selects = append(f.selects, "persist="+itoa(int(f.persist))+" restore="+f.restore)
	f.mu.Unlock()
	return f.respond(sender, opts, 0, vardict{})
}

func (r fakeFrontendRD) Start(sender dbus.Sender, session dbus.ObjectPath, parent string, opts vardict) (dbus.ObjectPath, *dbus.Error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if !f.valid[f.restore] {
		f.asked++
	}
	delete(f.valid, f.restore) // a token is good for one start
	res := vardict{"devices": dbus.MakeVariant(devKeyboard | devPointer)}
	if f.persist == persistUntilRevoked && f.remember {
		f.issued++
		tok := "tok-" + itoa(f.issued)
		f.valid[tok] = true
		res["restore_token"] = dbus.MakeVariant(tok)
	}
	return f.respond(sender, opts, 0, res)
}

// Asked returns how many starts asked the user, and the SelectDevices
// calls seen.
func (f *fakeFrontend) Asked() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked, slices.Clone(f.selects)
}

type fakeFrontendSession struct{}

func (fakeFrontendSession) Close() *dbus.Error { return nil }

// TestPortalRestoreTokenKeptAndReused: the first start asks the user and
// keeps the token the portal returns (mode 0600); the next start passes it
// with persist_mode 2 and is not asked; each start's new token replaces
// the used one; a start the user lets forget removes the used token.
func TestPortalRestoreTokenKeptAndReused(t *testing.T) {
	dir := shortTempDir(t)
	addr := startBus(t, requireDaemon(t), dir)
	f := startFakeFrontend(t, addr)
	state := filepath.Join(t.TempDir(), "state")
	tokenPath := filepath.Join(state, TokenFile)
	open := func() {
		t.Helper()
		inj, err := New(Options{BusAddress: addr, StateDir: state, ConsentTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		inj.Close()
	}
	stored := func() string {
		t.Helper()
		b, err := os.ReadFile(tokenPath)
		if err != nil {
			return "none (" + err.Error() + ")"
		}
		return strings.TrimSpace(string(b))
	}

	open()
	if asked, _ := f.Asked(); asked != 1 || stored() != "tok-1" {
		t.Fatalf("first start: asked %d, stored %q; want asked once and tok-1 kept", asked, stored())
	}
	if st, err := os.Stat(tokenPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v, %v; want 0600", st, err)
	}

	open()
	if asked, selects := f.Asked(); asked != 1 {
		t.Errorf("second start asked the user again (asked %d); selects %q", asked, selects)
	}
	if got := stored(); got != "tok-2" {
		t.Errorf("after the second start the state dir holds %q, want the new token tok-2", got)
	}

	f.mu.Lock()
	f.valid = map[string]bool{} // the user revoked the permission
	f.remember = false          // and, asked again, does not let it be kept
	f.mu.Unlock()
	open()
	asked, selects := f.Asked()
	if asked != 2 {
		t.Errorf("a revoked token did not make the portal ask (asked %d)", asked)
	}
	if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a used token with no new one: the file is still there (%v)", err)
	}
	want := []string{"persist=2 restore=", "persist=2 restore=tok-1", "persist=2 restore=tok-2"}
	if !slices.Equal(selects, want) {
		t.Errorf("SelectDevices saw %q, want %q", selects, want)
	}
}
