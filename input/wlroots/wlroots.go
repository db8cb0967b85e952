//go:build linux

// Package wlroots drives a wlroots-based Wayland compositor (sway,
// Hyprland, river, labwc, Wayfire) through its virtual input protocols:
// zwp_virtual_keyboard_manager_v1 for keys and text and
// zwlr_virtual_pointer_manager_v1 for the pointer. It speaks the Wayland
// wire protocol itself (internal/wayland): no cgo, no libwayland.
//
// Text is typed as wtype does it: the virtual keyboard has a keymap of its
// own, a US layout, and characters that layout lacks are bound to spare
// keycodes in a new keymap uploaded just before they are typed. Once no
// character was typed for KeymapHold, the US keymap is uploaded again.
// The user's own keyboards keep their keymaps throughout: in wlroots every
// keyboard has its own, and the seat hands programs the keymap of the
// keyboard that sent the last key.
package wlroots

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
	"github.com/openmfd/mfd/internal/wayland"
)

// DefaultKeymapHold is Options.KeymapHold when it is zero. Wayland
// delivers the new keymap after the keys typed with the old one, so the
// hold is not needed for correctness, as it is on X11: it spares the
// compositor and every program a keymap compilation per command while a
// panel sends text piece by piece.
const DefaultKeymapHold = 500 * time.Millisecond

// Options configures New. The zero value drives $WAYLAND_DISPLAY in
// $XDG_RUNTIME_DIR and logs nothing.
type Options struct {
	// Display is $WAYLAND_DISPLAY: a socket name in RuntimeDir, or a
	// path. Empty means the environment's.
	Display string
	// RuntimeDir is $XDG_RUNTIME_DIR; empty means the environment's.
	RuntimeDir string
	// KeymapHold is how long the keymap with extra characters stays
	// after the last use of one before the plain keymap is put back.
	// Zero means DefaultKeymapHold.
	KeymapHold time.Duration
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
}

// Interfaces and versions this backend binds.
const (
	ifaceVirtualKeyboard = "zwp_virtual_keyboard_manager_v1"
	ifaceVirtualPointer  = "zwlr_virtual_pointer_manager_v1"
	ifaceSeat            = "wl_seat"
	ifaceOutput          = "wl_output"
	ifaceXdgOutput       = "zxdg_output_manager_v1"
)

// Requests and events of the protocols used here.
const (
	vkManagerCreate = 0 // create_virtual_keyboard(seat, id)
	vkKeymap        = 0 // keymap(format, fd, size)
	vkKey           = 1 // key(time, key, state)
	vkModifiers     = 2 // modifiers(depressed, latched, locked, group)
	vkDestroy       = 3

	vpManagerCreate    = 0 // create_virtual_pointer(seat, id)
	vpMotion           = 0 // motion(time, dx, dy)
	vpMotionAbsolute   = 1 // motion_absolute(time, x, y, x_extent, y_extent)
	vpButton           = 2 // button(time, button, state)
	vpAxis             = 3 // axis(time, axis, value)
	vpFrame            = 4
	vpAxisSource       = 5 // axis_source(source)
	vpAxisDiscrete     = 7 // axis_discrete(time, axis, value, discrete)
	vpDestroy          = 8
	xdgGetOutput       = 1 // zxdg_output_manager_v1.get_xdg_output(id, output)
	outGeometry        = 0 // wl_output events
	outMode            = 1
	outScale           = 3
	xdgLogicalPosition = 0 // zxdg_output_v1 events
	xdgLogicalSize     = 1
	registryGlobal     = 0
	registryRemove     = 1

	keymapFormatXKBV1 = 1
	modeCurrent       = 1
	axisVertical      = 0
	axisHorizontal    = 1
	axisSourceWheel   = 0
	// wheelStep is the axis value of one wheel click, as libinput
	// reports it: 15 degrees.
	wheelStep = 15
)

// Linux button codes (linux/input-event-codes.h).
const (
	btnLeft   = 0x110
	btnRight  = 0x111
	btnMiddle = 0x112
)

