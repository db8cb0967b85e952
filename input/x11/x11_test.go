//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/xtest"
)

// TestX11Keys drives a real X server and reads every event back through
// xev, a separate X client.
func TestX11Keys(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	inj := newTestX11(t, display, Options{})

	if got := inj.Backend(); got != "x11" {
		t.Errorf("Backend() = %q, want x11", got)
	}
	if w, h := inj.Screen(); w != 1280 || h != 1024 {
		t.Errorf("Screen() = %d, %d, want 1280, 1024", w, h)
	}

	if err := inj.Type("hi\n"); err != nil {
		t.Fatalf("Type(%q) = %v", "hi\n", err)
	}
	xev.Expect(t, `Type("hi\n")`, xtest.Seq(xtest.KeyTap("0x68"), xtest.KeyTap("0x69"), xtest.KeyTap("0xff0d"))...)

	if err := inj.Type("A\tb"); err != nil {
		t.Fatalf("Type(%q) = %v", "A\tb", err)
	}
	xev.Expect(t, `Type("A\tb")`, xtest.Seq(xtest.Shifted(xtest.KeyTap("0x41")...), xtest.KeyTap("0xff09"), xtest.KeyTap("0x62"))...)

	if err := inj.Tap("a", []string{"shift"}); err != nil {
		t.Fatalf("Tap(a, shift) = %v", err)
	}
	xev.Expect(t, "Tap(a, shift)", xtest.Shifted(xtest.KeyTap("0x41")...)...)

	if err := inj.Tap("c", []string{"ctrl", "alt"}); err != nil {
		t.Fatalf("Tap(c, ctrl alt) = %v", err)
	}
	xev.Expect(t, "Tap(c, ctrl alt)",
		xtest.KeyPress("0xffe3"), xtest.KeyPress("0xffe9"),
		xtest.KeyPress("0x63"), xtest.KeyRelease("0x63"),
		xtest.KeyRelease("0xffe9"), xtest.KeyRelease("0xffe3"))

	// Punctuation: unshifted, shifted (Shift added by the injector), and
	// a key the Xvfb keymap lacks (f13), which takes a spare keycode.
	for _, tc := range []struct {
		key  string
		want []xtest.Event
	}{
		{"/", xtest.KeyTap("0x2f")},
		{`\`, xtest.KeyTap("0x5c")},
		{"-", xtest.KeyTap("0x2d")},
		{"!", xtest.Shifted(xtest.KeyTap("0x21")...)},
		{"~", xtest.Shifted(xtest.KeyTap("0x7e")...)},
		{`"`, xtest.Shifted(xtest.KeyTap("0x22")...)},
		{"space", xtest.KeyTap("0x20")},
		{"esc", xtest.KeyTap("0xff1b")},
		{"f5", xtest.KeyTap("0xffc2")},
		{"audio_mute", xtest.KeyTap("0x1008ff12")},
		{"f13", xtest.KeyTap("0xffca")},
	} {
		if err := inj.Tap(tc.key, nil); err != nil {
			t.Fatalf("Tap(%q) = %v", tc.key, err)
		}
		xev.Expect(t, fmt.Sprintf("Tap(%q)", tc.key), tc.want...)
	}

	if err := inj.KeyDown("x"); err != nil {
		t.Fatalf("KeyDown(x) = %v", err)
	}
	xev.Expect(t, "KeyDown(x)", xtest.KeyPress("0x78"))
	if err := inj.KeyDown("x"); err != nil { // a repeat, as panels send
		t.Fatalf("KeyDown(x) again = %v", err)
	}
	if err := inj.KeyUp("x"); err != nil {
		t.Fatalf("KeyUp(x) = %v", err)
	}
	xev.Expect(t, "KeyDown(x) again, KeyUp(x)", xtest.KeyRelease("0x78"))
	if err := inj.KeyUp("x"); err != nil {
		t.Fatalf("KeyUp(x) when not held = %v", err)
	}

	// A modifier held with KeyDown stays held through taps and typing
	// that use it, and is not pressed twice.
	if err := inj.KeyDown("shift"); err != nil {
		t.Fatalf("KeyDown(shift) = %v", err)
	}
	if err := inj.Tap("a", []string{"shift"}); err != nil {
		t.Fatalf("Tap(a, shift) with shift held = %v", err)
	}
	if err := inj.Type("B"); err != nil {
		t.Fatalf("Type(B) with shift held = %v", err)
	}
	if err := inj.KeyUp("shift"); err != nil {
		t.Fatalf("KeyUp(shift) = %v", err)
	}
	xev.Expect(t, "KeyDown(shift), Tap(a, shift), Type(B), KeyUp(shift)",
		xtest.Shifted(xtest.Seq(xtest.KeyTap("0x41"), xtest.KeyTap("0x42"))...)...)

	if err := inj.Tap("nosuchkey", nil); err == nil {
		t.Errorf("Tap(nosuchkey) = nil, want an error")
	}
	if err := inj.Tap("a", []string{"hyper"}); !errors.Is(err, keys.ErrUnknownModifier) {
		t.Errorf("Tap(a, hyper) = %v, want keys.ErrUnknownModifier", err)
	}
	if err := inj.Type("a\x07"); err == nil {
		t.Errorf("Type(%q) = nil, want an error", "a\x07")
	}
	if err := inj.Tap("b", nil); err != nil {
		t.Fatalf("Tap(b) = %v", err)
	}
	// Nothing of the refused calls reached the server.
	xev.Expect(t, "refused calls, then Tap(b)", xtest.KeyTap("0x62")...)
}

// TestX11Unicode types characters that the keymap lacks and checks that
// they arrive with their keysyms and that the keymap is left as found.
func TestX11Unicode(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	before := xtest.Keymap(t, display)
	inj := newTestX11(t, display, Options{})

	const text = "é€😀"
	if err := inj.Type(text); err != nil {
		t.Fatalf("Type(%q) = %v", text, err)
	}
	xev.Expect(t, fmt.Sprintf("Type(%q)", text),
		xtest.Seq(xtest.KeyTap("0xe9"), xtest.KeyTap("0x10020ac"), xtest.KeyTap("0x101f600"))...)
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if after := xtest.Keymap(t, display); after != before {
			return fmt.Errorf("xmodmap -pke differs after Type(%q)", text)
		}
		return nil
	})

	// Mixed with keymap characters, twice, and after the bindings were
	// undone.
	const text2 = "aé😀Z€"
	if err := inj.Type(text2 + text2); err != nil {
		t.Fatalf("Type(%q) = %v", text2+text2, err)
	}
	want := xtest.Seq(xtest.KeyTap("0x61"), xtest.KeyTap("0xe9"), xtest.KeyTap("0x101f600"), xtest.Shifted(xtest.KeyTap("0x5a")...), xtest.KeyTap("0x10020ac"))
	xev.Expect(t, fmt.Sprintf("Type(%q)", text2+text2), xtest.Seq(want, want)...)

	// More distinct characters than Xvfb has spare keycodes (19): the
	// injector must reuse keycodes without losing a character.
	var many []rune
	var manyWant []xtest.Event
	for r := rune(0x3b1); r < 0x3b1+25; r++ { // Greek small letters
		many = append(many, r)
		manyWant = append(manyWant, xtest.KeyTap(fmt.Sprintf("%#x", 0x01000000|r))...)
	}
	if err := inj.Type(string(many)); err != nil {
		t.Fatalf("Type(%q) = %v", string(many), err)
	}
	xev.Expect(t, fmt.Sprintf("Type(%q)", string(many)), manyWant...)

	if err := inj.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Close puts every binding back at once.
	if after := xtest.Keymap(t, display); after != before {
		t.Errorf("xmodmap -pke differs after Close")
	}
}

