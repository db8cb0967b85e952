//go:build linux

package wlroots

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/waytest"
)

// open starts a headless sway with wev fullscreen and opens the backend
// on it, waiting until wev has the virtual keyboard's focus.
func open(t *testing.T) (*waytest.Session, *waytest.Wev, input.Injector) {
	t.Helper()
	s := waytest.StartSway(t, 1280, 720)
	w := s.StartWev(t)
	inj, err := New(Options{Display: s.Socket, KeymapHold: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("New on sway: %v\n%s", err, s.Log())
	}
	t.Cleanup(func() { inj.Close() })
	w.WaitKeyboard(t)
	return s, w, inj
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

const (
	symShiftL = "0xffe1"
	symCtrlL  = "0xffe3"
)

// TestTypesTapsAndPoints drives a real sway and reads back from wev, a
// Wayland program with the focus: text in and out of the US keymap, a
// combo with its modifiers, pointer motion both ways, clicks and scroll on
// both axes.
func TestTypesTapsAndPoints(t *testing.T) {
	_, w, inj := open(t)
	if got := inj.Caps(); got != (input.Caps{Unicode: true, PointerAbs: true, Scroll: true}) {
		t.Errorf("Caps() = %+v, want unicode, absolute pointer and scroll", got)
	}
	if sw, sh := inj.Screen(); sw != 1280 || sh != 720 {
		t.Errorf("Screen() = %d, %d, want sway's output, 1280, 720", sw, sh)
	}

	must(t, `Type("hi")`, inj.Type("hi"))
	w.Expect(t, `"hi"`, waytest.NoMods, waytest.Seq(waytest.KeyTap("0x68"), waytest.KeyTap("0x69"))...)

	must(t, "Tap(a, ctrl+shift)", inj.Tap("a", []string{"ctrl", "shift"}))
	w.Expect(t, "ctrl+shift+a", nil,
		waytest.KeyPress(symCtrlL), waytest.Mods(modControl),
		waytest.KeyPress(symShiftL), waytest.Mods(modControl|modShift),
		waytest.KeyPress("0x41"), waytest.KeyRelease("0x41"),
		waytest.KeyRelease(symShiftL), waytest.Mods(modControl),
		waytest.KeyRelease(symCtrlL), waytest.Mods(0))

	must(t, `Type("é€😀")`, inj.Type("é€😀"))
	w.Expect(t, `"é€😀"`, waytest.NoMods, waytest.Seq(
		waytest.KeyTap("0xe9"), waytest.KeyTap("0x10020ac"), waytest.KeyTap("0x101f600"))...)

	must(t, `Type("A!\n")`, inj.Type("A!\n"))
	w.Expect(t, `"A!\n"`, nil,
		waytest.KeyPress(symShiftL), waytest.Mods(modShift), waytest.KeyPress("0x41"), waytest.KeyRelease("0x41"),
		waytest.KeyRelease(symShiftL), waytest.Mods(0),
		waytest.KeyPress(symShiftL), waytest.Mods(modShift), waytest.KeyPress("0x21"), waytest.KeyRelease("0x21"),
		waytest.KeyRelease(symShiftL), waytest.Mods(0),
		waytest.KeyPress("0xff0d"), waytest.KeyRelease("0xff0d"))
	if got, want := w.Text(), "hi\x01é€😀A!\r"; got != want {
		t.Errorf("wev's utf8 column reads %q, want %q", got, want)
	}

	must(t, "Move(100, 120)", inj.Move(100, 120, false))
	must(t, "Move(25, -40, rel)", inj.Move(25, -40, true))
	must(t, "Move(5000, -3) clamped", inj.Move(5000, -3, false))
	w.Expect(t, "motion", nil, waytest.Motion(100, 120), waytest.Motion(125, 80), waytest.Motion(1279, 0))

	must(t, "Click(left)", inj.Click(input.ButtonLeft, 1))
	must(t, "Click(right, 2)", inj.Click(input.ButtonRight, 2))
	must(t, "Click(middle)", inj.Click(input.ButtonMiddle, 1))
	w.Expect(t, "clicks", nil, waytest.Seq(waytest.ButtonClick(btnLeft),
		waytest.ButtonClick(btnRight), waytest.ButtonClick(btnRight), waytest.ButtonClick(btnMiddle))...)

	must(t, "Scroll(0, 2)", inj.Scroll(0, 2))
	must(t, "Scroll(-1, 0)", inj.Scroll(-1, 0))
	must(t, "Scroll(1, -3)", inj.Scroll(1, -3))
	w.Expect(t, "scroll", nil,
		waytest.Event{Type: "AxisDiscrete", Detail: "0 2"}, waytest.Event{Type: "Axis", Detail: "0 30"},
		waytest.Event{Type: "AxisDiscrete", Detail: "1 -1"}, waytest.Event{Type: "Axis", Detail: "1 -15"},
		waytest.Event{Type: "AxisDiscrete", Detail: "0 -3"}, waytest.Event{Type: "Axis", Detail: "0 -45"},
		waytest.Event{Type: "AxisDiscrete", Detail: "1 1"}, waytest.Event{Type: "Axis", Detail: "1 15"})

	if err := inj.Type("a\x07"); !errors.Is(err, input.ErrUnsupported) {
		t.Errorf(`Type("a\x07") = %v, want ErrUnsupported`, err)
	}
	if ev := w.Pending(); len(ev) != 0 {
		t.Errorf("a refused Type sent %v, want nothing typed", ev)
	}
}

// TestEveryKeyName taps every contract key name: each reaches wev as its
// keysym (a shifted character with Shift around it).
func TestEveryKeyName(t *testing.T) {
	_, w, inj := open(t)
	for _, name := range keys.Names() {
		k, _ := keys.Lookup(name)
		must(t, "Tap("+name+")", inj.Tap(name, nil))
		sym := fmt.Sprintf("%#x", k.Keysym)
		want := waytest.KeyTap(sym)
		if _, ok := shifted[rune(name[0])]; ok && len(name) == 1 {
			want = []waytest.Event{waytest.KeyPress(symShiftL), waytest.KeyPress(sym), waytest.KeyRelease(sym), waytest.KeyRelease(symShiftL)}
		}
		if k.Name == "capslock" || k.Name == "numlock" {
			// A second tap unlocks, for the keys after it.
			must(t, "Tap("+name+") again", inj.Tap(name, nil))
			want = append(want, want...)
		}
		w.Expect(t, "Tap("+name+")", waytest.NoMods, want...)
	}
}

// userKeymap is the keymap of the test's stand-in for the user's own
// keyboard: code 30, "a" on a US keyboard, types q, as on a French one.
const userKeymap = `xkb_keymap {
xkb_keycodes "user" { minimum = 8; maximum = 255; <K30> = 38; };
xkb_types "user" { include "complete" };
xkb_compatibility "user" { include "complete" };
xkb_symbols "user" { key <K30> { [ q ] }; };
};
`

// TestKeymapLeavesNoTrace checks what typing leaves behind. The user's
// own keyboard keeps its keymap: its key types what it typed before,
// whatever the backend bound. And the backend's own keyboard goes back to
// its plain keymap once the hold is over: the last keymap programs were
// sent is the one they had before the text.
func TestKeymapLeavesNoTrace(t *testing.T) {
	s, w, inj := open(t)
	before, err := w.Keymap()
	must(t, "reading wev's keymap", err)
	if strings.Contains(before, "U20AC") || !strings.Contains(before, "Shift_L") {
		t.Fatalf("wev's first keymap is not the plain US one:\n%.400s", before)
	}

	user := s.NewKeyboard(t, userKeymap)
	user.Tap(t, 30)
	w.Expect(t, "the user's key before typing", waytest.NoMods, waytest.KeyTap("0x71")...)

	n := w.Keymaps()
	must(t, `Type("é€😀a")`, inj.Type("é€😀a"))
	w.Expect(t, `"é€😀a"`, waytest.NoMods, waytest.Seq(
		waytest.KeyTap("0xe9"), waytest.KeyTap("0x10020ac"), waytest.KeyTap("0x101f600"), waytest.KeyTap("0x61"))...)

	user.Tap(t, 30)
	w.Expect(t, "the user's key after typing", waytest.NoMods, waytest.KeyTap("0x71")...)

	// Typing once more makes the backend's keyboard the seat's again, with
	// the extra characters still bound (within the hold) or not.
	must(t, `Type("b")`, inj.Type("b"))
	w.Expect(t, `"b"`, waytest.NoMods, waytest.KeyTap("0x62")...)
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		after, err := w.Keymap()
		if err != nil {
			return err
		}
		if w.Keymaps() < n+2 {
			return fmt.Errorf("wev was sent %d keymaps since the text, want the extra one and the plain one back", w.Keymaps()-n)
		}
		if after != before {
			return fmt.Errorf("wev's last keymap differs from the one before typing (%d bytes, was %d)", len(after), len(before))
		}
		return nil
	})
}

