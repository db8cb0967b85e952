package windows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
)

// fakeSystem records what the injector sends and answers the other calls
// as a US layout on one 1920x1080 monitor would, unless a test changes it.
type fakeSystem struct {
	sent     [][]event
	insert   func(evs []event) (int, error) // nil inserts everything
	layout   map[rune][2]uint16             // rune -> vk, modifier bits
	fg       uintptr
	why      string // refusal's answer
	certain  bool
	refusals int // how often refusal was asked
	vx, vy   int
	vw, vh   int
}

func newFake() *fakeSystem {
	f := &fakeSystem{vw: 1920, vh: 1080, fg: 0x1234, layout: map[rune][2]uint16{
		'!': {'1', modShift}, '/': {0xbf, 0}, '?': {0xbf, modShift}, '-': {0xbd, 0},
	}}
	return f
}

func (f *fakeSystem) sendInput(evs []event) (int, error) {
	f.sent = append(f.sent, slices.Clone(evs))
	if f.insert != nil {
		return f.insert(evs)
	}
	return len(evs), nil
}
func (f *fakeSystem) primary() (int, int)                 { return 1920, 1080 }
func (f *fakeSystem) virtualScreen() (int, int, int, int) { return f.vx, f.vy, f.vw, f.vh }
func (f *fakeSystem) keyScan(r rune) (uint16, uint8, bool) {
	l, ok := f.layout[r]
	return l[0], uint8(l[1]), ok
}
func (f *fakeSystem) scanCode(vk uint16) uint16 { return vk + 0x100 } // recognisable
func (f *fakeSystem) foreground() uintptr       { return f.fg }
func (f *fakeSystem) refusal(uintptr) (string, bool) {
	f.refusals++
	return f.why, f.certain
}

// all returns every event sent, flattened, in readable form, and forgets
// them.
func (f *fakeSystem) all() []string {
	var out []string
	for _, evs := range f.sent {
		for _, e := range evs {
			out = append(out, e.String())
		}
	}
	f.sent = nil
	return out
}

var vkNames = map[uint16]string{
	vkLShift: "LSHIFT", vkRShift: "RSHIFT", vkLControl: "LCTRL", vkRControl: "RCTRL",
	vkLMenu: "LALT", vkRMenu: "RALT", vkLWin: "LWIN", vkReturn: "RETURN", vkTab: "TAB",
}

// String is the event as the tests compare it: "A down", "LSHIFT up",
// "U+00E9 down", "move 10,20 abs", "wheel -120", "left down".
func (e event) String() string {
	if e.kind == inputKeyboard {
		dir := "down"
		if e.flags&keyeventfKeyUp != 0 {
			dir = "up"
		}
		if e.flags&keyeventfUnicode != 0 {
			return fmt.Sprintf("U+%04X %s", e.scan, dir)
		}
		name, ok := vkNames[e.vk]
		if !ok {
			if 'A' <= e.vk && e.vk <= 'Z' || '0' <= e.vk && e.vk <= '9' {
				name = string(rune(e.vk))
			} else {
				name = fmt.Sprintf("%#02x", e.vk)
			}
		}
		if e.flags&keyeventfExtendedKey != 0 {
			name += "+ext"
		}
		if e.scan != e.vk+0x100 {
			name += fmt.Sprintf("(scan %#x)", e.scan)
		}
		return name + " " + dir
	}
	switch f := e.flags; {
	case f&mouseeventfWheel != 0:
		return fmt.Sprintf("wheel %d", int32(e.data))
	case f&mouseeventfHWheel != 0:
		return fmt.Sprintf("hwheel %d", int32(e.data))
	case f&mouseeventfMove != 0 && f&mouseeventfAbsolute != 0:
		vd := ""
		if f&mouseeventfVirtualDesk != 0 {
			vd = " virtualdesk"
		}
		return fmt.Sprintf("move %d,%d abs%s", e.dx, e.dy, vd)
	case f&mouseeventfMove != 0:
		return fmt.Sprintf("move %d,%d rel", e.dx, e.dy)
	}
	names := map[uint32]string{
		mouseeventfLeftDown: "left down", mouseeventfLeftUp: "left up",
		mouseeventfRightDown: "right down", mouseeventfRightUp: "right up",
		mouseeventfMiddleDown: "middle down", mouseeventfMiddleUp: "middle up",
	}
	if n, ok := names[e.flags]; ok {
		return n
	}
	return fmt.Sprintf("mouse %#x", e.flags)
}

