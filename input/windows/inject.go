package windows

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"unicode/utf16"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
)

// INPUT types and the flags of KEYBDINPUT and MOUSEINPUT (WinUser.h).
const (
	inputMouse    = 0
	inputKeyboard = 1

	keyeventfExtendedKey = 0x0001
	keyeventfKeyUp       = 0x0002
	keyeventfUnicode     = 0x0004

	mouseeventfMove        = 0x0001
	mouseeventfLeftDown    = 0x0002
	mouseeventfLeftUp      = 0x0004
	mouseeventfRightDown   = 0x0008
	mouseeventfRightUp     = 0x0010
	mouseeventfMiddleDown  = 0x0020
	mouseeventfMiddleUp    = 0x0040
	mouseeventfWheel       = 0x0800
	mouseeventfHWheel      = 0x1000
	mouseeventfVirtualDesk = 0x4000
	mouseeventfAbsolute    = 0x8000

	wheelDelta = 120 // one notch of a wheel
)

// event is one INPUT record for SendInput: a key (kind inputKeyboard: vk,
// scan, flags) or a mouse event (inputMouse: dx, dy, data, flags).
type event struct {
	kind   uint32
	vk     uint16
	scan   uint16
	dx, dy int32
	data   uint32
	flags  uint32
}

// system is the part of Windows the injector calls. The real one wraps
// user32 and advapi32 calls; tests give a fake, which is how the refusal
// cases are tested on any system.
type system interface {
	// sendInput is SendInput: it returns how many events Windows
	// inserted and, when that is fewer than len(evs), GetLastError's
	// error.
	sendInput(evs []event) (int, error)
	// primary returns the primary monitor's size in pixels.
	primary() (w, h int)
	// virtualScreen returns the rectangle around every monitor, in
	// desktop coordinates (the primary monitor's corner is 0,0).
	virtualScreen() (x, y, w, h int)
	// keyScan is VkKeyScanEx in the keyboard layout of the window in
	// front: the virtual key that types r and the modifiers it needs
	// (modShift, modCtrl, modAlt), or false when the layout has no key
	// for r.
	keyScan(r rune) (vk uint16, mods uint8, ok bool)
	// scanCode is the scan code of vk in that layout, 0 if unknown.
	scanCode(vk uint16) uint16
	// foreground is GetForegroundWindow.
	foreground() uintptr
	// refusal looks for a reason Windows refuses input to window fg
	// now: a locked session or the secure desktop in front, or fg
	// belonging to a process with a higher integrity level (UIPI). It
	// returns a sentence saying so, or "" when it finds none; certain
	// is true when the reason alone stops input, so that nothing should
	// be sent.
	refusal(fg uintptr) (why string, certain bool)
}

// Modifier bits of VkKeyScanEx's high byte.
const (
	modShift = 1
	modCtrl  = 2
	modAlt   = 4
)

var _ input.Injector = (*injector)(nil)

// errClosed is returned by the methods of a closed injector.
var errClosed = fmt.Errorf("windows injector closed: %w", input.ErrNoInput)

// injector drives Windows through SendInput. Each call builds its events
// and hands them to one SendInput, which Windows inserts without other
// input in between. A mutex serialises the calls, so it is safe for
// concurrent use.
type injector struct {
	sys system
	log *slog.Logger

	mu        sync.Mutex
	closed    bool
	heldKeys  map[string]heldKey // canonical key name -> what KeyDown pressed
	heldOrder []string           // press order, to release in reverse
	heldBtns  map[input.Button]bool
	clearFG   uintptr // the window in front when refusal last found nothing
	clearSeen bool
}

// stroke is how one key is pressed: a virtual key, or a UTF-16 unit sent
// as a KEYEVENTF_UNICODE packet when the layout has no key for the
// character, plus the modifiers the layout needs for it.
type stroke struct {
	key     vkey
	unicode uint16 // non-zero: a Unicode packet instead of key
	mods    []vkey // Shift, Ctrl, Alt that the layout needs (AltGr is Ctrl+Alt)
}

