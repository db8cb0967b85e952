//go:build linux || freebsd || netbsd || openbsd

package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
	"github.com/openmfd/mfd/internal/atomicfile"
)

func init() {
	input.Register(input.Backend{
		Name:   Name,
		Order:  Order,
		Detect: Detect,
		Open: func(o input.Options) (input.Injector, error) {
			return New(Options{StateDir: o.StateDir, Logger: o.Logger})
		},
	})
}

// The portal's names, as xdg-desktop-portal documents them.
const (
	busName      = "org.freedesktop.portal.Desktop"
	objPath      = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	ifaceRD      = "org.freedesktop.portal.RemoteDesktop"
	ifaceRequest = "org.freedesktop.portal.Request"
	ifaceSession = "org.freedesktop.portal.Session"
)

// Device types of SelectDevices and of Start's "devices" result.
const (
	devKeyboard uint32 = 1
	devPointer  uint32 = 2
)

// persistUntilRevoked is persist_mode 2: the permission lasts until the
// user revokes it.
const persistUntilRevoked uint32 = 2

// Pointer buttons are evdev codes (linux/input-event-codes.h).
const (
	btnLeft   int32 = 0x110
	btnRight  int32 = 0x111
	btnMiddle int32 = 0x112
)

// DefaultConsentTimeout is Options.ConsentTimeout when it is zero: long
// enough for a user to read the desktop's dialog and answer it.
const DefaultConsentTimeout = 2 * time.Minute

// Options configures New. The zero value uses the session bus, keeps no
// restore token and logs nothing.
type Options struct {
	// BusAddress is the D-Bus address of the session bus; empty means
	// $DBUS_SESSION_BUS_ADDRESS (or the bus in $XDG_RUNTIME_DIR).
	BusAddress string
	// StateDir is where the restore token is kept (TokenFile, mode
	// 0600); empty keeps none, and the desktop asks at every start.
	StateDir string
	// ConsentTimeout bounds how long New waits for the user to answer the
	// desktop's consent dialog. Zero means DefaultConsentTimeout.
	ConsentTimeout time.Duration
	// Logger receives debug and info records; nil discards them.
	Logger *slog.Logger
}

var _ input.Injector = (*injector)(nil)

// errClosed is returned by the methods of a closed injector, and after the
// desktop ended the session (the user stopped sharing).
var errClosed = fmt.Errorf("the remote desktop session is closed: %w", input.ErrNoInput)

// injector drives the desktop through a started RemoteDesktop session.
// mu serialises every call, so events reach the portal in order.
type injector struct {
	conn    *dbus.Conn
	portal  dbus.BusObject
	session dbus.ObjectPath
	devices uint32 // what the user granted
	log     *slog.Logger

	mu        sync.Mutex
	closed    bool
	heldKeys  map[string]uint32 // canonical key name -> keysym
	heldOrder []string
	heldBtns  map[input.Button]bool

	// ended is closed when the portal closes the session on its own.
	ended     chan struct{}
	endedOnce sync.Once
	waiters   sync.Map     // request path -> chan *dbus.Signal
	watched   atomic.Value // the session path dispatch watches, once known
}

// New connects to the session bus, creates a RemoteDesktop session for
// keyboard and pointer, and starts it, which makes the desktop ask the user
// unless a restore token from an earlier consent is in the state dir. It
// returns once the user has answered. The token the portal hands back is
// stored for the next start.
func New(opts Options) (input.Injector, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	timeout := opts.ConsentTimeout
	if timeout == 0 {
		timeout = DefaultConsentTimeout
	}
	var conn *dbus.Conn
	var err error
	if opts.BusAddress != "" {
		conn, err = dbus.Connect(opts.BusAddress)
	} else {
		conn, err = dbus.ConnectSessionBus()
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the session bus: %v: %w", err, input.ErrNoInput)
	}
	x := &injector{
		conn:     conn,
		portal:   conn.Object(busName, objPath),
		log:      log,
		heldKeys: map[string]uint32{},
		heldBtns: map[input.Button]bool{},
		ended:    make(chan struct{}),
	}
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	go x.dispatch(sigs)
	if err := x.start(opts.StateDir, timeout); err != nil {
		x.closeSession()
		conn.Close()
		return nil, err
	}
	return x, nil
}