func check(t *testing.T, what string, f *fakeSystem, want ...string) {
	t.Helper()
	if got := f.all(); !slices.Equal(got, want) {
		t.Errorf("%s sent %q, want %q", what, got, want)
	}
}

func TestTapAndCombos(t *testing.T) {
	f := newFake()
	w := newInjector(f, nil)
	for _, tt := range []struct {
		key  string
		mods []string
		want []string
	}{
		{"a", nil, []string{"A down", "A up"}},
		{"Enter", nil, []string{"RETURN down", "RETURN up"}},
		{"a", []string{"ctrl", "shift"}, []string{"LCTRL down", "LSHIFT down", "A down", "A up", "LSHIFT up", "LCTRL up"}},
		{"tab", []string{"alt"}, []string{"LALT down", "TAB down", "TAB up", "LALT up"}},
		{"r", []string{"win"}, []string{"LWIN+ext down", "R down", "R up", "LWIN+ext up"}},
		{"delete", []string{"ctrl", "alt"}, []string{"LCTRL down", "LALT down", "0x2e+ext down", "0x2e+ext up", "LALT up", "LCTRL up"}},
		// Punctuation is looked up in the layout: "!" is Shift+1 on a US one.
		{"!", nil, []string{"LSHIFT down", "1 down", "1 up", "LSHIFT up"}},
		{"?", []string{"shift"}, []string{"LSHIFT down", "0xbf down", "0xbf up", "LSHIFT up"}},
		{"!", []string{"ctrl"}, []string{"LCTRL down", "LSHIFT down", "1 down", "1 up", "LSHIFT up", "LCTRL up"}},
		// A character the layout lacks goes as a Unicode packet.
		{"@", nil, []string{"U+0040 down", "U+0040 up"}},
	} {
		if err := w.Tap(tt.key, tt.mods); err != nil {
			t.Fatalf("Tap(%q, %q) = %v", tt.key, tt.mods, err)
		}
		check(t, fmt.Sprintf("Tap(%q, %q)", tt.key, tt.mods), f, tt.want...)
		if n := len(f.sent); n != 0 {
			t.Fatalf("internal: %d unchecked sends", n)
		}
	}
}