// heldKey is a key pressed by KeyDown and not yet released.
type heldKey struct {
	stroke
	extra []vkey // the stroke's mods that KeyDown pressed for it
}

func newInjector(sys system, log *slog.Logger) *injector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &injector{sys: sys, log: log, heldKeys: map[string]heldKey{}, heldBtns: map[input.Button]bool{}}
}

func (w *injector) Backend() string { return "windows" }

// Caps reports that SendInput types any character (Unicode packets),
// places the pointer absolutely and scrolls both ways.
func (w *injector) Caps() input.Caps {
	return input.Caps{Unicode: true, PointerAbs: true, Scroll: true}
}

// Screen returns the primary monitor's size, read again at every call:
// the user may change the resolution while mfd runs.
func (w *injector) Screen() (int, int) { return w.sys.primary() }

// send hands evs to SendInput. It refuses before sending when the window
// in front certainly refuses input, and turns a short insert into an
// error wrapping input.ErrRefused that says why, as far as it can tell.
// The caller holds w.mu.
func (w *injector) send(evs []event) error {
	if len(evs) == 0 {
		return nil
	}
	// UIPI may drop input to an elevated window without SendInput saying
	// so, so look at the window in front before sending; only when it
	// changes, since the check costs a few system calls.
	fg := w.sys.foreground()
	if !w.clearSeen || fg != w.clearFG {
		if why, certain := w.sys.refusal(fg); certain {
			return fmt.Errorf("%s: %w", why, input.ErrRefused)
		}
		w.clearFG, w.clearSeen = fg, true
	}
	n, err := w.sys.sendInput(evs)
	if n == len(evs) {
		return nil
	}
	w.clearSeen = false
	why, _ := w.sys.refusal(w.sys.foreground())
	if why == "" {
		why = "Windows did not take the input (the window in front or the desktop refused it)"
	}
	if err != nil {
		why = fmt.Sprintf("%s; SendInput inserted %d of %d events: %v", why, n, len(evs), err)
	} else {
		why = fmt.Sprintf("%s; SendInput inserted %d of %d events", why, n, len(evs))
	}
	w.log.Warn("input refused", "why", why)
	return fmt.Errorf("%s: %w", why, input.ErrRefused)
}

// do runs f under the lock unless the injector is closed, and wraps its
// error with what (a gerund: "tapping a").
func (w *injector) do(what string, f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%s: %w", what, errClosed)
	}
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// keyEvent is the press or release of v.
func (w *injector) keyEvent(v vkey, up bool) event {
	e := event{kind: inputKeyboard, vk: v.vk, scan: w.sys.scanCode(v.vk)}
	if v.extended {
		e.flags |= keyeventfExtendedKey
	}
	if up {
		e.flags |= keyeventfKeyUp
	}
	return e
}

// unicodeEvent is the press or release of a UTF-16 unit as a Unicode
// packet, which reaches the window as WM_CHAR whatever the layout.
func unicodeEvent(unit uint16, up bool) event {
	e := event{kind: inputKeyboard, scan: unit, flags: keyeventfUnicode}
	if up {
		e.flags |= keyeventfKeyUp
	}
	return e
}

func (w *injector) strokeEvent(s stroke, up bool) event {
	if s.unicode != 0 {
		return unicodeEvent(s.unicode, up)
	}
	return w.keyEvent(s.key, up)
}