// TestHeldReleasedOnKeyUpAndClose holds keys and buttons: KeyUp and
// ButtonUp release them, a repeated KeyDown presses once, and Close lets
// go of everything still held, modifiers included.
func TestHeldReleasedOnKeyUpAndClose(t *testing.T) {
	_, w, inj := open(t)
	must(t, "KeyDown(b)", inj.KeyDown("b"))
	must(t, "KeyDown(b) again", inj.KeyDown("b"))
	w.Expect(t, "b held", waytest.NoMods, waytest.KeyPress("0x62"))
	must(t, "KeyUp(b)", inj.KeyUp("b"))
	must(t, "KeyUp(b) again", inj.KeyUp("b"))
	w.Expect(t, "b let go", waytest.NoMods, waytest.KeyRelease("0x62"))

	must(t, "KeyDown(ctrl)", inj.KeyDown("ctrl"))
	must(t, "KeyDown(c)", inj.KeyDown("c"))
	must(t, "Tap(x, ctrl)", inj.Tap("x", []string{"ctrl"}))
	must(t, "ButtonDown(left)", inj.ButtonDown(input.ButtonLeft))
	w.Expect(t, "ctrl and c held, ctrl+x tapped, left held", nil,
		waytest.KeyPress(symCtrlL), waytest.Mods(modControl),
		waytest.KeyPress("0x63"),
		waytest.KeyPress("0x78"), waytest.KeyRelease("0x78"),
		waytest.ButtonPress(btnLeft))

	must(t, "Close", inj.Close())
	must(t, "Close again", inj.Close())
	w.Expect(t, "what Close let go", nil,
		waytest.KeyRelease("0x63"),
		waytest.KeyRelease(symCtrlL), waytest.Mods(0),
		waytest.ButtonRelease(btnLeft))
	if err := inj.Tap("a", nil); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Tap after Close = %v, want ErrNoInput", err)
	}
}