// TestEveryKeyHasAVirtualKey walks the whole key table of input/keys:
// every name but microphone mute maps to a virtual key or, for
// punctuation the layout lacks, a Unicode packet; the keys whose twin is
// on the keypad or the other side have the extended flag.
func TestEveryKeyHasAVirtualKey(t *testing.T) {
	f := newFake()
	w := newInjector(f, nil)
	for _, name := range keys.Names() {
		err := w.Tap(name, nil)
		evs := f.all()
		if name == "audio_mic_mute" {
			if !errors.Is(err, input.ErrUnsupported) || !strings.Contains(err.Error(), "microphone mute") {
				t.Errorf("Tap(audio_mic_mute) = %v, want ErrUnsupported saying why", err)
			}
			continue
		}
		if err != nil || len(evs) < 2 {
			t.Errorf("Tap(%q) = %v, sent %q", name, err, evs)
		}
	}
	for _, tt := range []struct {
		name string
		want vkey
	}{
		{"a", vkey{0x41, false}}, {"z", vkey{0x5a, false}}, {"0", vkey{0x30, false}}, {"9", vkey{0x39, false}},
		{"f1", vkey{0x70, false}}, {"f24", vkey{0x87, false}}, {"num0", vkey{0x60, false}}, {"num9", vkey{0x69, false}},
		{"enter", vkey{vkReturn, false}}, {"num_enter", vkey{vkReturn, true}}, {"num_divide", vkey{vkDivide, true}},
		{"num_plus", vkey{vkAdd, false}}, {"insert", vkey{vkInsert, true}}, {"home", vkey{vkHome, true}},
		{"pagedown", vkey{vkNext, true}}, {"up", vkey{vkUp, true}}, {"printscreen", vkey{vkSnapshot, true}},
		{"menu", vkey{vkApps, true}}, {"numlock", vkey{vkNumLock, true}}, {"capslock", vkey{vkCapital, false}},
		{"shift", vkey{vkLShift, false}}, {"rshift", vkey{vkRShift, false}}, {"ctrl", vkey{vkLControl, false}},
		{"rctrl", vkey{vkRControl, true}}, {"alt", vkey{vkLMenu, false}}, {"ralt", vkey{vkRMenu, true}},
		{"altgr", vkey{vkRMenu, true}}, {"super", vkey{vkLWin, true}}, {"rsuper", vkey{vkRWin, true}},
		{"audio_mute", vkey{vkVolumeMute, true}}, {"audio_vol_up", vkey{vkVolumeUp, true}},
		{"audio_vol_down", vkey{vkVolumeDown, true}}, {"audio_play", vkey{vkMediaPlayPause, true}},
		{"audio_pause", vkey{vkMediaPlayPause, true}}, {"audio_stop", vkey{vkMediaStop, true}},
		{"audio_next", vkey{vkMediaNextTrack, true}}, {"audio_prev", vkey{vkMediaPrevTrack, true}},
	} {
		k, _ := keys.Lookup(tt.name)
		if got, ok := keyVK(k); !ok || got != tt.want {
			t.Errorf("keyVK(%q) = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
	}
}

func TestTypeUnicodeEnterTab(t *testing.T) {
	f := newFake()
	w := newInjector(f, nil)
	if err := w.Type("hé€😀\n\tA"); err != nil {
		t.Fatal(err)
	}
	check(t, "Type", f,
		"U+0068 down", "U+0068 up", "U+00E9 down", "U+00E9 up", "U+20AC down", "U+20AC up",
		// 😀 is U+1F600: the surrogate pair D83D DE00.
		"U+D83D down", "U+DE00 down", "U+D83D up", "U+DE00 up",
		"RETURN down", "RETURN up", "TAB down", "TAB up", "U+0041 down", "U+0041 up")
	if err := w.Type("a\rb"); !errors.Is(err, input.ErrUnsupported) || !strings.Contains(err.Error(), "U+000D") {
		t.Errorf("Type with a carriage return = %v, want ErrUnsupported naming U+000D", err)
	}
	if got := f.all(); len(got) != 0 {
		t.Errorf("a refused text still sent %q", got)
	}
	if err := w.Type(""); err != nil || len(f.sent) != 0 {
		t.Errorf("Type(\"\") = %v, sent %d batches", err, len(f.sent))
	}
}

// TestAbsoluteMoves checks the 0..65535 scale: every pixel of the
// virtual screen maps to a value Windows maps back to that pixel.
func TestAbsoluteMoves(t *testing.T) {
	for _, vs := range [][4]int{{0, 0, 1920, 1080}, {-1280, -200, 3200, 1280}, {0, 0, 1, 1}, {0, 0, 7680, 4320}} {
		f := newFake()
		f.vx, f.vy, f.vw, f.vh = vs[0], vs[1], vs[2], vs[3]
		w := newInjector(f, nil)
		for x := vs[0]; x < vs[0]+vs[2]; x++ {
			n := absCoord(x, vs[0], vs[2])
			if n < 0 || n > 65535 {
				t.Fatalf("absCoord(%d) on %v = %d, outside 0..65535", x, vs, n)
			}
			if back := vs[0] + int(n)*vs[2]/65536; back != x {
				t.Fatalf("absCoord(%d) on %v = %d, which Windows maps to %d", x, vs, n, back)
			}
		}
		if err := w.Move(vs[0]-50, vs[1]+vs[3]+50, false); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("move 0,%d abs virtualdesk", absCoord(vs[1]+vs[3]-1, vs[1], vs[3]))
		check(t, fmt.Sprintf("Move outside %v", vs), f, want)
	}
	f := newFake()
	w := newInjector(f, nil)
	w.Move(960, 540, false)
	w.Move(-15, 25, true)
	check(t, "Move", f, "move 32768,32768 abs virtualdesk", "move -15,25 rel")
}

func TestButtonsClicksWheel(t *testing.T) {
	f := newFake()
	w := newInjector(f, nil)
	w.Click(input.ButtonLeft, 2)
	check(t, "double click", f, "left down", "left up", "left down", "left up")
	if len(f.sent) != 0 {
		t.Fatal("internal")
	}
	w.Click(input.ButtonRight, 1)
	w.Click(input.ButtonMiddle, 1)
	check(t, "right, middle click", f, "right down", "right up", "middle down", "middle up")
	if err := w.Click(input.ButtonLeft, 4); err == nil {
		t.Error("Click count 4 accepted")
	}
	w.Scroll(-1, 2)
	check(t, "Scroll(-1, 2)", f, "wheel -120", "wheel -120", "hwheel -120")
	w.Scroll(2, -1)
	check(t, "Scroll(2, -1)", f, "wheel 120", "hwheel 120", "hwheel 120")
	if err := w.Scroll(0, 1001); err == nil {
		t.Error("Scroll of 1001 steps accepted")
	}
	w.ButtonDown(input.ButtonLeft)
	w.ButtonDown(input.ButtonLeft) // a repeat
	w.ButtonUp(input.ButtonLeft)
	w.ButtonUp(input.ButtonLeft) // nothing held
	check(t, "down, down, up, up", f, "left down", "left up")
}

// TestHeldReleasedOnUpAndClose: what KeyDown and ButtonDown hold is
// released by its up or, in reverse order, by Close; modifiers pressed for
// a held key are released with it unless another held key needs them.
func TestHeldReleasedOnUpAndClose(t *testing.T) {
	f := newFake()
	w := newInjector(f, nil)
	w.KeyDown("shift")
	w.KeyDown("shift") // a repeat
	w.Tap("!", nil)    // Shift is held: not pressed again
	w.KeyDown("a")
	w.KeyUp("a")
	w.KeyUp("b") // never pressed
	check(t, "shift held, !, a", f, "LSHIFT down", "1 down", "1 up", "A down", "A up")

	w.KeyDown("!") // Shift is held already
	w.KeyUp("shift")
	w.KeyUp("!")
	check(t, "! held over shift", f, "1 down", "LSHIFT up", "1 up")

	w.KeyDown("!")
	w.KeyDown("?") // needs Shift, which "!" pressed
	w.KeyUp("!")   // Shift stays: "?" needs it
	w.KeyUp("?")
	check(t, "! and ? held", f, "LSHIFT down", "1 down", "0xbf down", "1 up", "0xbf up", "LSHIFT up")

	w.KeyDown("ctrl")
	w.KeyDown("rshift")
	w.ButtonDown(input.ButtonRight)
	w.KeyDown("@")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check(t, "Close", f, "LCTRL down", "RSHIFT down", "right down", "U+0040 down",
		"U+0040 up", "RSHIFT up", "LCTRL up", "right up")
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := w.Tap("a", nil); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Tap after Close = %v, want ErrNoInput", err)
	}
	if got := f.all(); len(got) != 0 {
		t.Errorf("after Close: sent %q", got)
	}
}

// TestRefusals is what a user sees when Windows refuses input: the error
// wraps input.ErrRefused (the agent answers code "refused") and its
// words say why.
func TestRefusals(t *testing.T) {
	const elevated = "the window in front, regedit.exe (process 4242), runs as administrator"
	accessDenied := func([]event) (int, error) { return 0, syscall.Errno(5) } // ERROR_ACCESS_DENIED

	t.Run("elevated window in front, seen before sending", func(t *testing.T) {
		f := newFake()
		f.why, f.certain = elevated, true
		w := newInjector(f, nil)
		err := w.Tap("a", nil)
		if !errors.Is(err, input.ErrRefused) || !strings.Contains(err.Error(), elevated) {
			t.Errorf("Tap = %v, want ErrRefused saying %q", err, elevated)
		}
		if len(f.sent) != 0 {
			t.Errorf("sent %q to a window that refuses input", f.all())
		}
		// The user brings another window to the front.
		f.fg, f.why, f.certain = 0x5678, "", false
		if err := w.Tap("a", nil); err != nil {
			t.Errorf("Tap once the elevated window is gone = %v", err)
		}
		asked := f.refusals
		w.Tap("b", nil)
		if f.refusals != asked {
			t.Errorf("the same window in front was checked again: %d checks, want %d", f.refusals, asked)
		}
	})
	t.Run("SendInput inserts nothing: UIPI", func(t *testing.T) {
		f := newFake()
		w := newInjector(f, nil)
		f.insert = accessDenied
		f.why = elevated // not certain: found only once SendInput failed
		err := w.Type("hi")
		msg := fmt.Sprint(err)
		if !errors.Is(err, input.ErrRefused) || !strings.Contains(msg, elevated) || !strings.Contains(msg, "inserted 0 of 4 events") {
			t.Errorf("Type = %v, want ErrRefused with the reason and the count", err)
		}
		if !strings.Contains(msg, syscall.Errno(5).Error()) {
			t.Errorf("Type = %v, want GetLastError's words %q", err, syscall.Errno(5).Error())
		}
	})
	t.Run("locked session", func(t *testing.T) {
		f := newFake()
		w := newInjector(f, nil)
		w.Tap("a", nil)
		f.all()
		const locked = `the input desktop is "Winlogon", not the user's: the session is locked`
		f.fg, f.why, f.certain = 0, locked, true
		err := w.Move(10, 10, false)
		if !errors.Is(err, input.ErrRefused) || !strings.Contains(err.Error(), locked) {
			t.Errorf("Move = %v, want ErrRefused saying %q", err, locked)
		}
	})
	t.Run("a refused KeyDown holds nothing, a refused KeyUp is tried again on Close", func(t *testing.T) {
		f := newFake()
		w := newInjector(f, nil)
		f.insert = accessDenied
		if err := w.KeyDown("a"); !errors.Is(err, input.ErrRefused) {
			t.Fatalf("KeyDown = %v", err)
		}
		if err := w.ButtonDown(input.ButtonLeft); !errors.Is(err, input.ErrRefused) {
			t.Fatalf("ButtonDown = %v", err)
		}
		f.insert = nil
		f.all()
		w.KeyDown("b")
		f.insert = accessDenied
		if err := w.KeyUp("b"); !errors.Is(err, input.ErrRefused) {
			t.Fatalf("KeyUp = %v", err)
		}
		f.insert = nil
		f.all()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, "Close", f, "B up")
	})
	t.Run("short insert with no reason found", func(t *testing.T) {
		f := newFake()
		w := newInjector(f, nil)
		f.insert = func(evs []event) (int, error) { return 1, nil }
		err := w.Tap("a", nil)
		if !errors.Is(err, input.ErrRefused) || !strings.Contains(err.Error(), "Windows did not take the input") || !strings.Contains(err.Error(), "inserted 1 of 2") {
			t.Errorf("Tap = %v, want ErrRefused in words", err)
		}
	})
}

func TestDetect(t *testing.T) {
	if ok, _ := Detect(input.MapEnv{OS: "windows"}); !ok {
		t.Error("Detect refuses Windows")
	}
	if ok, why := Detect(input.MapEnv{OS: "linux", Vars: map[string]string{"DISPLAY": ":0"}}); ok || why == "" {
		t.Errorf("Detect on Linux = %v, %q", ok, why)
	}
}

func TestCapsAndScreen(t *testing.T) {
	w := newInjector(newFake(), nil)
	if c := w.Caps(); !c.Unicode || !c.PointerAbs || !c.Scroll {
		t.Errorf("Caps() = %+v, want all true", c)
	}
	if x, y := w.Screen(); x != 1920 || y != 1080 || w.Backend() != "windows" {
		t.Errorf("Screen() = %d, %d; Backend() = %q", x, y, w.Backend())
	}
}