// output is one wl_output and what the compositor said about it.
type output struct {
	id, xdg         uint32
	x, y, w, h      int32 // from wl_output: position and current mode
	scale           int32
	lx, ly, lw, lh  int32 // from xdg-output: the logical rectangle
	hasLogical      bool
	hasMode, hasGeo bool
}

// rect returns the output's rectangle in the layout.
func (o *output) rect() (x, y, w, h int32) {
	if o.hasLogical && o.lw > 0 && o.lh > 0 {
		return o.lx, o.ly, o.lw, o.lh
	}
	s := max(o.scale, 1)
	return o.x, o.y, o.w / s, o.h / s
}

// heldKey is a key KeyDown pressed.
type heldKey struct {
	code  uint32
	mod   uint32 // the modifier the key sets, if it is a modifier key
	shift bool   // Shift was pressed with it, for a shifted character
}

// injector is the wlroots Injector. Every request goes out from its run
// goroutine: methods hand it a function and wait.
type injector struct {
	log  *slog.Logger
	hold time.Duration

	cmds      chan func()
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu   sync.Mutex // guards w, h: Screen is called from any goroutine
	w, h int

	// Owned by the run goroutine.
	c         *wayland.Conn
	registry  uint32
	xdgMgr    uint32
	kbd, ptr  uint32
	outputs   map[uint32]*output // by global name
	extra     []uint32           // keysyms bound to spareCodes, in order
	lastUse   time.Time          // of a keysym in extra
	restore   *time.Timer
	heldKeys  map[string]heldKey
	heldOrder []string
	heldBtns  map[input.Button]bool
	mods      uint32 // the depressed modifiers last sent
	locked    uint32 // the locked modifiers (Caps Lock, Num Lock) to send
	sentLock  uint32 // the locked modifiers last sent
	epoch     time.Time
	dead      bool
}

var _ input.Injector = (*injector)(nil)

// New connects to the compositor, creates a virtual keyboard with a US
// keymap and a virtual pointer on its first seat, and learns the output
// layout. It fails, wrapping input.ErrNoInput, when the compositor is out
// of reach or does not offer both protocols.
func New(opts Options) (input.Injector, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &injector{
		log:      log,
		hold:     opts.KeymapHold,
		cmds:     make(chan func()),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		outputs:  map[uint32]*output{},
		heldKeys: map[string]heldKey{},
		heldBtns: map[input.Button]bool{},
		epoch:    time.Now(),
	}
	if x.hold <= 0 {
		x.hold = DefaultKeymapHold
	}
	path, err := wayland.SocketPath(opts.Display, opts.RuntimeDir)
	if err != nil {
		return nil, fmt.Errorf("finding the compositor: %w: %w", err, input.ErrNoInput)
	}
	if err := x.connect(path); err != nil {
		if x.c != nil {
			x.c.Close()
		}
		return nil, fmt.Errorf("opening the wlroots virtual keyboard and pointer on %s: %w: %w", path, err, input.ErrNoInput)
	}
	x.restore = time.NewTimer(time.Hour)
	x.restore.Stop()
	go x.run()
	return x, nil
}