// TestCompositorGone checks that a backend whose compositor exits answers
// ErrNoInput instead of hanging.
func TestCompositorGone(t *testing.T) {
	s := waytest.StartSway(t, 640, 480)
	inj, err := New(Options{Display: s.Socket})
	must(t, "New", err)
	defer inj.Close()
	s.Stop(t)
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := inj.Tap("a", nil); !errors.Is(err, input.ErrNoInput) {
			return fmt.Errorf("Tap with sway gone = %v, want ErrNoInput", err)
		}
		return nil
	})
}

func TestNewWithoutCompositor(t *testing.T) {
	_, err := New(Options{Display: "wayland-nope", RuntimeDir: t.TempDir()})
	if !errors.Is(err, input.ErrNoInput) {
		t.Errorf("New with no compositor = %v, want ErrNoInput", err)
	}
}

// TestCapsLock taps Caps Lock: it locks as a real keyboard's does, so a
// tapped key comes out capital, while text is typed as given; a second tap
// unlocks.
func TestCapsLock(t *testing.T) {
	_, w, inj := open(t)
	must(t, "Tap(capslock)", inj.Tap("capslock", nil))
	w.Expect(t, "caps lock on", nil, waytest.KeyPress("0xffe5"), waytest.Mods(0), waytest.Locked(modLock), waytest.KeyRelease("0xffe5"))
	must(t, "Tap(a)", inj.Tap("a", nil))
	must(t, `Type("ab")`, inj.Type("ab"))
	must(t, "Tap(capslock)", inj.Tap("capslock", nil))
	must(t, "Tap(a)", inj.Tap("a", nil))
	w.Expect(t, "a tap, text, caps lock off, a tap", waytest.NoMods, waytest.Seq(
		waytest.KeyTap("0x41"), waytest.KeyTap("0x61"), waytest.KeyTap("0x62"),
		waytest.KeyTap("0xffe5"), waytest.KeyTap("0x61"))...)
	if got, want := w.Text(), "Aaba"; got != want {
		t.Errorf("wev's utf8 column reads %q, want %q", got, want)
	}
}

// TestOutputAdded adds an output to the running sway: the backend learns
// the new layout, Screen grows, and absolute moves map onto the whole
// layout, so a point on the first output still lands where it was sent.
func TestOutputAdded(t *testing.T) {
	s, w, inj := open(t)
	socks, _ := filepath.Glob(filepath.Join(s.RuntimeDir, "sway-ipc.*.sock"))
	if len(socks) != 1 {
		t.Fatalf("sway's IPC sockets: %v, want one", socks)
	}
	if out, err := s.Command("swaymsg", "-s", socks[0], "create_output").CombinedOutput(); err != nil {
		t.Fatalf("swaymsg create_output: %v: %s", err, out)
	}
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		// Each call reads what the compositor sent since the last one.
		must(t, "Move(0, 0)", inj.Move(0, 0, false))
		if sw, sh := inj.Screen(); sw <= 1280 || sh < 720 {
			return fmt.Errorf("Screen() = %d, %d after a second output, want wider than the first's 1280", sw, sh)
		}
		return nil
	})
	must(t, "Move(640, 360)", inj.Move(640, 360, false))
	// Leave out the polling's moves to 0, 0 and what the new output made
	// wev print.
	w.Expect(t, "a move on the first output", func(e waytest.Event) bool {
		return e.Type != "Motion" || e == waytest.Motion(0, 0)
	}, waytest.Motion(640, 360))
}

// TestTypeMoreCharactersThanSpareKeys types text with more distinct
// characters than the keymap has spare keys: it goes out in pieces, each
// with its own keymap, and reads back whole and in order.
func TestTypeMoreCharactersThanSpareKeys(t *testing.T) {
	_, w, inj := open(t)
	var b strings.Builder
	for i := range 2*len(spareCodes) + 7 {
		b.WriteRune(rune(0x4e00 + i))
		if i%50 == 0 {
			b.WriteString("a")
		}
	}
	text := b.String()
	n := w.Keymaps()
	must(t, "Type of many distinct characters", inj.Type(text))
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := w.Text(); got != text {
			return fmt.Errorf("wev read %d characters, want %d", len([]rune(got)), len([]rune(text)))
		}
		return nil
	})
	if got := w.Keymaps() - n; got < 3 {
		t.Errorf("%d keymaps for %d distinct characters over %d spare keys, want at least 3", got, 2*len(spareCodes)+7, len(spareCodes))
	}
}