// resolve returns how key k is pressed. Keys that are the same on every
// layout have a fixed virtual key; printable punctuation is looked up in
// the layout of the window in front, with the modifiers it needs there,
// and sent as a Unicode packet when that layout lacks it.
func (w *injector) resolve(k keys.Key) (stroke, error) {
	if v, ok := keyVK(k); ok {
		return stroke{key: v}, nil
	}
	if k.Keysym == symMicMute {
		return stroke{}, fmt.Errorf("%s: Windows has no virtual key for microphone mute: %w", k.Name, input.ErrUnsupported)
	}
	r := rune(k.Keysym)
	if k.Keysym < 0x21 || k.Keysym > 0x7e {
		return stroke{}, fmt.Errorf("%s: no virtual key for keysym %#x: %w", k.Name, k.Keysym, input.ErrUnsupported)
	}
	vk, mods, ok := w.sys.keyScan(r)
	if !ok {
		return stroke{unicode: uint16(r)}, nil
	}
	s := stroke{key: vkey{vk: vk}}
	if mods&modShift != 0 {
		s.mods = append(s.mods, vkey{vk: vkLShift})
	}
	if mods&modCtrl != 0 {
		s.mods = append(s.mods, vkey{vk: vkLControl})
	}
	if mods&modAlt != 0 {
		s.mods = append(s.mods, vkey{vk: vkLMenu})
	}
	return s, nil
}

// heldLike reports whether a key KeyDown holds (or one of the modifiers it
// pressed for it) is down and does the work of virtual key vk: either
// Shift for Shift, either Ctrl for Ctrl, either Alt for Alt, else vk
// itself.
func (w *injector) heldLike(vk uint16) bool {
	same := func(a uint16) bool { return sameMod(a, vk) }
	for _, h := range w.heldKeys {
		if h.unicode == 0 && same(h.key.vk) || slices.ContainsFunc(h.extra, func(v vkey) bool { return same(v.vk) }) {
			return true
		}
	}
	return false
}

func (w *injector) KeyDown(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("pressing a key: %w", err)
	}
	return w.do("pressing "+k.Name, func() error {
		if _, held := w.heldKeys[k.Name]; held {
			return nil // a panel repeating a held key
		}
		s, err := w.resolve(k)
		if err != nil {
			return err
		}
		h := heldKey{stroke: s}
		var evs []event
		for _, m := range s.mods {
			if !w.heldLike(m.vk) {
				h.extra = append(h.extra, m)
				evs = append(evs, w.keyEvent(m, false))
			}
		}
		evs = append(evs, w.strokeEvent(s, false))
		if err := w.send(evs); err != nil {
			return err
		}
		w.heldKeys[k.Name] = h
		w.heldOrder = append(w.heldOrder, k.Name)
		return nil
	})
}

func (w *injector) KeyUp(name string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("releasing a key: %w", err)
	}
	return w.do("releasing "+k.Name, func() error {
		return w.releaseKey(k.Name)
	})
}

// releaseKey releases a key KeyDown pressed, and the modifiers it pressed
// for it that no other held key needs; it does nothing for any other key.
// A key stays held when Windows refuses the release, so that Close tries
// again.
func (w *injector) releaseKey(name string) error {
	h, ok := w.heldKeys[name]
	if !ok {
		return nil
	}
	delete(w.heldKeys, name)
	evs := []event{w.strokeEvent(h.stroke, true)}
	heirs := map[string]vkey{} // held keys that need a modifier h pressed
	for i := len(h.extra) - 1; i >= 0; i-- {
		m := h.extra[i]
		if w.heldLike(m.vk) {
			continue
		}
		if heir := w.needer(m.vk); heir != "" {
			heirs[heir] = m
			continue
		}
		evs = append(evs, w.keyEvent(m, true))
	}
	if err := w.send(evs); err != nil {
		w.heldKeys[name] = h
		return err
	}
	for heir, m := range heirs {
		hh := w.heldKeys[heir]
		hh.extra = append(hh.extra, m)
		w.heldKeys[heir] = hh
	}
	w.heldOrder = slices.DeleteFunc(w.heldOrder, func(n string) bool { return n == name })
	return nil
}

// needer returns the first held key whose layout needs a modifier like
// vk, or "": when the key that pressed that modifier is released, the
// modifier stays down and is released with the key that needs it.
func (w *injector) needer(vk uint16) string {
	for _, n := range w.heldOrder {
		h, ok := w.heldKeys[n]
		if ok && slices.ContainsFunc(h.mods, func(m vkey) bool { return sameMod(m.vk, vk) }) {
			return n
		}
	}
	return ""
}