// connect binds what the backend needs and creates the virtual devices.
func (x *injector) connect(path string) error {
	c, err := wayland.Dial(path)
	if err != nil {
		return err
	}
	x.c = c
	reg, globals, err := c.Registry()
	if err != nil {
		return fmt.Errorf("reading the registry: %w", err)
	}
	x.registry = reg
	find := func(iface string) (wayland.Global, bool) {
		i := slices.IndexFunc(globals, func(g wayland.Global) bool { return g.Interface == iface })
		if i < 0 {
			return wayland.Global{}, false
		}
		return globals[i], true
	}
	vk, okK := find(ifaceVirtualKeyboard)
	vp, okP := find(ifaceVirtualPointer)
	seat, okS := find(ifaceSeat)
	switch {
	case !okK || !okP:
		return fmt.Errorf("the compositor does not offer %s", missing(okK, okP))
	case !okS:
		return errors.New("the compositor has no seat")
	}
	seatID := c.Bind(reg, seat, 1)
	vkm := c.Bind(reg, vk, 1)
	vpm := c.Bind(reg, vp, 1)
	if g, ok := find(ifaceXdgOutput); ok && g.Version >= 2 {
		x.xdgMgr = c.Bind(reg, g, min(g.Version, 3))
	}
	c.Handle(reg, x.onRegistry)
	for _, g := range globals {
		if g.Interface == ifaceOutput {
			x.addOutput(g)
		}
	}

	x.kbd = c.NewID()
	c.Request(vkm, vkManagerCreate).Uint(seatID).Uint(x.kbd).Send()
	if err := x.uploadKeymap(nil); err != nil {
		return err
	}
	x.ptr = c.NewID()
	c.Request(vpm, vpManagerCreate).Uint(seatID).Uint(x.ptr).Send()
	// The managers are not needed once the devices exist; their destroy
	// requests differ (the keyboard manager has none), so they stay.
	if err := c.Roundtrip(); err != nil {
		return fmt.Errorf("creating the virtual devices: %w", err)
	}
	// A second roundtrip collects the output events the binds caused.
	if err := c.Roundtrip(); err != nil {
		return fmt.Errorf("reading the outputs: %w", err)
	}
	x.layout()
	return nil
}

// missing names the protocols the compositor lacks.
func missing(keyboard, pointer bool) string {
	var m []string
	if !keyboard {
		m = append(m, ifaceVirtualKeyboard)
	}
	if !pointer {
		m = append(m, ifaceVirtualPointer)
	}
	if len(m) == 2 {
		return m[0] + " nor " + m[1]
	}
	return m[0]
}

// onRegistry follows outputs that come and go after the start.
func (x *injector) onRegistry(op uint16, a *wayland.Args) {
	switch op {
	case registryGlobal:
		g := wayland.Global{Name: a.Uint(), Interface: a.String(), Version: a.Uint()}
		if g.Interface == ifaceOutput {
			x.addOutput(g)
		}
	case registryRemove:
		name := a.Uint()
		if o, ok := x.outputs[name]; ok {
			x.c.Handle(o.id, nil)
			x.c.Handle(o.xdg, nil)
			delete(x.outputs, name)
			x.layout()
		}
	}
}

// addOutput binds a wl_output and, where the compositor has xdg-output,
// its logical rectangle: with scaling, that is what absolute pointer
// motion maps onto.
func (x *injector) addOutput(g wayland.Global) {
	o := &output{scale: 1}
	o.id = x.c.Bind(x.registry, g, min(g.Version, 3))
	x.outputs[g.Name] = o
	x.c.Handle(o.id, func(op uint16, a *wayland.Args) {
		switch op {
		case outGeometry:
			o.x, o.y, o.hasGeo = a.Int(), a.Int(), true
		case outMode:
			flags, w, h := a.Uint(), a.Int(), a.Int()
			if flags&modeCurrent != 0 {
				o.w, o.h, o.hasMode = w, h, true
			}
		case outScale:
			o.scale = a.Int()
		}
		x.layout()
	})
	if x.xdgMgr != 0 {
		o.xdg = x.c.NewID()
		x.c.Request(x.xdgMgr, xdgGetOutput).Uint(o.xdg).Uint(o.id).Send()
		x.c.Handle(o.xdg, func(op uint16, a *wayland.Args) {
			switch op {
			case xdgLogicalPosition:
				o.lx, o.ly = a.Int(), a.Int()
			case xdgLogicalSize:
				o.lw, o.lh, o.hasLogical = a.Int(), a.Int(), true
			}
			x.layout()
		})
	}
}