// dispatch hands Response signals to the request waiting for them and
// notices the portal closing the session. It ends when the connection
// closes, which closes sigs.
func (x *injector) dispatch(sigs <-chan *dbus.Signal) {
	for s := range sigs {
		switch {
		case s.Name == ifaceRequest+".Response":
			if ch, ok := x.waiters.Load(s.Path); ok {
				select {
				case ch.(chan *dbus.Signal) <- s:
				default:
				}
			}
		case s.Name == ifaceSession+".Closed" && s.Path == x.watched.Load():
			x.log.Info("the desktop ended the remote desktop session")
			x.endedOnce.Do(func() { close(x.ended) })
		}
	}
}

// start runs CreateSession, SelectDevices and Start.
func (x *injector) start(stateDir string, consentTimeout time.Duration) error {
	v, err := x.portal.GetProperty(ifaceRD + ".version")
	if err != nil {
		return fmt.Errorf("asking the desktop portal for RemoteDesktop: %v (is xdg-desktop-portal with a GNOME or KDE backend running?): %w", err, input.ErrNoInput)
	}
	version, _ := v.Value().(uint32)
	if av, err := x.portal.GetProperty(ifaceRD + ".AvailableDeviceTypes"); err == nil {
		if t, _ := av.Value().(uint32); t&devKeyboard == 0 {
			return fmt.Errorf("the desktop's RemoteDesktop portal offers no keyboard (device types %#x): %w", t, input.ErrNoInput)
		}
	}

	sessionToken := newToken()
	res, err := x.request("CreateSession", 10*time.Second, func(handleToken string) *dbus.Call {
		return x.portal.Call(ifaceRD+".CreateSession", 0, map[string]dbus.Variant{
			"handle_token":         dbus.MakeVariant(handleToken),
			"session_handle_token": dbus.MakeVariant(sessionToken),
		})
	})
	if err != nil {
		return fmt.Errorf("creating a remote desktop session: %w", err)
	}
	// The result is a string, not an object path, in every portal version.
	sh, _ := res["session_handle"].Value().(string)
	if sh == "" {
		return fmt.Errorf("creating a remote desktop session: the portal returned no session handle: %w", input.ErrNoInput)
	}
	x.session = dbus.ObjectPath(sh)
	x.watched.Store(x.session)
	x.conn.AddMatchSignal(dbus.WithMatchObjectPath(x.session), dbus.WithMatchInterface(ifaceSession), dbus.WithMatchMember("Closed"))

	tokenPath := ""
	if stateDir != "" {
		tokenPath = filepath.Join(stateDir, TokenFile)
	}
	sel := map[string]dbus.Variant{"types": dbus.MakeVariant(devKeyboard | devPointer)}
	restoring := false
	if version >= 2 {
		// persist_mode and restore_token came with version 2; older portals
		// drop them, and ask at every start.
		sel["persist_mode"] = dbus.MakeVariant(persistUntilRevoked)
		if tok := readToken(tokenPath, x.log); tok != "" {
			sel["restore_token"] = dbus.MakeVariant(tok)
			restoring = true
		}
	} else {
		// Nor can ScreenCast.SelectSources on this session stand in: from
		// 1.12 to 1.16 the frontend answers a remote desktop session's
		// persist_mode or restore_token with "Remote desktop sessions
		// cannot persist" (or "cannot be restored").
		x.log.Info("this xdg-desktop-portal's RemoteDesktop cannot remember consent (version 1; 1.17 or newer can): the desktop asks at every start", "version", version)
	}
	if _, err := x.request("SelectDevices", 10*time.Second, func(handleToken string) *dbus.Call {
		sel["handle_token"] = dbus.MakeVariant(handleToken)
		return x.portal.Call(ifaceRD+".SelectDevices", 0, x.session, sel)
	}); err != nil {
		return fmt.Errorf("selecting keyboard and pointer: %w", err)
	}

	if restoring {
		x.log.Info("starting the remote desktop session with the stored consent")
	} else {
		x.log.Info("asking the desktop for remote control: answer its dialog")
	}
	res, err = x.request("Start", consentTimeout, func(handleToken string) *dbus.Call {
		return x.portal.Call(ifaceRD+".Start", 0, x.session, "", map[string]dbus.Variant{
			"handle_token": dbus.MakeVariant(handleToken),
		})
	})
	if err != nil {
		return fmt.Errorf("starting the remote desktop session: %w", err)
	}
	x.devices, _ = res["devices"].Value().(uint32)
	if x.devices&devKeyboard == 0 {
		return fmt.Errorf("starting the remote desktop session: the user did not grant the keyboard (devices %#x): %w", x.devices, input.ErrRefused)
	}
	if version >= 2 && tokenPath != "" {
		tok, _ := res["restore_token"].Value().(string)
		if err := storeToken(tokenPath, tok); err != nil {
			// Input works; only the next start asks again.
			x.log.Warn("keeping the portal's restore token failed: the desktop will ask again at the next start", "err", err)
		}
	}
	return nil
}