// TestX11ExternalKeymapChange remaps a key from another client: the
// injector must notice and type what it is asked, not what it remembers.
func TestX11ExternalKeymapChange(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	inj := newTestX11(t, display, Options{})
	if err := inj.Type("a"); err != nil {
		t.Fatalf("Type(a) = %v", err)
	}
	xev.Expect(t, "Type(a)", xtest.KeyTap("0x61")...)

	// Keycode 38 types a on Xvfb's keymap; make it type q.
	xtest.Run(t, display, "xmodmap", "-e", "keycode 38 = q Q")
	after := xtest.Keymap(t, display)
	if err := inj.Type("aq"); err != nil {
		t.Fatalf("Type(aq) = %v", err)
	}
	xev.Expect(t, "Type(aq) after remapping", xtest.Seq(xtest.KeyTap("0x61"), xtest.KeyTap("0x71"))...)
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := xtest.Keymap(t, display); got != after {
			return fmt.Errorf("xmodmap -pke differs after Type(aq)")
		}
		return nil
	})
}

// TestX11TypeLong types a long text at full speed, with more distinct
// missing characters than there are spare keycodes, and checks every
// keysym at the X server.
func TestX11TypeLong(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	before := xtest.Keymap(t, display)
	inj := newTestX11(t, display, Options{})

	var text strings.Builder
	for i := range 40 {
		text.WriteString("The quick brown fox, 1 (Dog)! ")
		text.WriteRune(rune(0x3b1 + i%30)) // Greek, 30 distinct letters
		text.WriteString("é€😀\n")
	}
	var want []xtest.Event
	runes := 0
	for _, r := range text.String() {
		runes++
		sym, err := keys.RuneKeysym(r)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, xtest.KeyTap(fmt.Sprintf("%#x", sym))...)
	}
	start := time.Now()
	if err := inj.Type(text.String()); err != nil {
		t.Fatalf("Type(%d characters) = %v", runes, err)
	}
	took := time.Since(start)
	// Which characters need Shift depends on the keymap ("(" is on a
	// keypad key without it), so Shift is left out here.
	shiftL := func(e xtest.Event) bool { return e.Detail == "0xffe1" }
	xev.ExpectExcept(t, fmt.Sprintf("Type(%d characters)", runes), shiftL, want...)
	t.Logf("typed %d characters in %v (%.0f/s), each seen by xev", runes, took, float64(runes)/took.Seconds())
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if after := xtest.Keymap(t, display); after != before {
			return fmt.Errorf("xmodmap -pke differs after typing")
		}
		return nil
	})
}

