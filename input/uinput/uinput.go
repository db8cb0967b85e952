package uinput

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
)

// DeviceName is the name the virtual device shows in libinput list-devices
// and /proc/bus/input/devices.
const DeviceName = "mfd virtual keyboard and pointer"

// The device's input_id: a virtual bus, and the pid.codes test vendor and
// product (0x1209/0x0001), which are free for software such as this.
var devID = deviceID{bustype: uint16(evdev["BUS_VIRTUAL"]), vendor: 0x1209, product: 0x0001, version: 1}

// DefaultSettle is Options.Settle when it is zero: how long a new device
// takes, measured generously, to be opened by the compositor (udev tells
// libinput, libinput opens the node). Events sent earlier are lost, so the
// first event waits out what is left of it.
const DefaultSettle = 500 * time.Millisecond

// DefaultKeyDelay is Options.KeyDelay when it is zero. The kernel queues a
// reader's events in a buffer of some 64 to 128; a compositor busy drawing
// for a few milliseconds while text arrives faster would see that buffer
// overflow (SYN_DROPPED) and lose keys.
const DefaultKeyDelay = 2 * time.Millisecond

// Options configures New. The zero value opens DevicePath with the
// defaults and logs nothing.
type Options struct {
	// Path is the uinput device; empty means DevicePath.
	Path string
	// Settle is how long after creating the device the first event waits;
	// zero means DefaultSettle.
	Settle time.Duration
	// KeyDelay is the pause after each character typed; zero means
	// DefaultKeyDelay.
	KeyDelay time.Duration
	// Layout is the active keyboard layout ("us", "de"); empty means the
	// system's (/etc/default/keyboard or localectl's X11 configuration),
	// and US when that names none. Characters are typed only on "us".
	Layout string
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// device is what the backend needs of an open /dev/uinput: ioctls with a
// value or with a struct's bytes, and write. The real one is a file
// descriptor; tests record the bytes.
type device interface {
	ioctl(req uint32, arg uintptr) error
	ioctlPtr(req uint32, p []byte) error
	io.WriteCloser
}

var _ input.Injector = (*injector)(nil)

// errClosed is returned by the methods of a closed injector.
var errClosed = fmt.Errorf("uinput device closed: %w", input.ErrNoInput)

// injector drives a uinput device. mu serialises every write, so events
// keep their order and each frame is whole.
type injector struct {
	log      *slog.Logger
	keyDelay time.Duration
	layout   string // "us" types characters; anything else only layout-free keys
	sleep    func(time.Duration)

	mu        sync.Mutex
	dev       device
	readyAt   time.Time // when the compositor has had time to open the device
	heldKeys  map[string]keyPos
	heldOrder []string
	heldBtns  map[input.Button]bool
	buf       []byte
}

// newInjector declares the device's capabilities on dev and creates it.
func newInjector(dev device, opts Options) (*injector, error) {
	if err := setup(dev); err != nil {
		return nil, err
	}
	x := &injector{
		log:      opts.Logger,
		keyDelay: opts.KeyDelay,
		layout:   opts.Layout,
		sleep:    time.Sleep,
		dev:      dev,
		readyAt:  time.Now().Add(opts.Settle),
		heldKeys: map[string]keyPos{},
		heldBtns: map[input.Button]bool{},
	}
	if x.log == nil {
		x.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return x, nil
}

// setup runs the ioctl sequence of the kernel's uinput documentation:
// declare the event types and codes, describe the device, create it.
func setup(dev device) error {
	set := func(req uint32, what string, v uint16) error {
		if err := dev.ioctl(req, uintptr(v)); err != nil {
			return fmt.Errorf("declaring %s %d: %w", what, v, err)
		}
		return nil
	}
	if err := set(uiSetEvBit, "event type", code("EV_KEY")); err != nil {
		return err
	}
	codes := deviceKeys()
	slices.Sort(codes)
	for _, c := range codes {
		if err := set(uiSetKeyBit, "key", c); err != nil {
			return err
		}
	}
	if err := set(uiSetEvBit, "event type", code("EV_REL")); err != nil {
		return err
	}
	for _, r := range []string{"REL_X", "REL_Y", "REL_HWHEEL", "REL_WHEEL"} {
		if err := set(uiSetRelBit, "axis", code(r)); err != nil {
			return err
		}
	}
	b, err := encodeSetup(devID, DeviceName, 0)
	if err != nil {
		return err
	}
	if err := dev.ioctlPtr(uiDevSetup, b); err != nil {
		return fmt.Errorf("describing the device (UI_DEV_SETUP needs Linux 4.5 or newer): %w", err)
	}
	if err := dev.ioctl(uiDevCreate, 0); err != nil {
		return fmt.Errorf("creating the device: %w", err)
	}
	return nil
}

func (x *injector) Backend() string { return Name }

// Caps reports no Unicode (only what the layout maps) and no absolute
// pointer: uinput does not know the screen, and a device with both
// relative and absolute axes is classified inconsistently by libinput.
func (x *injector) Caps() input.Caps { return input.Caps{Scroll: true} }

// Screen is unknown to a uinput device.
func (x *injector) Screen() (w, h int) { return 0, 0 }

// frame appends one event and a SYN_REPORT to x.buf, so each key change
// or motion is a frame of its own. The caller holds mu.
func (x *injector) frame(typ string, c uint16, value int32) {
	x.buf = appendEvent(x.buf, code(typ), c, value)
	x.buf = appendEvent(x.buf, code("EV_SYN"), code("SYN_REPORT"), 0)
}

func (x *injector) key(c uint16, down bool) {
	v := int32(0)
	if down {
		v = 1
	}
	x.frame("EV_KEY", c, v)
}

// flush writes the frames in x.buf. The caller holds mu.
func (x *injector) flush() error {
	if x.dev == nil {
		x.buf = x.buf[:0]
		return errClosed
	}
	if len(x.buf) == 0 {
		return nil
	}
	if d := time.Until(x.readyAt); d > 0 {
		x.sleep(d)
	}
	n, err := x.dev.Write(x.buf)
	x.buf = x.buf[:0]
	if err != nil {
		return fmt.Errorf("writing to the uinput device: %v: %w", err, input.ErrNoInput)
	}
	if n%sizeofEvent != 0 {
		return fmt.Errorf("writing to the uinput device: a short write of %d bytes: %w", n, input.ErrNoInput)
	}
	return nil
}

// place returns where keysym sym is typed, or an error wrapping
// input.ErrUnsupported: a character on a layout that is not US, or a
// keysym no US key makes.
func (x *injector) place(sym uint32, what string) (keyPos, error) {
	p, ok := usLayout[sym]
	if !ok {
		return keyPos{}, fmt.Errorf("%s: no key of a US layout types it: %w", what, input.ErrUnsupported)
	}
	if x.layout != "us" && !layoutFree[sym] {
		return keyPos{}, fmt.Errorf("%s: the keyboard layout is %q and uinput types characters only on \"us\": %w", what, x.layout, input.ErrUnsupported)
	}
	return p, nil
}

// shiftHeld reports whether a held key keeps Shift down.
func (x *injector) shiftHeld() bool {
	for _, h := range x.heldKeys {
		if h.code == code("KEY_LEFTSHIFT") || h.shift {
			return true
		}
	}
	return false
}

// heldCode reports whether a held key holds code c.
func (x *injector) heldCode(c uint16) bool {
	for _, h := range x.heldKeys {
		if h.code == c {
			return true
		}
	}
	return false
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
	p, err := x.place(k.Keysym, "pressing "+k.Name)
	if err != nil {
		return err
	}
	addShift := p.shift && !x.shiftHeld()
	if addShift {
		x.key(code("KEY_LEFTSHIFT"), true)
	}
	x.key(p.code, true)
	if err := x.flush(); err != nil {
		return fmt.Errorf("pressing %s: %w", k.Name, err)
	}
	x.heldKeys[k.Name] = keyPos{code: p.code, shift: addShift}
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
	x.releaseKey(k.Name)
	if err := x.flush(); err != nil {
		return fmt.Errorf("releasing %s: %w", k.Name, err)
	}
	return nil
}

// releaseKey adds the release of a key KeyDown pressed to x.buf; it does
// nothing for any other. The caller holds mu.
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
	if h.shift && !x.shiftHeld() {
		x.key(code("KEY_LEFTSHIFT"), false)
	}
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
	p, err := x.place(k.Keysym, "tapping "+k.Name)
	if err != nil {
		return err
	}
	var press []uint16
	shifted := x.shiftHeld()
	for _, m := range canon {
		mk, _ := keys.Lookup(m) // ParseMods returns only names the table has
		mp := usLayout[mk.Keysym]
		shifted = shifted || m == "shift"
		if !x.heldCode(mp.code) {
			press = append(press, mp.code)
		}
	}
	for _, c := range press {
		x.key(c, true)
	}
	addShift := p.shift && !shifted
	if addShift {
		x.key(code("KEY_LEFTSHIFT"), true)
	}
	x.key(p.code, true)
	x.key(p.code, false)
	if addShift {
		x.key(code("KEY_LEFTSHIFT"), false)
	}
	for i := len(press) - 1; i >= 0; i-- {
		x.key(press[i], false)
	}
	if err := x.flush(); err != nil {
		return fmt.Errorf("tapping %s: %w", k.Name, err)
	}
	return nil
}

// Type types text on the US layout: printable ASCII, '\n' as Enter and
// '\t' as Tab. Any other character fails the whole text with an error
// wrapping input.ErrUnsupported before a key is sent, so nothing wrong
// and nothing partial is typed.
func (x *injector) Type(text string) error {
	var ps []keyPos
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range text {
		sym := uint32(r)
		switch r {
		case '\n':
			sym = 0xff0d // XK_Return
		case '\t':
			sym = 0xff09 // XK_Tab
		}
		if r < ' ' && r != '\n' && r != '\t' || r > '~' {
			return fmt.Errorf("typing %q: uinput types only printable ASCII, Enter and Tab: %w", r, input.ErrUnsupported)
		}
		p, err := x.place(sym, fmt.Sprintf("typing %q", r))
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	shiftDown := x.shiftHeld()
	for i, p := range ps {
		addShift := p.shift && !shiftDown
		if addShift {
			x.key(code("KEY_LEFTSHIFT"), true)
		}
		x.key(p.code, true)
		x.key(p.code, false)
		if addShift {
			x.key(code("KEY_LEFTSHIFT"), false)
		}
		if err := x.flush(); err != nil {
			return fmt.Errorf("typing text: %w", err)
		}
		if i < len(ps)-1 && x.keyDelay > 0 {
			x.sleep(x.keyDelay)
		}
	}
	return nil
}

// Move moves the pointer by px, py. An absolute move is unsupported: the
// device is a relative pointer.
func (x *injector) Move(px, py int, rel bool) error {
	if !rel {
		return fmt.Errorf("moving the pointer to %d, %d: a uinput pointer moves only relatively: %w", px, py, input.ErrUnsupported)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// Both axes in one frame: a diagonal move is one motion.
	if px != 0 {
		x.buf = appendEvent(x.buf, code("EV_REL"), code("REL_X"), int32(px))
	}
	if py != 0 {
		x.buf = appendEvent(x.buf, code("EV_REL"), code("REL_Y"), int32(py))
	}
	if len(x.buf) > 0 {
		x.buf = appendEvent(x.buf, code("EV_SYN"), code("SYN_REPORT"), 0)
	}
	if err := x.flush(); err != nil {
		return fmt.Errorf("moving the pointer: %w", err)
	}
	return nil
}

// evdevButton maps a contract button to its evdev code.
func evdevButton(b input.Button) (uint16, error) {
	switch b {
	case input.ButtonLeft:
		return code("BTN_LEFT"), nil
	case input.ButtonRight:
		return code("BTN_RIGHT"), nil
	case input.ButtonMiddle:
		return code("BTN_MIDDLE"), nil
	}
	return 0, fmt.Errorf("unknown button %d", int(b))
}

func (x *injector) ButtonDown(b input.Button) error {
	c, err := evdevButton(b)
	if err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.heldBtns[b] {
		return nil // a panel repeating a held button
	}
	x.key(c, true)
	if err := x.flush(); err != nil {
		return fmt.Errorf("pressing a button: %w", err)
	}
	x.heldBtns[b] = true
	return nil
}

func (x *injector) ButtonUp(b input.Button) error {
	c, err := evdevButton(b)
	if err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.heldBtns[b] {
		return nil
	}
	delete(x.heldBtns, b)
	x.key(c, false)
	if err := x.flush(); err != nil {
		return fmt.Errorf("releasing a button: %w", err)
	}
	return nil
}

func (x *injector) Click(b input.Button, count int) error {
	c, err := evdevButton(b)
	if err != nil {
		return fmt.Errorf("clicking: %w", err)
	}
	if count < 1 || count > 3 {
		return fmt.Errorf("clicking: count %d is not 1-3", count)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for range count {
		x.key(c, true)
		x.key(c, false)
	}
	if err := x.flush(); err != nil {
		return fmt.Errorf("clicking: %w", err)
	}
	return nil
}

// Scroll scrolls dy notches down (negative: up) and dx right. REL_WHEEL
// counts up as positive, so dy goes out negated; REL_HWHEEL counts right
// as positive.
func (x *injector) Scroll(dx, dy int) error {
	if err := input.CheckScroll(dx, dy); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if dy != 0 {
		x.frame("EV_REL", code("REL_WHEEL"), int32(-dy))
	}
	if dx != 0 {
		x.frame("EV_REL", code("REL_HWHEEL"), int32(dx))
	}
	if err := x.flush(); err != nil {
		return fmt.Errorf("scrolling: %w", err)
	}
	return nil
}

// Close releases held keys (in reverse order of pressing) and buttons,
// destroys the device and closes it. It is idempotent.
func (x *injector) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dev == nil {
		return nil
	}
	for i := len(x.heldOrder) - 1; i >= 0; i-- {
		x.releaseKey(x.heldOrder[i])
	}
	for _, b := range []input.Button{input.ButtonLeft, input.ButtonRight, input.ButtonMiddle} {
		if x.heldBtns[b] {
			delete(x.heldBtns, b)
			c, _ := evdevButton(b)
			x.key(c, false)
		}
	}
	// The releases need no settling wait: a device with keys held has
	// been read already.
	x.readyAt = time.Time{}
	errs := []error{x.flush()}
	errs = append(errs, x.dev.ioctl(uiDevDestroy, 0), x.dev.Close())
	x.dev = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing the uinput device: %w", err)
	}
	return nil
}