// request calls a portal method that answers through a Request object's
// Response signal. It subscribes to the signal on the request path the
// portal will use before calling, so a quick answer is not missed, and
// waits at most timeout for it.
func (x *injector) request(what string, timeout time.Duration, call func(handleToken string) *dbus.Call) (map[string]dbus.Variant, error) {
	token := newToken()
	path := requestPath(x.conn.Names()[0], token)
	ch := make(chan *dbus.Signal, 1)
	x.waiters.Store(path, ch)
	defer x.waiters.Delete(path)
	match := []dbus.MatchOption{dbus.WithMatchObjectPath(path), dbus.WithMatchInterface(ifaceRequest), dbus.WithMatchMember("Response")}
	if err := x.conn.AddMatchSignal(match...); err != nil {
		return nil, fmt.Errorf("subscribing to the portal's answer: %v: %w", err, input.ErrNoInput)
	}
	defer x.conn.RemoveMatchSignal(match...)

	c := call(token)
	if c.Err != nil {
		return nil, fmt.Errorf("calling %s: %v: %w", what, c.Err, input.ErrNoInput)
	}
	var handle dbus.ObjectPath
	if err := c.Store(&handle); err != nil {
		return nil, fmt.Errorf("reading %s's request handle: %v: %w", what, err, input.ErrNoInput)
	}
	if handle != path {
		// A portal older than 0.9 picks its own path; listen there too.
		x.waiters.Store(handle, ch)
		defer x.waiters.Delete(handle)
		m := []dbus.MatchOption{dbus.WithMatchObjectPath(handle), dbus.WithMatchInterface(ifaceRequest), dbus.WithMatchMember("Response")}
		x.conn.AddMatchSignal(m...)
		defer x.conn.RemoveMatchSignal(m...)
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case s := <-ch:
		var code uint32
		var res map[string]dbus.Variant
		if err := dbus.Store(s.Body, &code, &res); err != nil {
			return nil, fmt.Errorf("reading %s's answer: %v: %w", what, err, input.ErrNoInput)
		}
		switch code {
		case 0:
			return res, nil
		case 1:
			return nil, fmt.Errorf("the user declined at the desktop's dialog: %w", input.ErrRefused)
		default:
			return nil, fmt.Errorf("the portal ended %s (response %d): %w", what, code, input.ErrNoInput)
		}
	case <-timer.C:
		x.conn.Object(busName, handle).Call(ifaceRequest+".Close", 0)
		return nil, fmt.Errorf("no answer to %s within %v (was the desktop's dialog left open?): %w", what, timeout, input.ErrNoInput)
	}
}

// requestPath is the object path the portal gives the request of sender
// (a unique bus name) with handle_token token, as the portal documents.
func requestPath(sender, token string) dbus.ObjectPath {
	s := strings.ReplaceAll(strings.TrimPrefix(sender, ":"), ".", "_")
	return dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + s + "/" + token)
}

// newToken returns a fresh handle token: the portal wants letters, digits
// and underscores only.
func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return "mfd_" + hex.EncodeToString(b[:])
}

// readToken returns the stored restore token, or "" if there is none.
func readToken(path string, log *slog.Logger) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("reading the portal's restore token failed: the desktop will ask again", "err", err)
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// storeToken keeps tok for the next start. A token is good for one start
// only, so with no new token the old one is removed.
func storeToken(path, tok string) error {
	if tok == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the used restore token: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the state dir: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the restore token: %w", err)
	}
	return nil
}