// TestX11Pointer moves and clicks, read back with xdotool and xev.
func TestX11Pointer(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	inj := newTestX11(t, display, Options{})

	wantAt := func(wx, wy int) {
		t.Helper()
		poll.Until(t, 5*time.Second, 5*time.Millisecond, func() error {
			x, y, err := xtest.PointerAt(t, display)
			if err != nil {
				return err
			}
			if x != wx || y != wy {
				return fmt.Errorf("pointer at %d, %d, want %d, %d", x, y, wx, wy)
			}
			return nil
		})
	}
	if err := inj.Move(100, 200, false); err != nil {
		t.Fatalf("Move(100, 200, false) = %v", err)
	}
	wantAt(100, 200)
	if err := inj.Move(5, -7, true); err != nil {
		t.Fatalf("Move(5, -7, true) = %v", err)
	}
	wantAt(105, 193)
	if err := inj.Move(-30, 40, true); err != nil {
		t.Fatalf("Move(-30, 40, true) = %v", err)
	}
	wantAt(75, 233)

	press := func(b string) []xtest.Event { return xtest.ButtonClick(b) }
	if err := inj.Click(input.ButtonLeft, 1); err != nil {
		t.Fatalf("Click(left, 1) = %v", err)
	}
	xev.Expect(t, "Click(left, 1)", press("1")...)
	if err := inj.Click(input.ButtonRight, 2); err != nil {
		t.Fatalf("Click(right, 2) = %v", err)
	}
	xev.Expect(t, "Click(right, 2)", xtest.Seq(press("3"), press("3"))...)
	if err := inj.Click(input.ButtonMiddle, 3); err != nil {
		t.Fatalf("Click(middle, 3) = %v", err)
	}
	xev.Expect(t, "Click(middle, 3)", xtest.Seq(press("2"), press("2"), press("2"))...)
	for _, n := range []int{0, 4, -1} {
		if err := inj.Click(input.ButtonLeft, n); err == nil {
			t.Errorf("Click(left, %d) = nil, want an error", n)
		}
	}
	if err := inj.Click(input.Button(9), 1); err == nil {
		t.Errorf("Click(9, 1) = nil, want an error")
	}

	if err := inj.ButtonDown(input.ButtonLeft); err != nil {
		t.Fatalf("ButtonDown(left) = %v", err)
	}
	xev.Expect(t, "ButtonDown(left)", xtest.ButtonPress("1"))
	if err := inj.ButtonUp(input.ButtonLeft); err != nil {
		t.Fatalf("ButtonUp(left) = %v", err)
	}
	xev.Expect(t, "ButtonUp(left)", xtest.ButtonRelease("1"))

	if err := inj.Scroll(0, 2); err != nil {
		t.Fatalf("Scroll(0, 2) = %v", err)
	}
	xev.Expect(t, "Scroll(0, 2)", xtest.Seq(press("5"), press("5"))...)
	if err := inj.Scroll(-1, -1); err != nil {
		t.Fatalf("Scroll(-1, -1) = %v", err)
	}
	xev.Expect(t, "Scroll(-1, -1)", xtest.Seq(press("4"), press("6"))...)
	if err := inj.Scroll(1, 0); err != nil {
		t.Fatalf("Scroll(1, 0) = %v", err)
	}
	xev.Expect(t, "Scroll(1, 0)", press("7")...)
}