func (w *injector) Tap(name string, mods []string) error {
	k, err := keys.Find(name)
	if err != nil {
		return fmt.Errorf("tapping a key: %w", err)
	}
	canon, err := keys.ParseMods(mods)
	if err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	return w.do("tapping "+k.Name, func() error {
		s, err := w.resolve(k)
		if err != nil {
			return err
		}
		var down []vkey // modifiers to press, in order
		has := func(vk uint16) bool {
			return w.heldLike(vk) || slices.ContainsFunc(down, func(v vkey) bool { return sameMod(v.vk, vk) })
		}
		for _, m := range canon {
			mk, _ := keys.Lookup(m) // canon holds only names ParseMods knows
			v, _ := keyVK(mk)
			if !has(v.vk) {
				down = append(down, v)
			}
		}
		for _, m := range s.mods {
			if !has(m.vk) {
				down = append(down, m)
			}
		}
		evs := make([]event, 0, 2*len(down)+2)
		for _, m := range down {
			evs = append(evs, w.keyEvent(m, false))
		}
		evs = append(evs, w.strokeEvent(s, false), w.strokeEvent(s, true))
		for i := len(down) - 1; i >= 0; i-- {
			evs = append(evs, w.keyEvent(down[i], true))
		}
		return w.send(evs)
	})
}

// textEvents returns the events that type text: Enter for '\n', Tab for
// '\t', every other character as Unicode packets (two for a character
// outside the Basic Multilingual Plane, its surrogate pair).
func (w *injector) textEvents(text string) ([]event, error) {
	evs := make([]event, 0, 2*len(text))
	var units [2]uint16
	// Enter and Tab are looked up once per text: each lookup of a scan
	// code asks Windows for the layout.
	var enter, tab []event
	key := func(cached *[]event, vk uint16) []event {
		if *cached == nil {
			v := vkey{vk: vk}
			*cached = []event{w.keyEvent(v, false), w.keyEvent(v, true)}
		}
		return *cached
	}
	for _, r := range text {
		switch {
		case r == '\n':
			evs = append(evs, key(&enter, vkReturn)...)
			continue
		case r == '\t':
			evs = append(evs, key(&tab, vkTab)...)
			continue
		case r < 0x20 || r == 0x7f || (0x80 <= r && r < 0xa0):
			return nil, fmt.Errorf("control character %U: %w", r, input.ErrUnsupported)
		}
		u := units[:1]
		if r1, r2 := utf16.EncodeRune(r); r1 != '\uFFFD' {
			units[0], units[1] = uint16(r1), uint16(r2)
			u = units[:2]
		} else {
			units[0] = uint16(r)
		}
		// Both halves down, then both up: an application that pairs the
		// halves as they come sees one character.
		for _, c := range u {
			evs = append(evs, unicodeEvent(c, false))
		}
		for _, c := range u {
			evs = append(evs, unicodeEvent(c, true))
		}
	}
	return evs, nil
}

func (w *injector) Type(text string) error {
	if text == "" {
		return nil
	}
	return w.do("typing text", func() error {
		evs, err := w.textEvents(text)
		if err != nil {
			return err
		}
		return w.send(evs)
	})
}

// absCoord maps desktop coordinate v, clamped to the virtual screen
// [origin, origin+size), onto SendInput's 0..65535 scale. Windows maps
// n back to origin + n*size/65536, rounded down; the smallest n that
// lands on v is the ceiling of (v-origin)*65536/size.
func absCoord(v, origin, size int) int32 {
	if size <= 0 {
		return 0
	}
	v = min(max(v, origin), origin+size-1)
	return int32(((v-origin)*65536 + size - 1) / size)
}

func (w *injector) Move(x, y int, rel bool) error {
	return w.do("moving the pointer", func() error {
		if rel {
			return w.send([]event{{kind: inputMouse, dx: int32(x), dy: int32(y), flags: mouseeventfMove}})
		}
		vx, vy, vw, vh := w.sys.virtualScreen()
		return w.send([]event{{
			kind:  inputMouse,
			dx:    absCoord(x, vx, vw),
			dy:    absCoord(y, vy, vh),
			flags: mouseeventfMove | mouseeventfAbsolute | mouseeventfVirtualDesk,
		}})
	})
}