func (x *injector) Backend() string { return Name }

// Caps reports no Unicode (the desktop types only what its active layout
// maps, and drops the rest without telling the caller) and no absolute
// pointer (NotifyPointerMotionAbsolute needs a ScreenCast stream, which
// this backend does not open).
func (x *injector) Caps() input.Caps {
	return input.Caps{Scroll: x.devices&devPointer != 0}
}

// Screen is unknown: the portal tells no screen size without a ScreenCast
// stream.
func (x *injector) Screen() (w, h int) { return 0, 0 }

// notify calls a Notify method on the session. The caller holds mu.
func (x *injector) notify(method string, args ...any) error {
	if x.closed {
		return errClosed
	}
	select {
	case <-x.ended:
		return errClosed
	default:
	}
	all := append([]any{x.session, map[string]dbus.Variant{}}, args...)
	if c := x.portal.Call(ifaceRD+"."+method, 0, all...); c.Err != nil {
		return fmt.Errorf("calling %s: %v: %w", method, c.Err, input.ErrNoInput)
	}
	return nil
}

func (x *injector) keysym(sym uint32, down bool) error {
	return x.notify("NotifyKeyboardKeysym", int32(sym), state(down))
}

func state(down bool) uint32 {
	if down {
		return 1
	}
	return 0
}

// pointer reports an error when the user granted no pointer.
func (x *injector) pointer() error {
	if x.devices&devPointer == 0 {
		return fmt.Errorf("the user granted the keyboard only, not the pointer: %w", input.ErrRefused)
	}
	return nil
}

func (x *injector) KeyDown(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("pressing a key: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, held := x.heldKeys[k.Name]; held {
		return nil // a panel repeating a held key
	}
	if err := x.keysym(k.Keysym, true); err != nil {
		return fmt.Errorf("pressing %s: %w", k.Name, err)
	}
	x.heldKeys[k.Name] = k.Keysym
	x.heldOrder = append(x.heldOrder, k.Name)
	return nil
}

