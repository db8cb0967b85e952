package uinput

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/input"
)

// recDevice is a device that records what the backend sends: ioctls in
// order, and the bytes written.
type recDevice struct {
	ioctls   []string
	written  bytes.Buffer
	writes   int
	closed   bool
	failNext error // the next Write fails with it
}

func (d *recDevice) ioctl(req uint32, arg uintptr) error {
	d.ioctls = append(d.ioctls, fmt.Sprintf("%#x %d", req, arg))
	return nil
}

func (d *recDevice) ioctlPtr(req uint32, p []byte) error {
	d.ioctls = append(d.ioctls, fmt.Sprintf("%#x %x", req, p))
	return nil
}

func (d *recDevice) Write(p []byte) (int, error) {
	if err := d.failNext; err != nil {
		d.failNext = nil
		return 0, err
	}
	d.writes++
	return d.written.Write(p)
}

func (d *recDevice) Close() error { d.closed = true; return nil }

// events decodes what was written, event by event, as "TYPE CODE VALUE"
// with the kernel's names for type and code, and checks every event's
// time is zero (the kernel stamps them).
func (d *recDevice) events(t *testing.T) []string {
	t.Helper()
	b := d.written.Bytes()
	if len(b)%sizeofEvent != 0 {
		t.Fatalf("%d bytes written: not whole %d-byte input_events", len(b), sizeofEvent)
	}
	names := map[string]string{}
	for n, v := range evdev {
		prefix, _, _ := strings.Cut(n, "_")
		names[fmt.Sprintf("%s/%d", prefix, v)] = n
	}
	ne := binary.NativeEndian
	var out []string
	for ; len(b) > 0; b = b[sizeofEvent:] {
		if !bytes.Equal(b[:2*wordBytes], make([]byte, 2*wordBytes)) {
			t.Errorf("an event's time is %x, want zero", b[:2*wordBytes])
		}
		typ, code, val := ne.Uint16(b[2*wordBytes:]), ne.Uint16(b[2*wordBytes+2:]), int32(ne.Uint32(b[2*wordBytes+4:]))
		tn := names[fmt.Sprintf("EV/%d", typ)]
		var cn string
		switch tn {
		case "EV_SYN":
			cn = names[fmt.Sprintf("SYN/%d", code)]
		case "EV_REL":
			cn = names[fmt.Sprintf("REL/%d", code)]
		case "EV_KEY":
			cn = cmpOr(names[fmt.Sprintf("KEY/%d", code)], names[fmt.Sprintf("BTN/%d", code)])
		}
		if tn == "EV_SYN" {
			out = append(out, "SYN")
			continue
		}
		out = append(out, fmt.Sprintf("%s %d", cmpOr(cn, fmt.Sprint(code)), val))
	}
	d.written.Reset()
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// newRec creates an injector on a recording device, with no settling wait
// and no key delay unless opts says, and a sleep that records instead of
// sleeping.
func newRec(t *testing.T, opts Options) (*injector, *recDevice, *[]time.Duration) {
	t.Helper()
	opts.Layout = cmpOr(opts.Layout, "us")
	d := &recDevice{}
	x, err := newInjector(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	x.sleep = func(d time.Duration) { slept = append(slept, d) }
	d.ioctls = nil
	return x, d, &slept
}

// TestSetupSequence checks the ioctls that create the device, in order:
// event types and codes declared, UI_DEV_SETUP with the bytes of struct
// uinput_setup, UI_DEV_CREATE.
func TestSetupSequence(t *testing.T) {
	d := &recDevice{}
	if _, err := newInjector(d, Options{Layout: "us"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	want = append(want, "0x40045564 1") // UI_SET_EVBIT EV_KEY
	codes := deviceKeys()
	slices.Sort(codes)
	for _, c := range codes {
		want = append(want, fmt.Sprintf("0x40045565 %d", c)) // UI_SET_KEYBIT
	}
	want = append(want, "0x40045564 2")                                                 // UI_SET_EVBIT EV_REL
	want = append(want, "0x40045566 0", "0x40045566 1", "0x40045566 6", "0x40045566 8") // UI_SET_RELBIT X Y HWHEEL WHEEL
	// struct uinput_setup on a little-endian machine: bustype 0x06 (virtual),
	// vendor 0x1209, product 0x0001, version 1, the name NUL-padded to 80
	// bytes, ff_effects_max 0.
	setup := "0600" + "0912" + "0100" + "0100" + fmt.Sprintf("%x", DeviceName) + strings.Repeat("00", 80-len(DeviceName)) + "00000000"
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		setup = "0006" + "1209" + "0001" + "0001" + fmt.Sprintf("%x", DeviceName) + strings.Repeat("00", 80-len(DeviceName)) + "00000000"
	}
	want = append(want, "0x405c5503 "+setup, "0x5501 0") // UI_DEV_SETUP, UI_DEV_CREATE
	if !slices.Equal(d.ioctls, want) {
		t.Errorf("ioctls:\n got %q\nwant %q", d.ioctls, want)
	}
	for _, c := range []string{"KEY_A", "KEY_ENTER", "KEY_LEFTSHIFT", "KEY_F24", "KEY_MICMUTE", "BTN_LEFT", "BTN_RIGHT", "BTN_MIDDLE"} {
		if !slices.Contains(codes, code(c)) {
			t.Errorf("the device does not declare %s", c)
		}
	}
}

// TestEventBytes checks one key press byte for byte: zero time, EV_KEY,
// KEY_A, value 1, then SYN_REPORT.
func TestEventBytes(t *testing.T) {
	x, d, _ := newRec(t, Options{})
	if err := x.KeyDown("a"); err != nil {
		t.Fatal(err)
	}
	le := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	ev := func(typ, code uint16, val uint32) string {
		b := make([]byte, 8)
		if le {
			binary.LittleEndian.PutUint16(b, typ)
			binary.LittleEndian.PutUint16(b[2:], code)
			binary.LittleEndian.PutUint32(b[4:], val)
		} else {
			binary.BigEndian.PutUint16(b, typ)
			binary.BigEndian.PutUint16(b[2:], code)
			binary.BigEndian.PutUint32(b[4:], val)
		}
		return strings.Repeat("00", 2*wordBytes) + fmt.Sprintf("%x", b)
	}
	want := ev(1, 30, 1) + ev(0, 0, 0)
	if got := fmt.Sprintf("%x", d.written.Bytes()); got != want {
		t.Errorf("KeyDown(a) wrote\n %s\nwant\n %s", got, want)
	}
	if wordBytes == 8 && d.written.Len() != 48 {
		t.Errorf("two events are %d bytes, want 2×24", d.written.Len())
	}
}

func TestTypeASCII(t *testing.T) {
	x, d, slept := newRec(t, Options{KeyDelay: 3 * time.Millisecond})
	if err := x.Type("Hi!\n\t"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"KEY_LEFTSHIFT 1", "SYN", "KEY_H 1", "SYN", "KEY_H 0", "SYN", "KEY_LEFTSHIFT 0", "SYN",
		"KEY_I 1", "SYN", "KEY_I 0", "SYN",
		"KEY_LEFTSHIFT 1", "SYN", "KEY_1 1", "SYN", "KEY_1 0", "SYN", "KEY_LEFTSHIFT 0", "SYN",
		"KEY_ENTER 1", "SYN", "KEY_ENTER 0", "SYN",
		"KEY_TAB 1", "SYN", "KEY_TAB 0", "SYN",
	}
	if got := d.events(t); !slices.Equal(got, want) {
		t.Errorf("Type(\"Hi!\\n\\t\") sent\n %q\nwant\n %q", got, want)
	}
	if d.writes != 5 {
		t.Errorf("%d writes for 5 characters, want one each", d.writes)
	}
	if want := []time.Duration{3e6, 3e6, 3e6, 3e6}; !slices.Equal(*slept, want) {
		t.Errorf("paused %v between characters, want %v", *slept, want)
	}
}

// TestTypeRefusesWholeText: a character the US layout cannot type fails
// the text before any key is sent.
func TestTypeRefusesWholeText(t *testing.T) {
	x, d, _ := newRec(t, Options{})
	for _, s := range []string{"é", "a€b", "ok😀", "a\x01"} {
		if err := x.Type(s); !errors.Is(err, input.ErrUnsupported) {
			t.Errorf("Type(%q) = %v, want ErrUnsupported", s, err)
		}
	}
	if d.written.Len() != 0 {
		t.Errorf("refused text still sent %q", d.events(t))
	}
}

// TestNonUSLayout: on another layout, characters are refused and
// layout-free keys still work.
func TestNonUSLayout(t *testing.T) {
	x, d, _ := newRec(t, Options{Layout: "de"})
	if err := x.Type("z"); !errors.Is(err, input.ErrUnsupported) || !strings.Contains(err.Error(), `"de"`) {
		t.Errorf(`Type("z") on de = %v, want ErrUnsupported naming the layout`, err)
	}
	if err := x.Tap("y", []string{"ctrl"}); !errors.Is(err, input.ErrUnsupported) {
		t.Errorf(`Tap("y") on de = %v, want ErrUnsupported`, err)
	}
	if d.written.Len() != 0 {
		t.Fatalf("refused keys still sent %q", d.events(t))
	}
	for _, k := range []string{"enter", "f5", "left", "audio_mute", "ctrl"} {
		if err := x.Tap(k, nil); err != nil {
			t.Errorf("Tap(%q) on de = %v", k, err)
		}
	}
}

func TestTapHoldAndClose(t *testing.T) {
	x, d, _ := newRec(t, Options{})
	steps := []func() error{
		func() error { return x.Tap("c", []string{"ctrl"}) },
		func() error { return x.Tap("T", nil) }, // unknown as a key name: only "t"
	}
	if err := steps[0](); err != nil {
		t.Fatal(err)
	}
	if err := steps[1](); err == nil {
		t.Error(`Tap("T") = nil, want unknown key`)
	}
	if err := x.KeyDown("shift"); err != nil {
		t.Fatal(err)
	}
	if err := x.KeyDown("shift"); err != nil { // a repeat: nothing more
		t.Fatal(err)
	}
	if err := x.Tap("a", []string{"shift"}); err != nil { // shift held: not pressed nor released again
		t.Fatal(err)
	}
	if err := x.KeyDown("?"); err != nil { // needs shift, already held
		t.Fatal(err)
	}
	if err := x.ButtonDown(input.ButtonMiddle); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	want := []string{
		"KEY_LEFTCTRL 1", "SYN", "KEY_C 1", "SYN", "KEY_C 0", "SYN", "KEY_LEFTCTRL 0", "SYN",
		"KEY_LEFTSHIFT 1", "SYN",
		"KEY_A 1", "SYN", "KEY_A 0", "SYN",
		"KEY_SLASH 1", "SYN",
		"BTN_MIDDLE 1", "SYN",
		// Close: held keys in reverse order, then buttons.
		"KEY_SLASH 0", "SYN", "KEY_LEFTSHIFT 0", "SYN", "BTN_MIDDLE 0", "SYN",
	}
	if got := d.events(t); !slices.Equal(got, want) {
		t.Errorf("sent\n %q\nwant\n %q", got, want)
	}
	if want := []string{"0x5502 0"}; !slices.Equal(d.ioctls, want) || !d.closed {
		t.Errorf("Close: ioctls %q, closed %v; want UI_DEV_DESTROY and the fd closed", d.ioctls, d.closed)
	}
	if err := x.Type("a"); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Type after Close = %v, want ErrNoInput", err)
	}
}

func TestPointer(t *testing.T) {
	x, d, _ := newRec(t, Options{})
	if err := x.Move(5, -7, true); err != nil {
		t.Fatal(err)
	}
	if err := x.Move(0, 3, true); err != nil {
		t.Fatal(err)
	}
	if err := x.Move(100, 100, false); !errors.Is(err, input.ErrUnsupported) {
		t.Errorf("Move(abs) = %v, want ErrUnsupported", err)
	}
	if err := x.Click(input.ButtonLeft, 2); err != nil {
		t.Fatal(err)
	}
	if err := x.Click(input.ButtonRight, 1); err != nil {
		t.Fatal(err)
	}
	if err := x.Scroll(-2, 3); err != nil { // 3 down, 2 left
		t.Fatal(err)
	}
	if err := x.ButtonDown(input.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if err := x.ButtonUp(input.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if err := x.ButtonUp(input.ButtonLeft); err != nil { // not held: nothing
		t.Fatal(err)
	}
	want := []string{
		"REL_X 5", "REL_Y -7", "SYN",
		"REL_Y 3", "SYN",
		"BTN_LEFT 1", "SYN", "BTN_LEFT 0", "SYN", "BTN_LEFT 1", "SYN", "BTN_LEFT 0", "SYN",
		"BTN_RIGHT 1", "SYN", "BTN_RIGHT 0", "SYN",
		"REL_WHEEL -3", "SYN", "REL_HWHEEL -2", "SYN", // the wheel counts up as positive
		"BTN_LEFT 1", "SYN", "BTN_LEFT 0", "SYN",
	}
	if got := d.events(t); !slices.Equal(got, want) {
		t.Errorf("sent\n %q\nwant\n %q", got, want)
	}
	if c := x.Caps(); c != (input.Caps{Scroll: true}) {
		t.Errorf("Caps() = %+v, want scroll only", c)
	}
}

// TestSettleBeforeFirstEvent: the first event waits until the compositor
// has had Settle to open the new device.
func TestSettleBeforeFirstEvent(t *testing.T) {
	x, _, slept := newRec(t, Options{Settle: time.Hour})
	if err := x.Tap("a", nil); err != nil {
		t.Fatal(err)
	}
	if len(*slept) != 1 || (*slept)[0] < 59*time.Minute {
		t.Errorf("before the first event the backend slept %v, want about an hour", *slept)
	}
}

func TestWriteErrorIsNoInput(t *testing.T) {
	x, d, _ := newRec(t, Options{})
	d.failNext = errors.New("no such device")
	if err := x.Tap("a", nil); !errors.Is(err, input.ErrNoInput) || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("Tap on a failing device = %v, want ErrNoInput with the cause", err)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  input.MapEnv
		ok   bool
		why  string
	}{
		{"writable", input.MapEnv{Paths: []string{"/dev/uinput"}}, true, "is writable"},
		{"not writable", input.MapEnv{}, false, "not writable"},
		{"windows", input.MapEnv{OS: "windows", Paths: []string{"/dev/uinput"}}, false, "Linux"},
	} {
		ok, why := Detect(tc.env)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: Detect = %v, %q; want %v and %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestAdviceHasTheRuleAndGroup(t *testing.T) {
	a := Advice()
	for _, want := range []string{`KERNEL=="uinput", GROUP="input", MODE="0660", OPTIONS+="static_node=uinput"`, "usermod -aG input $USER", "modprobe uinput"} {
		if !strings.Contains(a, want) {
			t.Errorf("Advice() lacks %q:\n%s", want, a)
		}
	}
}