// box returns the bounding box of all outputs: the space absolute motion
// maps onto.
func (x *injector) box() (bx, by, bw, bh int32) {
	first := true
	var x0, y0, x1, y1 int32
	for _, o := range x.outputs {
		ox, oy, ow, oh := o.rect()
		if ow <= 0 || oh <= 0 {
			continue
		}
		if first {
			x0, y0, x1, y1, first = ox, oy, ox+ow, oy+oh, false
			continue
		}
		x0, y0 = min(x0, ox), min(y0, oy)
		x1, y1 = max(x1, ox+ow), max(y1, oy+oh)
	}
	return x0, y0, x1 - x0, y1 - y0
}

func (x *injector) layout() {
	_, _, w, h := x.box()
	x.mu.Lock()
	x.w, x.h = int(w), int(h)
	x.mu.Unlock()
}

// uploadKeymap sends the US keymap with extra bound to spare codes.
func (x *injector) uploadKeymap(extra []uint32) error {
	text := keymapText(extra)
	fd, err := unix.MemfdCreate("mfd-keymap", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("making the keymap file: %w", err)
	}
	defer unix.Close(fd)
	// The compositor maps the file; the terminating NUL is part of it,
	// as wl_keyboard.keymap requires.
	data := append([]byte(text), 0)
	for b := data; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("writing the keymap file: %w", err)
		}
		b = b[n:]
	}
	// Sealed, the file cannot shrink under the compositor's mapping.
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	x.c.Request(x.kbd, vkKeymap).Uint(keymapFormatXKBV1).FD(fd).Uint(uint32(len(data))).Send()
	// The fd must be open while it is sent.
	if err := x.c.Flush(); err != nil {
		return err
	}
	x.extra = extra
	x.log.Debug("keymap uploaded", "extra", len(extra))
	return nil
}

func (x *injector) run() {
	defer close(x.done)
	for {
		select {
		case f := <-x.cmds:
			f()
		case <-x.restore.C:
			x.restoreIdle()
		case <-x.quit:
			x.closeErr = x.shutdown()
			return
		}
	}
}

