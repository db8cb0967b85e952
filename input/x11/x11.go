//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

/*
#cgo LDFLAGS: -lX11 -lXtst
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>

// Xlib's default handlers print and exit the process on any protocol error
// and on a lost connection. The agent must outlive its display, so these
// record the failure instead. Each display is used on one thread only, so
// the flags are per thread.
static __thread int mfd_xerr;
static __thread int mfd_xdead;

static int mfd_on_error(Display *d, XErrorEvent *e) {
	if (mfd_xerr == 0) mfd_xerr = e->error_code;
	return 0;
}
static int mfd_on_io_error(Display *d) { mfd_xdead = 1; return 0; }
static void mfd_on_io_exit(Display *d, void *data) { mfd_xdead = 1; }

static void mfd_init(void) {
	XInitThreads();
	XSetErrorHandler(mfd_on_error);
	XSetIOErrorHandler(mfd_on_io_error);
}

static __thread int mfd_xkb_event = -1;

// mfd_open opens a display and asks for XKB keymap notifications: a client
// that uses XKB (Xlib does by itself) gets no core MappingNotify.
static Display *mfd_open(const char *name) {
	Display *d = XOpenDisplay(name);
	if (d == NULL) return NULL;
	XSetIOErrorExitHandler(d, mfd_on_io_exit, NULL);
	int op, ev, err, maj = XkbMajorVersion, min = XkbMinorVersion;
	if (XkbQueryExtension(d, &op, &ev, &err, &maj, &min)) {
		mfd_xkb_event = ev;
		unsigned int mask = XkbMapNotifyMask | XkbNewKeyboardNotifyMask;
		XkbSelectEvents(d, XkbUseCoreKbd, mask, mask);
	}
	return d;
}

static int mfd_has_xtest(Display *d) {
	int ev, err, maj, min;
	return XTestQueryExtension(d, &ev, &err, &maj, &min);
}

// mfd_sync waits until the server has handled every request and returns
// the first X error since the last call, -1 if the connection is gone.
static int mfd_sync(Display *d) {
	if (mfd_xdead) return -1;
	XSync(d, False);
	if (mfd_xdead) return -1;
	int e = mfd_xerr;
	mfd_xerr = 0;
	return e;
}

// mfd_drain reads every queued event and returns how many told of a
// keyboard mapping change.
static int mfd_drain(Display *d) {
	int n = 0;
	if (mfd_xdead) return 0;
	while (XPending(d) > 0) {
		XEvent ev;
		XNextEvent(d, &ev);
		if (ev.type == MappingNotify) {
			XRefreshKeyboardMapping(&ev.xmapping);
			if (ev.xmapping.request == MappingKeyboard) n++;
		} else if (mfd_xkb_event >= 0 && ev.type == mfd_xkb_event) {
			XkbEvent *xe = (XkbEvent *)&ev;
			if (xe->any.xkb_type == XkbNewKeyboardNotify ||
			    (xe->any.xkb_type == XkbMapNotify && (xe->map.changed & XkbKeySymsMask))) n++;
		}
	}
	return n;
}

static int mfd_screen_w(Display *d) { return DisplayWidth(d, DefaultScreen(d)); }
static int mfd_screen_h(Display *d) { return DisplayHeight(d, DefaultScreen(d)); }

static void mfd_key(Display *d, unsigned int kc, int down) {
	XTestFakeKeyEvent(d, kc, down ? True : False, CurrentTime);
}
static void mfd_button(Display *d, unsigned int b, int down) {
	XTestFakeButtonEvent(d, b, down ? True : False, CurrentTime);
}
static void mfd_move(Display *d, int x, int y) {
	XTestFakeMotionEvent(d, -1, x, y, CurrentTime);
}
static void mfd_move_rel(Display *d, int dx, int dy) {
	XTestFakeRelativeMotionEvent(d, dx, dy, CurrentTime);
}

// mfd_modifier_keycodes copies the keycodes of the modifier map into out
// (at most n) and returns how many it wrote.
static int mfd_modifier_keycodes(Display *d, unsigned char *out, int n) {
	XModifierKeymap *m = XGetModifierMapping(d);
	if (m == NULL) return 0;
	int w = 0;
	for (int i = 0; i < 8 * m->max_keypermod && w < n; i++) {
		if (m->modifiermap[i] != 0) out[w++] = m->modifiermap[i];
	}
	XFreeModifiermap(m);
	return w;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
)

// xkShiftL is the keysym of the left Shift key.
const xkShiftL = 0xffe1

var _ input.Injector = (*x11Injector)(nil)

// errClosed is returned by the methods of a closed x11Injector.
var errClosed = fmt.Errorf("x11 injector closed: %w", input.ErrNoInput)

// errConnLost is returned once the X connection is gone.
var errConnLost = fmt.Errorf("lost the X connection: %w", input.ErrNoInput)

// x11Injector drives an X server through XTest. Every X call runs on the
// goroutine started by New, locked to its OS thread; the methods hand
// it closures and wait for them. The fields after "Owned by the X
// goroutine" are touched only there; the rest are fixed by New.
type x11Injector struct {
	reqs      chan func()
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	w, h      int // fixed at open
	log       *slog.Logger
	delay     time.Duration
	hold      time.Duration

	// Owned by the X goroutine.
	dpy       *C.Display
	minKC     int
	perKC     int
	loc       map[uint32]keyLoc     // keysym -> where it is typed
	spares    []uint8               // keycodes with no keysyms, not modifiers
	temps     map[uint8]*tempBind   // spare keycodes we bound
	tempSym   map[uint32]uint8      // keysym -> spare keycode bound to it
	heldKeys  map[string]heldKey    // canonical key name -> what is down
	heldOrder []string              // press order, to release in reverse
	heldBtns  map[input.Button]bool // buttons we pressed
	restore   *time.Timer           // fires when a binding may be undone
	restoreC  <-chan time.Time      // restore.C while armed, else nil
	dead      bool                  // the connection is gone
	modKCs    map[uint8]bool        // keycodes in the modifier map
	shiftKC   uint8                 // a keycode with Shift_L at level 0, or 0
	keysBuf   []C.KeySym            // scratch row for XChangeKeyboardMapping
	lastUse   map[uint8]time.Time   // per temp keycode: when a client reads its last event
	readBy    time.Time             // when a client will have read all we sent
}

// keyLoc says how a keysym is typed: its keycode, with Shift or without.
type keyLoc struct {
	kc    uint8
	shift bool
}

// tempBind is a spare keycode bound to sym for a while.
type tempBind struct {
	sym    uint32
	pinned int // held keys that use it; never undone while positive
}

// heldKey is a key pressed by KeyDown and not yet released.
type heldKey struct {
	kc    uint8
	shift bool // Shift was pressed for it and is released after it
}

// New connects to the X display of opts (or $DISPLAY) and returns an
// Injector that drives it through the XTest extension. Without a display,
// or when the display cannot be opened or lacks XTest, the error wraps
// input.ErrNoInput: the caller then falls back to input.Unavailable. The Injector
// is safe for concurrent use; Close it to release what it holds.
func New(opts Options) (input.Injector, error) {
	name := opts.Display
	if name == "" {
		name = os.Getenv("DISPLAY")
	}
	if name == "" {
		return nil, fmt.Errorf("opening the X display: $DISPLAY is not set: %w", input.ErrNoInput)
	}
	x := &x11Injector{
		reqs:     make(chan func()),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		log:      opts.Logger,
		delay:    opts.KeyDelay,
		hold:     opts.KeymapHold,
		temps:    map[uint8]*tempBind{},
		tempSym:  map[uint32]uint8{},
		heldKeys: map[string]heldKey{},
		heldBtns: map[input.Button]bool{},
		lastUse:  map[uint8]time.Time{},
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	if x.hold <= 0 {
		x.hold = DefaultKeymapHold
	}
	ready := make(chan error, 1)
	go x.run(name, ready)
	if err := <-ready; err != nil {
		<-x.done
		return nil, err
	}
	return x, nil
}

var initXlib sync.Once

// run is the X goroutine: it opens the display, then runs requests until
// Close.
func (x *x11Injector) run(name string, ready chan<- error) {
	defer close(x.done)
	// Never unlocked: should Xlib leave anything thread-bound behind, the
	// thread dies with the goroutine.
	runtime.LockOSThread()
	initXlib.Do(func() { C.mfd_init() })

	cname := C.CString(name)
	x.dpy = C.mfd_open(cname)
	C.free(unsafe.Pointer(cname))
	if x.dpy == nil {
		ready <- fmt.Errorf("opening X display %q: %w", name, input.ErrNoInput)
		return
	}
	if C.mfd_has_xtest(x.dpy) == 0 {
		C.XCloseDisplay(x.dpy)
		ready <- fmt.Errorf("opening X display %q: no XTest extension: %w", name, input.ErrNoInput)
		return
	}
	x.w, x.h = int(C.mfd_screen_w(x.dpy)), int(C.mfd_screen_h(x.dpy))
	if err := x.loadKeymap(); err != nil {
		C.XCloseDisplay(x.dpy)
		ready <- fmt.Errorf("opening X display %q: %w", name, err)
		return
	}
	x.restore = time.NewTimer(time.Hour)
	x.restore.Stop()
	x.log.Debug("x11 injector ready", "display", name, "screen_w", x.w, "screen_h", x.h, "spare_keycodes", len(x.spares))
	ready <- nil

	for {
		select {
		case f := <-x.reqs:
			f()
			x.armRestore()
		case <-x.restoreC:
			x.restoreC = nil
			x.restoreIdle(false)
			x.armRestore()
		case <-x.quit:
			x.closeErr = x.shutdown()
			return
		}
	}
}

// do runs f on the X goroutine, unless the connection is gone, and
// returns its error wrapped with what (a gerund: "tapping a").
func (x *x11Injector) do(what string, f func() error) error {
	res := make(chan error, 1)
	run := func() {
		if x.dead {
			res <- errConnLost
			return
		}
		res <- f()
	}
	var err error
	select {
	case x.reqs <- run:
		err = <-res
	case <-x.done:
		err = errClosed
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// sync waits for the server to handle every request sent so far and
// reports an X error or a lost connection.
func (x *x11Injector) sync() error {
	if x.dead {
		return errConnLost
	}
	switch code := C.mfd_sync(x.dpy); {
	case code < 0:
		x.dead = true
		x.log.Warn("lost the X connection")
		return errConnLost
	case code > 0:
		return fmt.Errorf("X error code %d", int(code))
	}
	return nil
}

// loadKeymap reads the keyboard mapping and the modifier map, and works out
// where each keysym is typed and which keycodes are spare. Keycodes we have
// bound stay ours while the server still shows our keysym there.
func (x *x11Injector) loadKeymap() error {
	var minKC, maxKC C.int
	C.XDisplayKeycodes(x.dpy, &minKC, &maxKC)
	count := int(maxKC - minKC + 1)
	if count <= 0 || minKC < 0 || maxKC > 255 {
		return fmt.Errorf("reading the keymap: odd keycode range %d-%d", minKC, maxKC)
	}
	var per C.int
	p := C.XGetKeyboardMapping(x.dpy, C.KeyCode(minKC), C.int(count), &per)
	if p == nil || per <= 0 {
		return errors.New("reading the keymap: no mapping")
	}
	raw := unsafe.Slice(p, count*int(per))
	syms := make([]uint32, len(raw))
	for i, s := range raw {
		syms[i] = uint32(s)
	}
	C.XFree(unsafe.Pointer(p))

	var mods [256]C.uchar
	n := C.mfd_modifier_keycodes(x.dpy, &mods[0], C.int(len(mods)))
	x.modKCs = map[uint8]bool{}
	for _, kc := range mods[:n] {
		x.modKCs[uint8(kc)] = true
	}

	x.minKC, x.perKC = int(minKC), int(per)
	x.loc = make(map[uint32]keyLoc, count*2)
	x.spares = x.spares[:0]
	row := func(kc int) []uint32 {
		i := (kc - x.minKC) * x.perKC
		return syms[i : i+x.perKC]
	}
	for kc, b := range x.temps {
		if row(int(kc))[0] != b.sym {
			// Someone else remapped it: it is no longer ours to undo.
			x.log.Warn("keymap binding replaced by another client", "keycode", kc)
			delete(x.tempSym, b.sym)
			delete(x.temps, kc)
			delete(x.lastUse, kc)
		}
	}
	// Level 0 anywhere beats level 1 (Shift), and lower keycodes win, so
	// each keysym gets its plainest key.
	for level := 0; level < 2 && level < x.perKC; level++ {
		for kc := int(minKC); kc <= int(maxKC); kc++ {
			if _, ok := x.temps[uint8(kc)]; ok {
				continue
			}
			s := row(kc)[level]
			if s == 0 {
				continue
			}
			if _, ok := x.loc[s]; !ok {
				x.loc[s] = keyLoc{kc: uint8(kc), shift: level == 1}
			}
		}
	}
	for kc := int(maxKC); kc >= int(minKC); kc-- {
		if _, ok := x.temps[uint8(kc)]; ok || x.modKCs[uint8(kc)] {
			continue
		}
		if !slices.ContainsFunc(row(kc), func(s uint32) bool { return s != 0 }) {
			x.spares = append(x.spares, uint8(kc))
		}
	}
	for kc, b := range x.temps {
		x.loc[b.sym] = keyLoc{kc: kc}
	}
	x.shiftKC = 0
	if l, ok := x.loc[xkShiftL]; ok && !l.shift {
		x.shiftKC = l.kc
	}
	x.keysBuf = make([]C.KeySym, x.perKC)
	return nil
}

// refresh reads pending events and reloads the keymap if it changed since
// we last looked. Our own bindings change it too, so a reload follows
// typing characters the keymap lacks; that costs one round trip.
func (x *x11Injector) refresh() error {
	if x.dead {
		return errConnLost
	}
	if C.mfd_drain(x.dpy) == 0 {
		return nil
	}
	return x.loadKeymap()
}

// setRow maps keycode kc to sym at both levels, or to nothing when sym
// is 0.
func (x *x11Injector) setRow(kc uint8, sym uint32) {
	for i := range x.keysBuf {
		x.keysBuf[i] = 0
	}
	if sym != 0 {
		x.keysBuf[0] = C.KeySym(sym)
		if len(x.keysBuf) > 1 {
			x.keysBuf[1] = C.KeySym(sym)
		}
	}
	C.XChangeKeyboardMapping(x.dpy, C.int(kc), C.int(x.perKC), &x.keysBuf[0], 1)
}

// resolve returns where sym is typed, binding a spare keycode to it if the
// keymap lacks it (or has it only with Shift and there is no Shift key).
func (x *x11Injector) resolve(sym uint32) (keyLoc, error) {
	if l, ok := x.loc[sym]; ok && (!l.shift || x.shiftKC != 0) {
		return l, nil
	}
	kc, err := x.bind(sym)
	if err != nil {
		return keyLoc{}, err
	}
	return keyLoc{kc: kc}, nil
}

// bind binds a spare keycode to sym. When none is free it takes back the
// least recently used binding that no held key needs, after waiting until
// clients have had KeymapHold to read the events that used it.
func (x *x11Injector) bind(sym uint32) (uint8, error) {
	if kc, ok := x.tempSym[sym]; ok {
		return kc, nil
	}
	var kc uint8
	found := false
	for _, s := range x.spares {
		if _, used := x.temps[s]; !used {
			kc, found = s, true
			break
		}
	}
	if !found {
		var oldest time.Time
		for c, b := range x.temps {
			if b.pinned > 0 {
				continue
			}
			if t := x.lastUse[c]; !found || t.Before(oldest) {
				kc, oldest, found = c, t, true
			}
		}
		if !found {
			return 0, fmt.Errorf("binding keysym %#x: every spare keycode is held", sym)
		}
		if err := x.sync(); err != nil {
			return 0, err
		}
		if wait := time.Until(oldest.Add(x.hold)); wait > 0 {
			time.Sleep(wait)
		}
		old := x.temps[kc]
		delete(x.tempSym, old.sym)
		if l, ok := x.loc[old.sym]; ok && l.kc == kc {
			delete(x.loc, old.sym)
		}
	}
	x.setRow(kc, sym)
	x.temps[kc] = &tempBind{sym: sym}
	x.tempSym[sym] = kc
	x.lastUse[kc] = x.clientReadBy()
	x.loc[sym] = keyLoc{kc: kc}
	return kc, nil
}

// prebind binds, in one go before any key event, the keysyms of syms the
// keymap lacks, as far as free spare keycodes last, so clients reload
// their keymap once rather than once per character.
func (x *x11Injector) prebind(syms []uint32) {
	free := 0
	for _, s := range x.spares {
		if _, used := x.temps[s]; !used {
			free++
		}
	}
	for _, sym := range syms {
		if free == 0 {
			return
		}
		if l, ok := x.loc[sym]; ok && (!l.shift || x.shiftKC != 0) {
			continue
		}
		if _, err := x.bind(sym); err == nil {
			free--
		}
	}
}

// armRestore schedules restoreIdle for the earliest moment a binding may
// be undone, if any may.
func (x *x11Injector) armRestore() {
	if x.restoreC != nil || x.dead {
		return
	}
	var first time.Time
	for kc, b := range x.temps {
		if b.pinned > 0 {
			continue
		}
		if t := x.lastUse[kc].Add(x.hold); first.IsZero() || t.Before(first) {
			first = t
		}
	}
	if first.IsZero() {
		return
	}
	x.restore.Reset(max(time.Until(first), 0))
	x.restoreC = x.restore.C
}

// restoreIdle puts back the empty mapping of every binding unused for
// KeymapHold, or of every unpinned binding when all is set.
func (x *x11Injector) restoreIdle(all bool) {
	if err := x.refresh(); err != nil {
		return
	}
	now := time.Now()
	changed := false
	for kc, b := range x.temps {
		if b.pinned > 0 || !all && now.Before(x.lastUse[kc].Add(x.hold)) {
			continue
		}
		x.setRow(kc, 0)
		delete(x.temps, kc)
		delete(x.tempSym, b.sym)
		delete(x.lastUse, kc)
		if l, ok := x.loc[b.sym]; ok && l.kc == kc {
			delete(x.loc, b.sym)
		}
		changed = true
	}
	if changed {
		if err := x.sync(); err != nil {
			x.log.Warn("restoring the keymap", "err", err)
		}
	}
}

// clientEventRate is how many key events a second a client is assumed to
// read at least. We send faster than any client reads, so a client may
// read a key event long after we sent it, and it looks the keysym up only
// then: a binding must last until then.
const clientEventRate = 1000

// clientReadBy returns when a client reading clientEventRate events a
// second will have read everything sent so far.
func (x *x11Injector) clientReadBy() time.Time {
	return later(x.readBy, time.Now())
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// key sends one key event and notes when a client will have read it, for
// the bound keycodes.
func (x *x11Injector) key(kc uint8, down bool) {
	C.mfd_key(x.dpy, C.uint(kc), boolInt(down))
	x.readBy = x.clientReadBy().Add(time.Second / clientEventRate)
	if _, ok := x.temps[kc]; ok {
		x.lastUse[kc] = x.readBy
	}
	x.pause()
}

// pause waits KeyDelay, if any, after flushing what is queued.
func (x *x11Injector) pause() {
	if x.delay > 0 {
		C.XFlush(x.dpy)
		time.Sleep(x.delay)
	}
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// tapLoc presses and releases a key, with Shift around it if needed.
func (x *x11Injector) tapLoc(l keyLoc) {
	if l.shift {
		x.key(x.shiftKC, true)
	}
	x.key(l.kc, true)
	x.key(l.kc, false)
	if l.shift {
		x.key(x.shiftKC, false)
	}
}

func (x *x11Injector) Backend() string { return "x11" }

func (x *x11Injector) Screen() (w, h int) { return x.w, x.h }

// Caps reports that XTest types any character (through spare keycodes),
// places the pointer absolutely and scrolls.
func (x *x11Injector) Caps() input.Caps {
	return input.Caps{Unicode: true, PointerAbs: true, Scroll: true}
}

// heldKC reports whether KeyDown holds keycode kc (or Shift for a held
// key), so that a tap neither presses it twice nor lets it go.
func (x *x11Injector) heldKC(kc uint8) bool {
	for _, h := range x.heldKeys {
		if h.kc == kc || h.shift && x.shiftKC == kc {
			return true
		}
	}
	return false
}

func (x *x11Injector) KeyDown(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("pressing a key: %w", err)
	}
	return x.do("pressing "+k.Name, func() error {
		if _, held := x.heldKeys[k.Name]; held {
			return nil // a panel repeating a held key
		}
		if err := x.refresh(); err != nil {
			return err
		}
		l, err := x.resolve(k.Keysym)
		if err != nil {
			return err
		}
		if b, ok := x.temps[l.kc]; ok {
			b.pinned++
		}
		addShift := l.shift && !x.heldKC(x.shiftKC)
		if addShift {
			x.key(x.shiftKC, true)
		}
		x.key(l.kc, true)
		x.heldKeys[k.Name] = heldKey{kc: l.kc, shift: addShift}
		x.heldOrder = append(x.heldOrder, k.Name)
		return x.sync()
	})
}

func (x *x11Injector) KeyUp(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("releasing a key: %w", err)
	}
	return x.do("releasing "+k.Name, func() error {
		x.releaseKey(k.Name)
		return x.sync()
	})
}

// releaseKey releases a key KeyDown pressed; it does nothing for any other.
func (x *x11Injector) releaseKey(name string) {
	h, ok := x.heldKeys[name]
	if !ok {
		return
	}
	delete(x.heldKeys, name)
	x.heldOrder = slices.DeleteFunc(x.heldOrder, func(n string) bool { return n == name })
	x.key(h.kc, false)
	if h.shift && !x.heldKC(x.shiftKC) {
		x.key(x.shiftKC, false)
	}
	if b, ok := x.temps[h.kc]; ok && b.pinned > 0 {
		b.pinned--
	}
}

func (x *x11Injector) Tap(name string, mods []string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("tapping a key: %w", err)
	}
	canon, err := keys.ParseMods(mods)
	if err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	return x.do("tapping "+k.Name, func() error {
		if err := x.refresh(); err != nil {
			return err
		}
		var modKCs [4]uint8
		mk := modKCs[:0]
		shifted := false
		for _, m := range canon {
			modKey, _ := keys.Lookup(m) // canon holds only names ParseMods knows
			l, err := x.resolve(modKey.Keysym)
			if err != nil {
				return err
			}
			shifted = shifted || m == "shift" || l.kc == x.shiftKC
			// A modifier KeyDown holds stays down and is not released.
			if !x.heldKC(l.kc) {
				mk = append(mk, l.kc)
			}
		}
		l, err := x.resolve(k.Keysym)
		if err != nil {
			return err
		}
		for _, kc := range mk {
			x.key(kc, true)
		}
		addShift := l.shift && !shifted && !x.heldKC(x.shiftKC)
		if addShift {
			x.key(x.shiftKC, true)
		}
		x.key(l.kc, true)
		x.key(l.kc, false)
		if addShift {
			x.key(x.shiftKC, false)
		}
		for i := len(mk) - 1; i >= 0; i-- {
			x.key(mk[i], false)
		}
		return x.sync()
	})
}

func (x *x11Injector) Type(text string) error {
	syms := make([]uint32, 0, len(text))
	for _, r := range text {
		s, err := keys.RuneKeysym(r)
		if err != nil {
			return fmt.Errorf("typing text: %w", err)
		}
		syms = append(syms, s)
	}
	if len(syms) == 0 {
		return nil
	}
	return x.do("typing text", func() error {
		if err := x.refresh(); err != nil {
			return err
		}
		x.prebind(syms)
		for _, s := range syms {
			l, err := x.resolve(s)
			if err != nil {
				x.sync() // what was typed so far still goes out
				return err
			}
			if l.shift && x.heldKC(x.shiftKC) {
				l.shift = false
			}
			x.tapLoc(l)
		}
		return x.sync()
	})
}

func (x *x11Injector) Move(px, py int, rel bool) error {
	return x.do("moving the pointer", func() error {
		if rel {
			C.mfd_move_rel(x.dpy, C.int(px), C.int(py))
		} else {
			C.mfd_move(x.dpy, C.int(px), C.int(py))
		}
		return x.sync()
	})
}

// xButton maps a contract button to its X button number.
func xButton(b input.Button) (C.uint, error) {
	switch b {
	case input.ButtonLeft:
		return 1, nil
	case input.ButtonMiddle:
		return 2, nil
	case input.ButtonRight:
		return 3, nil
	}
	return 0, fmt.Errorf("unknown button %d", int(b))
}

func (x *x11Injector) ButtonDown(b input.Button) error {
	xb, err := xButton(b)
	if err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	return x.do("pressing a button", func() error {
		if x.heldBtns[b] {
			return nil // a panel repeating a held button
		}
		C.mfd_button(x.dpy, xb, 1)
		x.heldBtns[b] = true
		return x.sync()
	})
}

func (x *x11Injector) ButtonUp(b input.Button) error {
	xb, err := xButton(b)
	if err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	return x.do("releasing a button", func() error {
		if !x.heldBtns[b] {
			return nil
		}
		C.mfd_button(x.dpy, xb, 0)
		delete(x.heldBtns, b)
		return x.sync()
	})
}

func (x *x11Injector) Click(b input.Button, count int) error {
	xb, err := xButton(b)
	if err != nil {
		return fmt.Errorf("clicking: %w", err)
	}
	if count < 1 || count > 3 {
		return fmt.Errorf("clicking: count %d is not 1-3", count)
	}
	return x.do("clicking", func() error {
		for range count {
			C.mfd_button(x.dpy, xb, 1)
			C.mfd_button(x.dpy, xb, 0)
		}
		return x.sync()
	})
}

func (x *x11Injector) Scroll(dx, dy int) error {
	if err := input.CheckScroll(dx, dy); err != nil {
		return err
	}
	return x.do("scrolling", func() error {
		// X buttons 4 and 5 scroll up and down, 6 and 7 left and right.
		step := func(n int, neg, pos C.uint) {
			b := pos
			if n < 0 {
				b = neg
			}
			for range abs(n) {
				C.mfd_button(x.dpy, b, 1)
				C.mfd_button(x.dpy, b, 0)
			}
		}
		step(dy, 4, 5)
		step(dx, 6, 7)
		return x.sync()
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Close releases held keys (in reverse order of pressing) and buttons,
// waits at most KeymapHold for clients to read the last events, puts back
// every keycode it bound, and closes the display. It is idempotent.
func (x *x11Injector) Close() error {
	x.closeOnce.Do(func() {
		close(x.quit)
		<-x.done
	})
	return x.closeErr
}

// maxCloseWait bounds how long Close waits for clients to read what used
// a bound keycode, after a long text typed just before.
const maxCloseWait = 2 * time.Second

// shutdown is Close on the X goroutine.
func (x *x11Injector) shutdown() error {
	x.restore.Stop()
	if !x.dead {
		for i := len(x.heldOrder) - 1; i >= 0; i-- {
			x.releaseKey(x.heldOrder[i])
		}
		for b := range x.heldBtns {
			if xb, err := xButton(b); err == nil {
				C.mfd_button(x.dpy, xb, 0)
			}
			delete(x.heldBtns, b)
		}
		err := x.sync()
		if len(x.temps) > 0 && err == nil {
			var last time.Time
			for _, t := range x.lastUse {
				if t.After(last) {
					last = t
				}
			}
			if wait := min(time.Until(last.Add(x.hold)), maxCloseWait); wait > 0 {
				time.Sleep(wait)
			}
			x.restoreIdle(true)
		}
	}
	C.XCloseDisplay(x.dpy)
	x.dpy = nil
	if x.dead {
		return fmt.Errorf("closing the X display: %w", errConnLost)
	}
	return nil
}