// TestX11CloseReleasesHeld checks that Close lets go of held keys and
// buttons, and undoes a binding a held key needed.
func TestX11CloseReleasesHeld(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	before := xtest.Keymap(t, display)
	inj := newTestX11(t, display, Options{})

	if err := inj.Move(50, 50, false); err != nil {
		t.Fatalf("Move = %v", err)
	}
	if err := inj.KeyDown("b"); err != nil {
		t.Fatalf("KeyDown(b) = %v", err)
	}
	if err := inj.KeyDown("f20"); err != nil { // not in Xvfb's keymap
		t.Fatalf("KeyDown(f20) = %v", err)
	}
	if err := inj.ButtonDown(input.ButtonRight); err != nil {
		t.Fatalf("ButtonDown(right) = %v", err)
	}
	xev.Expect(t, "KeyDown(b), KeyDown(f20), ButtonDown(right)",
		xtest.KeyPress("0x62"), xtest.KeyPress("0xffd1"), xtest.ButtonPress("3"))
	if err := inj.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	xev.Expect(t, "Close()",
		xtest.KeyRelease("0xffd1"), xtest.KeyRelease("0x62"), xtest.ButtonRelease("3"))
	if after := xtest.Keymap(t, display); after != before {
		t.Errorf("xmodmap -pke differs after Close")
	}
	if err := inj.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if err := inj.Tap("a", nil); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Tap after Close = %v, want input.ErrNoInput", err)
	}
}

// TestX11Concurrent calls the injector from many goroutines at once; run
// with -race.
func TestX11Concurrent(t *testing.T) {
	display := xtest.StartXvfb(t)
	inj := newTestX11(t, display, Options{})
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				var err error
				switch (i + j) % 4 {
				case 0:
					err = inj.Tap("a", []string{"ctrl"})
				case 1:
					err = inj.Type("xé")
				case 2:
					err = inj.Move(i, j, false)
				case 3:
					err = inj.Scroll(0, 1)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent call = %v", err)
	}
}

// TestX11LostServer kills the X server under the injector: the process
// must live on and the injector must answer input.ErrNoInput.
func TestX11LostServer(t *testing.T) {
	display, cmd := xtest.StartXvfbCmd(t)
	inj := newTestX11(t, display, Options{})
	if err := inj.Tap("a", nil); err != nil {
		t.Fatalf("Tap(a) = %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := inj.Tap("a", nil); !errors.Is(err, input.ErrNoInput) {
			return fmt.Errorf("Tap(a) with the server gone = %v, want input.ErrNoInput", err)
		}
		return nil
	})
	if err := inj.Type("é"); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Type with the server gone = %v, want input.ErrNoInput", err)
	}
	if err := inj.Close(); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("Close with the server gone = %v, want input.ErrNoInput", err)
	}
}

func TestNewX11NoDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	if inj, err := New(Options{}); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("New without $DISPLAY = %v, %v, want input.ErrNoInput", inj, err)
	}
	if inj, err := New(Options{Display: ":4093"}); !errors.Is(err, input.ErrNoInput) {
		t.Errorf("New(:4093) with no such server = %v, %v, want input.ErrNoInput", inj, err)
	}
}

func TestUnavailable(t *testing.T) {
	inj := input.Unavailable()
	if got := inj.Backend(); got != "unavailable" {
		t.Errorf("Backend() = %q, want unavailable", got)
	}
	if w, h := inj.Screen(); w != 0 || h != 0 {
		t.Errorf("Screen() = %d, %d, want 0, 0", w, h)
	}
	for name, err := range map[string]error{
		"KeyDown":    inj.KeyDown("a"),
		"KeyUp":      inj.KeyUp("a"),
		"Tap":        inj.Tap("a", nil),
		"Type":       inj.Type("a"),
		"Move":       inj.Move(1, 1, false),
		"ButtonDown": inj.ButtonDown(input.ButtonLeft),
		"ButtonUp":   inj.ButtonUp(input.ButtonLeft),
		"Click":      inj.Click(input.ButtonLeft, 1),
		"Scroll":     inj.Scroll(0, 1),
	} {
		if !errors.Is(err, input.ErrNoInput) {
			t.Errorf("unavailable %s = %v, want input.ErrNoInput", name, err)
		}
	}
	if err := inj.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
