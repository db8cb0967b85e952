//go:build windows

package windows

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"unicode/utf16"
	"unsafe"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/winetest"
)

// TestRawInputLayout checks INPUT as SendInput reads it: its size is the
// cbSize argument, and a wrong one makes SendInput insert nothing.
func TestRawInputLayout(t *testing.T) {
	want := uintptr(40)
	if runtime.GOARCH == "386" || runtime.GOARCH == "arm" {
		want = 28
	}
	if got := unsafe.Sizeof(rawInput{}); got != want {
		t.Errorf("sizeof(INPUT) = %d, want %d", got, want)
	}
	if got := unsafe.Sizeof(keybdInput{}); got > unsafe.Sizeof(mouseInput{}) {
		t.Errorf("KEYBDINPUT (%d bytes) does not fit the union (%d)", got, unsafe.Sizeof(mouseInput{}))
	}
}

// startInputLog starts the inputlog that $MFD_INPUTLOG names; the Linux
// side sets it when it runs these tests under Wine (wine_test.go).
func startInputLog(t *testing.T) *winetest.InputLog {
	t.Helper()
	p := os.Getenv("MFD_INPUTLOG")
	if p == "" {
		msg := "set MFD_INPUTLOG to a Windows build of test/wine/inputlog to drive a real window"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return winetest.StartInputLog(t, exec.Command(p))
}

// TestSendInputReachesAWindow drives a real window (inputlog's) through
// SendInput with every kind of event and checks each message the window
// got.
func TestSendInputReachesAWindow(t *testing.T) {
	l := startInputLog(t)
	inj, err := New(input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if w, h := inj.Screen(); w <= 0 || h <= 0 {
		t.Fatalf("Screen() = %d, %d", w, h)
	}
	if why, certain := (winSystem{}).refusal((winSystem{}).foreground()); why != "" || certain {
		t.Errorf("refusal with inputlog in front = %q, %v; want none", why, certain)
	}

	key := func(dir string, vk, scan int, ext int) string {
		return fmt.Sprintf("key%s vk=%#02x ext=%d scan=%#02x", dir, vk, ext, scan)
	}
	tap := func(vk, scan, ext int, chars ...string) []string {
		out := []string{key("down", vk, scan, ext)}
		out = append(out, chars...)
		return append(out, key("up", vk, scan, ext))
	}
	// A Unicode packet is VK_PACKET whose scan code is the low byte of
	// the UTF-16 unit.
	const packet = 0xe7
	uni := func(units ...uint16) (down, up []string) {
		for _, u := range units {
			down = append(down, key("down", packet, int(u&0xff), 0))
			up = append(up, key("up", packet, int(u&0xff), 0))
		}
		return down, up
	}
	char := func(r rune) []string {
		var d, u []string
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			d, u = uni(uint16(r1), uint16(r2))
		} else {
			d, u = uni(uint16(r))
		}
		return append(append(d, fmt.Sprintf("char U+%04X %c", r, r)), u...)
	}
	cat := func(ls ...[]string) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l...)
		}
		return out
	}

	must(inj.Tap("a", nil))
	l.Expect(t, "tap a", tap(0x41, 0x1e, 0, "char U+0061 a")...)
	must(inj.Tap("a", []string{"ctrl", "shift"}))
	l.Expect(t, "ctrl+shift+a",
		key("down", 0x11, 0x1d, 0), key("down", 0x10, 0x2a, 0), key("down", 0x41, 0x1e, 0), "char U+0001",
		key("up", 0x41, 0x1e, 0), key("up", 0x10, 0x2a, 0), key("up", 0x11, 0x1d, 0))
	must(inj.Tap("rshift", nil))
	must(inj.Tap("num_enter", nil))
	must(inj.Tap("delete", nil))
	must(inj.Tap("f5", nil))
	must(inj.Tap("!", nil))
	l.Expect(t, "rshift, num_enter, delete, f5, !", cat(
		tap(0x10, 0x36, 0),
		tap(0x0d, 0x1c, 1, "char U+000D"),
		tap(0x2e, 0x53, 1),
		tap(0x74, 0x3f, 0),
		[]string{key("down", 0x10, 0x2a, 0)}, tap(0x31, 0x02, 0, "char U+0021 !"), []string{key("up", 0x10, 0x2a, 0)},
	)...)
	must(inj.Tap("audio_vol_up", nil))
	// Windows maps VK_VOLUME_UP to scan code E0 30; Wine 8 to none.
	l.Expect(t, "audio_vol_up", tap(0xaf, int((winSystem{}).scanCode(vkVolumeUp)), 1)...)

	must(inj.Type("hé€😀\n\t"))
	l.Expect(t, `type "hé€😀\n\t"`, cat(
		char('h'), char('é'), char('€'), char('😀'),
		tap(0x0d, 0x1c, 0, "char U+000D"),
		tap(0x09, 0x0f, 0, "char U+0009"),
	)...)

	// The relative move first: under Wine, an absolute move warps the X
	// pointer, and the X server's late report of that warp can put the
	// pointer back where the absolute move left it after a relative move
	// that followed. A small move: larger ones go through pointer
	// acceleration.
	must(inj.Move(3, -4, true))
	l.ExpectCursor(t, "move by 3,-4", l.X+3, l.Y-4)
	must(inj.Move(100, 200, false))
	l.ExpectCursor(t, "move to 100,200", 100, 200)
	must(inj.Click(input.ButtonLeft, 2))
	l.Expect(t, "double click", "button down left", "button up left", "button dblclk left", "button up left")
	must(inj.Click(input.ButtonRight, 1))
	must(inj.Click(input.ButtonMiddle, 1))
	l.Expect(t, "right and middle click", "button down right", "button up right", "button down middle", "button up middle")
	must(inj.Scroll(1, 2))
	must(inj.Scroll(-1, -1))
	l.Expect(t, "scroll", "wheel v -120", "wheel v -120", "wheel h 120", "wheel v 120", "wheel h -120")
	w, h := inj.Screen()
	must(inj.Move(w-1, h-1, false))
	l.ExpectCursor(t, "move to the last pixel", w-1, h-1)

	// F5 types no character: under Wine, X events can reset the Shift
	// state a window translates characters with (a held Shift's b came
	// out as "b" once in 24 runs under load), which no Windows does.
	must(inj.KeyDown("shift"))
	must(inj.KeyDown("f5"))
	must(inj.ButtonDown(input.ButtonRight))
	l.Expect(t, "shift, f5 and the right button held",
		key("down", 0x10, 0x2a, 0), key("down", 0x74, 0x3f, 0), "button down right")
	must(inj.Close())
	l.Expect(t, "Close releases what is held", key("up", 0x74, 0x3f, 0), key("up", 0x10, 0x2a, 0), "button up right")
}