func (x *injector) KeyUp(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("releasing a key: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.releaseKey(k.Name)
}

// releaseKey releases a key KeyDown pressed; it does nothing for any
// other. The caller holds mu.
func (x *injector) releaseKey(name string) error {
	sym, ok := x.heldKeys[name]
	if !ok {
		return nil
	}
	delete(x.heldKeys, name)
	x.heldOrder = slices.DeleteFunc(x.heldOrder, func(n string) bool { return n == name })
	if err := x.keysym(sym, false); err != nil {
		return fmt.Errorf("releasing %s: %w", name, err)
	}
	return nil
}

// heldSym reports whether KeyDown holds sym, so that a tap neither presses
// it twice nor lets it go.
func (x *injector) heldSym(sym uint32) bool {
	for _, s := range x.heldKeys {
		if s == sym {
			return true
		}
	}
	return false
}

func (x *injector) Tap(name string, mods []string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("tapping a key: %w", err)
	}
	canon, err := keys.ParseMods(mods)
	if err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var press []uint32
	for _, m := range canon {
		mk, _ := keys.Lookup(m) // ParseMods returns only names the table has
		if !x.heldSym(mk.Keysym) {
			press = append(press, mk.Keysym)
		}
	}
	// Release what was pressed even when a call fails half way, so that no
	// modifier stays down.
	var errs []error
	pressed := press[:0:0]
	for _, s := range press {
		if err := x.keysym(s, true); err != nil {
			errs = append(errs, err)
			break
		}
		pressed = append(pressed, s)
	}
	if len(errs) == 0 {
		errs = append(errs, x.keysym(k.Keysym, true), x.keysym(k.Keysym, false))
	}
	for i := len(pressed) - 1; i >= 0; i-- {
		errs = append(errs, x.keysym(pressed[i], false))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	return nil
}

func (x *injector) Type(text string) error {
	syms := make([]uint32, 0, len(text))
	for _, r := range text {
		s, err := keys.RuneKeysym(r)
		if err != nil {
			return fmt.Errorf("typing text: %w", err)
		}
		syms = append(syms, s)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range syms {
		if err := x.keysym(s, true); err != nil {
			return fmt.Errorf("typing text: %w", err)
		}
		if err := x.keysym(s, false); err != nil {
			return fmt.Errorf("typing text: %w", err)
		}
	}
	return nil
}

// Move moves the pointer by px, py. An absolute move is unsupported:
// NotifyPointerMotionAbsolute takes coordinates in a ScreenCast stream,
// and this backend opens none.
func (x *injector) Move(px, py int, rel bool) error {
	if !rel {
		return fmt.Errorf("moving the pointer to %d, %d: the RemoteDesktop portal places the pointer only within a screen-cast stream: %w", px, py, input.ErrUnsupported)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.pointer(); err != nil {
		return fmt.Errorf("moving the pointer: %w", err)
	}
	if err := x.notify("NotifyPointerMotion", float64(px), float64(py)); err != nil {
		return fmt.Errorf("moving the pointer: %w", err)
	}
	return nil
}

// evdevButton maps a contract button to its evdev code.
func evdevButton(b input.Button) (int32, error) {
	switch b {
	case input.ButtonLeft:
		return btnLeft, nil
	case input.ButtonRight:
		return btnRight, nil
	case input.ButtonMiddle:
		return btnMiddle, nil
	}
	return 0, fmt.Errorf("unknown button %d", int(b))
}

func (x *injector) button(b input.Button, down bool) error {
	code, err := evdevButton(b)
	if err != nil {
		return err
	}
	if err := x.pointer(); err != nil {
		return err
	}
	return x.notify("NotifyPointerButton", code, state(down))
}

func (x *injector) ButtonDown(b input.Button) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.heldBtns[b] {
		return nil // a panel repeating a held button
	}
	if err := x.button(b, true); err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	x.heldBtns[b] = true
	return nil
}

func (x *injector) ButtonUp(b input.Button) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.heldBtns[b] {
		return nil
	}
	delete(x.heldBtns, b)
	if err := x.button(b, false); err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	return nil
}

func (x *injector) Click(b input.Button, count int) error {
	if count < 1 || count > 3 {
		return fmt.Errorf("clicking: count %d is not 1-3", count)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for range count {
		if err := x.button(b, true); err != nil {
			return fmt.Errorf("clicking: %w", err)
		}
		if err := x.button(b, false); err != nil {
			return fmt.Errorf("clicking: %w", err)
		}
	}
	return nil
}

// Scroll scrolls dy steps down (negative: up) and dx steps right, with
// discrete axis events: axis 0 is vertical, 1 horizontal, and positive
// steps go down and right as on a Wayland pointer.
func (x *injector) Scroll(dx, dy int) error {
	if err := input.CheckScroll(dx, dy); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.pointer(); err != nil {
		return fmt.Errorf("scrolling: %w", err)
	}
	if dy != 0 {
		if err := x.notify("NotifyPointerAxisDiscrete", uint32(0), int32(dy)); err != nil {
			return fmt.Errorf("scrolling: %w", err)
		}
	}
	if dx != 0 {
		if err := x.notify("NotifyPointerAxisDiscrete", uint32(1), int32(dx)); err != nil {
			return fmt.Errorf("scrolling: %w", err)
		}
	}
	return nil
}

// Close releases held keys (in reverse order of pressing) and buttons,
// closes the session and the bus connection. It is idempotent.
func (x *injector) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	var errs []error
	for i := len(x.heldOrder) - 1; i >= 0; i-- {
		errs = append(errs, x.releaseKey(x.heldOrder[i]))
	}
	for b := range x.heldBtns {
		delete(x.heldBtns, b)
		errs = append(errs, x.button(b, false))
	}
	x.closed = true
	x.closeSession()
	x.conn.Close()
	if err := errors.Join(errs...); err != nil && !errors.Is(err, errClosed) {
		return fmt.Errorf("releasing what was held: %w", err)
	}
	return nil
}

// closeSession asks the portal to close the session, bounded so a hung
// portal cannot hold Close.
func (x *injector) closeSession() {
	if x.session == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	x.conn.Object(busName, x.session).CallWithContext(ctx, ifaceSession+".Close", 0)
}