// buttonFlags returns the MOUSEINPUT flags that press and release b.
func buttonFlags(b input.Button) (down, up uint32, err error) {
	switch b {
	case input.ButtonLeft:
		return mouseeventfLeftDown, mouseeventfLeftUp, nil
	case input.ButtonRight:
		return mouseeventfRightDown, mouseeventfRightUp, nil
	case input.ButtonMiddle:
		return mouseeventfMiddleDown, mouseeventfMiddleUp, nil
	}
	return 0, 0, fmt.Errorf("unknown button %d", int(b))
}

func mouseEvent(flags uint32) event { return event{kind: inputMouse, flags: flags} }

func (w *injector) ButtonDown(b input.Button) error {
	down, _, err := buttonFlags(b)
	if err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	return w.do("pressing a button", func() error {
		if w.heldBtns[b] {
			return nil // a panel repeating a held button
		}
		if err := w.send([]event{mouseEvent(down)}); err != nil {
			return err
		}
		w.heldBtns[b] = true
		return nil
	})
}

func (w *injector) ButtonUp(b input.Button) error {
	_, up, err := buttonFlags(b)
	if err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	return w.do("releasing a button", func() error {
		if !w.heldBtns[b] {
			return nil
		}
		if err := w.send([]event{mouseEvent(up)}); err != nil {
			return err
		}
		delete(w.heldBtns, b)
		return nil
	})
}

// Click sends count presses and releases in one SendInput, so Windows
// sees them within the double-click time and at one spot: two are a
// double click.
func (w *injector) Click(b input.Button, count int) error {
	down, up, err := buttonFlags(b)
	if err != nil {
		return fmt.Errorf("clicking: %w", err)
	}
	if count < 1 || count > 3 {
		return fmt.Errorf("clicking: count %d is not 1-3", count)
	}
	return w.do("clicking", func() error {
		evs := make([]event, 0, 2*count)
		for range count {
			evs = append(evs, mouseEvent(down), mouseEvent(up))
		}
		return w.send(evs)
	})
}

// Scroll sends one wheel event of WHEEL_DELTA per step, as a notched
// wheel does; positive dy scrolls down (a negative delta), positive dx
// right.
func (w *injector) Scroll(dx, dy int) error {
	if err := input.CheckScroll(dx, dy); err != nil {
		return err
	}
	return w.do("scrolling", func() error {
		evs := make([]event, 0, abs(dx)+abs(dy))
		step := func(n int, flags uint32, delta int32) {
			if n < 0 {
				delta = -delta
			}
			for range abs(n) {
				evs = append(evs, event{kind: inputMouse, data: uint32(delta), flags: flags})
			}
		}
		step(dy, mouseeventfWheel, -wheelDelta)
		step(dx, mouseeventfHWheel, wheelDelta)
		return w.send(evs)
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Close releases every held key, in reverse order of pressing, and every
// held button. It is idempotent; it returns the first error Windows gave
// for a release.
func (w *injector) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	for i := len(w.heldOrder) - 1; i >= 0; i-- {
		if err := w.releaseKey(w.heldOrder[i]); err != nil {
			errs = append(errs, fmt.Errorf("releasing %s: %w", w.heldOrder[i], err))
		}
	}
	for _, b := range []input.Button{input.ButtonLeft, input.ButtonRight, input.ButtonMiddle} {
		if !w.heldBtns[b] {
			continue
		}
		_, up, _ := buttonFlags(b)
		if err := w.send([]event{mouseEvent(up)}); err != nil {
			errs = append(errs, fmt.Errorf("releasing a button: %w", err))
		}
		delete(w.heldBtns, b)
	}
	w.heldKeys, w.heldOrder = map[string]heldKey{}, nil
	return errors.Join(errs...)
}
