package xtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestXev types with xdotool, a separate X client, and reads the events
// back through xev; it moves the pointer and reads it back.
func TestXev(t *testing.T) {
	display := StartXvfb(t)
	xev := StartXev(t, display)
	before := Keymap(t, display)

	Run(t, display, "xdotool", "type", "--delay", "0", "hi")
	xev.Expect(t, "xdotool type hi", Seq(KeyTap("0x68"), KeyTap("0x69"))...)
	Run(t, display, "xdotool", "key", "shift+a")
	// xdotool lets go of Shift first, so the release reads as "a".
	xev.Expect(t, "xdotool key shift+a",
		KeyPress(ShiftL), KeyPress("0x41"), KeyRelease(ShiftL), KeyRelease("0x61"))
	Run(t, display, "xdotool", "mousemove", "20", "30", "click", "3")
	xev.Expect(t, "xdotool click 3", ButtonClick("3")...)
	if got := xev.Pending(); len(got) != 0 {
		t.Errorf("Pending() after Expect = %v, want none", got)
	}
	poll(t, 5*time.Second, 10*time.Millisecond, func() error {
		if x, y, err := PointerAt(t, display); err != nil || x != 20 || y != 30 {
			return fmt.Errorf("PointerAt = %d, %d, %v, want 20, 30", x, y, err)
		}
		return nil
	})
	if after := Keymap(t, display); after != before {
		t.Errorf("keymap changed by xdotool type of plain ASCII")
	}
}

func TestFirstDiff(t *testing.T) {
	a := KeyTap("0x61")
	for _, tc := range []struct {
		b    []Event
		want int
	}{
		{KeyTap("0x61"), 2},
		{KeyTap("0x62"), 0},
		{[]Event{KeyPress("0x61")}, 1},
		{[]Event{KeyPress("0x61"), KeyPress("0x61")}, 1},
		{nil, 0},
	} {
		if got := firstDiff(a, tc.b); got != tc.want {
			t.Errorf("firstDiff(%v, %v) = %d, want %d", a, tc.b, got, tc.want)
		}
	}
}

// TestLaunchXvfbServesUntilKilled: the launcher for callers without a
// test to clean up after them (the bench, a server shared by a test
// binary) gives a display X clients can use until its process is killed.
func TestLaunchXvfbServesUntilKilled(t *testing.T) {
	RequireTools(t)
	display, cmd, err := LaunchXvfb()
	if err != nil {
		t.Fatal(err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	defer stop()
	Run(t, display, "xdotool", "getmouselocation")
	stop()
	xdo := exec.Command("xdotool", "getmouselocation")
	xdo.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := xdo.CombinedOutput(); err == nil {
		t.Errorf("xdotool on %s after Xvfb was killed succeeded: %s", display, out)
	}
}