// do runs f on the run goroutine and returns its error, wrapping
// input.ErrNoInput once the compositor is gone.
func (x *injector) do(what string, f func() error) error {
	errc := make(chan error, 1)
	select {
	case x.cmds <- func() {
		if x.dead {
			errc <- fmt.Errorf("%s: the compositor connection is gone: %w", what, input.ErrNoInput)
			return
		}
		err := f()
		if err == nil {
			err = x.c.Roundtrip()
		}
		if cerr := x.c.Err(); cerr != nil {
			x.dead = true
			x.log.Warn("lost the compositor", "err", cerr)
			err = fmt.Errorf("%w: %w", cerr, input.ErrNoInput)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		errc <- err
	}:
		return <-errc
	case <-x.done:
		return fmt.Errorf("%s: the backend is closed: %w", what, input.ErrNoInput)
	}
}

func (x *injector) now() uint32 { return uint32(time.Since(x.epoch).Milliseconds()) }

func (x *injector) key(code uint32, down bool) {
	state := uint32(0)
	if down {
		state = 1
	}
	x.c.Request(x.kbd, vkKey).Uint(x.now()).Uint(code).Uint(state).Send()
}

// setMods sends the depressed modifiers, with the locked ones, if either
// changed. wlroots does not derive them from a virtual keyboard's key
// events: without this a held Ctrl would be a key and no modifier.
func (x *injector) setMods(depressed uint32) {
	if depressed == x.mods && x.locked == x.sentLock {
		return
	}
	x.mods, x.sentLock = depressed, x.locked
	x.c.Request(x.kbd, vkModifiers).Uint(depressed).Uint(0).Uint(x.locked).Uint(0).Send()
}

// heldMods returns the modifiers held keys set.
func (x *injector) heldMods() uint32 {
	var m uint32
	for _, h := range x.heldKeys {
		m |= h.mod
		if h.shift {
			m |= modShift
		}
	}
	return m
}

func (x *injector) heldCode(code uint32) bool {
	for _, h := range x.heldKeys {
		if h.code == code || h.shift && code == evdev["lshift"] {
			return true
		}
	}
	return false
}

// press presses code and, for a modifier key, sets its modifier, in the
// order a real keyboard reports them.
func (x *injector) press(code, mod uint32) {
	x.key(code, true)
	// A lock key toggles its lock on press, as a real keyboard's does.
	switch code {
	case evdev["capslock"]:
		x.locked ^= modLock
	case evdev["numlock"]:
		x.locked ^= modMod2
	}
	x.setMods(x.mods | mod)
}

// resolveKey returns where a contract key name sits in the keymap.
func resolveKey(name string) (loc, uint32, error) {
	k, ok := keys.Lookup(name)
	if !ok {
		return loc{}, 0, fmt.Errorf("unknown key %q", name)
	}
	if c, ok := keyCode(k.Name); ok {
		return loc{code: c}, modBit(k.Name), nil
	}
	if l, ok := baseLocs[k.Keysym]; ok {
		return l, 0, nil
	}
	return loc{}, 0, fmt.Errorf("key %q: %w", name, input.ErrUnsupported)
}

func (x *injector) Backend() string { return "wlroots" }

// Caps reports that the backend types any character (through its own
// keymap), places the pointer absolutely and scrolls.
func (x *injector) Caps() input.Caps {
	return input.Caps{Unicode: true, PointerAbs: true, Scroll: true}
}

// Screen returns the size of the output layout's bounding box.
func (x *injector) Screen() (w, h int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.w, x.h
}

func (x *injector) KeyDown(name string) error {
	l, mod, err := resolveKey(name)
	if err != nil {
		return fmt.Errorf("pressing a key: %w", err)
	}
	k, _ := keys.Lookup(name)
	return x.do("pressing "+k.Name, func() error {
		if _, held := x.heldKeys[k.Name]; held {
			return nil // a panel repeating a held key
		}
		shift := l.shift && x.mods&modShift == 0
		if shift {
			x.press(evdev["lshift"], modShift)
		}
		x.press(l.code, mod)
		x.heldKeys[k.Name] = heldKey{code: l.code, mod: mod, shift: shift}
		x.heldOrder = append(x.heldOrder, k.Name)
		return nil
	})
}

func (x *injector) KeyUp(name string) error {
	k, ok := keys.Lookup(name)
	if !ok {
		return fmt.Errorf("releasing a key: unknown key %q", name)
	}
	return x.do("releasing "+k.Name, func() error {
		x.releaseKey(k.Name)
		return nil
	})
}

// releaseKey releases a key KeyDown pressed; it does nothing for any other.
func (x *injector) releaseKey(name string) {
	h, ok := x.heldKeys[name]
	if !ok {
		return
	}
	delete(x.heldKeys, name)
	x.heldOrder = slices.DeleteFunc(x.heldOrder, func(n string) bool { return n == name })
	if !x.heldCode(h.code) {
		x.key(h.code, false)
	}
	if h.shift && !x.heldCode(evdev["lshift"]) {
		x.key(evdev["lshift"], false)
	}
	x.setMods(x.heldMods())
}

func (x *injector) Tap(name string, mods []string) error {
	l, mod, err := resolveKey(name)
	if err != nil {
		return fmt.Errorf("tapping a key: %w", err)
	}
	k, _ := keys.Lookup(name)
	canon, err := keys.ParseMods(mods)
	if err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	return x.do("tapping "+k.Name, func() error {
		type pressed struct{ code, mod uint32 }
		var ms []pressed
		for _, m := range canon {
			ml, bit, _ := resolveKey(m) // ParseMods returned only known names
			// A modifier KeyDown holds stays down and is not released.
			if x.heldCode(ml.code) {
				continue
			}
			x.press(ml.code, bit)
			ms = append(ms, pressed{ml.code, bit})
		}
		shift := l.shift && x.mods&modShift == 0
		if shift {
			x.press(evdev["lshift"], modShift)
		}
		x.press(l.code, mod)
		x.key(l.code, false)
		if shift {
			x.key(evdev["lshift"], false)
		}
		down := x.heldMods()
		for _, p := range ms {
			down |= p.mod
		}
		x.setMods(down)
		for i := len(ms) - 1; i >= 0; i-- {
			x.key(ms[i].code, false)
			down &^= ms[i].mod
			x.setMods(down | x.heldMods())
		}
		return nil
	})
}

func (x *injector) Type(text string) error {
	syms := make([]uint32, 0, len(text))
	for _, r := range text {
		s, err := keys.RuneKeysym(r)
		if err != nil {
			return fmt.Errorf("typing text: %w: %w", err, input.ErrUnsupported)
		}
		syms = append(syms, s)
	}
	if len(syms) == 0 {
		return nil
	}
	return x.do("typing text", func() error { return x.typeSyms(syms) })
}

// typeSyms taps each keysym: from the US keymap where it has it, else from
// spare keycodes bound in a new keymap, as many at a time as there are
// spare codes.
func (x *injector) typeSyms(syms []uint32) error {
	// Text is typed as given: Caps Lock would turn its case over.
	if lock := x.locked & modLock; lock != 0 {
		x.locked &^= lock
		x.setMods(x.mods)
		defer func() {
			x.locked |= lock
			x.setMods(x.mods)
		}()
	}
	for pos := 0; pos < len(syms); {
		var need []uint32
		for _, s := range syms[pos:] {
			if _, ok := x.locate(s); !ok && !slices.Contains(need, s) {
				need = append(need, s)
			}
		}
		if len(need) > 0 {
			extra := slices.Clone(x.extra)
			if len(extra)+len(need) > len(spareCodes) {
				// Nothing held sits on a spare code: only Type uses them.
				extra = extra[:0]
			}
			extra = append(extra, need[:min(len(need), len(spareCodes)-len(extra))]...)
			if err := x.uploadKeymap(extra); err != nil {
				return err
			}
		}
		for ; pos < len(syms); pos++ {
			l, ok := x.locate(syms[pos])
			if !ok {
				break
			}
			shift := l.shift && x.mods&modShift == 0
			if shift {
				x.press(evdev["lshift"], modShift)
			}
			x.key(l.code, true)
			x.key(l.code, false)
			if shift {
				x.key(evdev["lshift"], false)
				x.setMods(x.heldMods())
			}
		}
	}
	if len(x.extra) > 0 {
		x.lastUse = time.Now()
		x.restore.Reset(x.hold)
	}
	return nil
}

// locate returns where the current keymap has keysym s.
func (x *injector) locate(s uint32) (loc, bool) {
	if l, ok := baseLocs[s]; ok {
		return l, true
	}
	if i := slices.Index(x.extra, s); i >= 0 {
		return loc{code: spareCodes[i]}, true
	}
	return loc{}, false
}

// restoreIdle puts the US keymap back once no extra character was typed
// for the hold.
func (x *injector) restoreIdle() {
	if x.dead || len(x.extra) == 0 {
		return
	}
	if wait := time.Until(x.lastUse.Add(x.hold)); wait > 0 {
		x.restore.Reset(wait)
		return
	}
	if err := x.uploadKeymap(nil); err == nil {
		err = x.c.Roundtrip()
	}
	if err := x.c.Err(); err != nil {
		x.dead = true
		x.log.Warn("lost the compositor", "err", err)
	}
}

func (x *injector) Move(px, py int, rel bool) error {
	return x.do("moving the pointer", func() error {
		if rel {
			x.c.Request(x.ptr, vpMotion).Uint(x.now()).Fixed(float64(px)).Fixed(float64(py)).Send()
		} else {
			_, _, w, h := x.box()
			if w <= 0 || h <= 0 {
				return fmt.Errorf("the compositor reports no output: %w", input.ErrUnsupported)
			}
			cx := min(max(px, 0), int(w)-1)
			cy := min(max(py, 0), int(h)-1)
			x.c.Request(x.ptr, vpMotionAbsolute).Uint(x.now()).Uint(uint32(cx)).Uint(uint32(cy)).Uint(uint32(w)).Uint(uint32(h)).Send()
		}
		x.c.Request(x.ptr, vpFrame).Send()
		return nil
	})
}

// linuxButton maps a contract button to its Linux button code.
func linuxButton(b input.Button) (uint32, error) {
	switch b {
	case input.ButtonLeft:
		return btnLeft, nil
	case input.ButtonMiddle:
		return btnMiddle, nil
	case input.ButtonRight:
		return btnRight, nil
	}
	return 0, fmt.Errorf("unknown button %d", int(b))
}

func (x *injector) button(code uint32, down bool) {
	state := uint32(0)
	if down {
		state = 1
	}
	x.c.Request(x.ptr, vpButton).Uint(x.now()).Uint(code).Uint(state).Send()
	x.c.Request(x.ptr, vpFrame).Send()
}

func (x *injector) ButtonDown(b input.Button) error {
	code, err := linuxButton(b)
	if err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	return x.do("pressing a button", func() error {
		if x.heldBtns[b] {
			return nil // a panel repeating a held button
		}
		x.button(code, true)
		x.heldBtns[b] = true
		return nil
	})
}

func (x *injector) ButtonUp(b input.Button) error {
	code, err := linuxButton(b)
	if err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	return x.do("releasing a button", func() error {
		if !x.heldBtns[b] {
			return nil
		}
		x.button(code, false)
		delete(x.heldBtns, b)
		return nil
	})
}

func (x *injector) Click(b input.Button, count int) error {
	code, err := linuxButton(b)
	if err != nil {
		return fmt.Errorf("clicking: %w", err)
	}
	if count < 1 || count > 3 {
		return fmt.Errorf("clicking: count %d is not 1-3", count)
	}
	return x.do("clicking", func() error {
		for range count {
			x.button(code, true)
			x.button(code, false)
		}
		return nil
	})
}

func (x *injector) Scroll(dx, dy int) error {
	if err := input.CheckScroll(dx, dy); err != nil {
		return err
	}
	if dx == 0 && dy == 0 {
		return nil
	}
	return x.do("scrolling", func() error {
		// One frame holds both axes, as a wheel that tilts reports them.
		x.c.Request(x.ptr, vpAxisSource).Uint(axisSourceWheel).Send()
		t := x.now()
		for _, a := range []struct {
			axis uint32
			n    int
		}{{axisVertical, dy}, {axisHorizontal, dx}} {
			if a.n != 0 {
				x.c.Request(x.ptr, vpAxisDiscrete).Uint(t).Uint(a.axis).Fixed(float64(a.n * wheelStep)).Int(int32(a.n)).Send()
			}
		}
		x.c.Request(x.ptr, vpFrame).Send()
		return nil
	})
}

// Close releases held keys (in reverse order of pressing) and buttons,
// puts the US keymap back, destroys the virtual devices and disconnects.
// It is idempotent.
func (x *injector) Close() error {
	x.closeOnce.Do(func() {
		close(x.quit)
		<-x.done
	})
	return x.closeErr
}

// shutdown is Close on the run goroutine.
func (x *injector) shutdown() error {
	x.restore.Stop()
	defer x.c.Close()
	if x.dead {
		return nil
	}
	for i := len(x.heldOrder) - 1; i >= 0; i-- {
		x.releaseKey(x.heldOrder[i])
	}
	for b := range x.heldBtns {
		if code, err := linuxButton(b); err == nil {
			x.button(code, false)
		}
		delete(x.heldBtns, b)
	}
	x.locked = 0
	x.setMods(0)
	if len(x.extra) > 0 {
		if err := x.uploadKeymap(nil); err != nil {
			return fmt.Errorf("closing the wlroots backend: %w", err)
		}
	}
	x.c.Request(x.kbd, vkDestroy).Send()
	x.c.Request(x.ptr, vpDestroy).Send()
	if err := x.c.Roundtrip(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("closing the wlroots backend: %w", err)
	}
	return nil
}
