package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/waytest"
	"github.com/openmfd/mfd/internal/xtest"
)

// waylandSession starts a headless sway with wev fullscreen, and copies
// the mfd binary and a state dir where the session's user (not root:
// sway refuses root) can use them.
func waylandSession(t *testing.T) (sess *waytest.Session, wev *waytest.Wev, bin, stateDir string) {
	t.Helper()
	sess = waytest.StartSway(t, 1280, 720)
	wev = sess.StartWev(t)
	bin = filepath.Join(sess.RuntimeDir, "mfd")
	copyFile(t, mfdBin, bin, 0o755)
	stateDir = filepath.Join(sess.RuntimeDir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sess.Own(t, bin, stateDir)
	return sess, wev, bin, stateDir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// userKeymap is the keymap of the test's stand-in for the user's own
// keyboard: code 30, "a" on a US keyboard, types q as on a French one.
const userKeymap = `xkb_keymap {
xkb_keycodes "user" { minimum = 8; maximum = 255; <K30> = 38; };
xkb_types "user" { include "complete" };
xkb_compatibility "user" { include "complete" };
xkb_symbols "user" { key <K30> { [ q ] }; };
};
`

const (
	wlShiftL = "0xffe1"
	wlCtrlL  = "0xffe3"
	btnLeft  = 0x110
	btnRight = 0x111
)

// TestWaylandEndToEnd is issue 13's end-to-end acceptance on a real
// compositor: `mfd serve`, run as the session's user with $WAYLAND_DISPLAY
// and no $DISPLAY, chooses the wlroots backend by itself; a panel types
// ASCII, "é€😀", Enter and a combo, moves, clicks and scrolls, each read
// back from wev; held input is let go when its client vanishes and when
// its lease runs out; the user's own keyboard types what it typed before,
// and programs get the plain keymap back.
func TestWaylandEndToEnd(t *testing.T) {
	sess, wev, bin, stateDir := waylandSession(t)
	s := startServer(t, withStateDir(stateDir), withAgent(""), withProc(func(c *exec.Cmd) {
		c.Path, c.Args[0] = bin, bin
		c.Env = append(sess.Env(), "MFD_STATE_DIR=")
		c.Dir = sess.RuntimeDir
		c.SysProcAttr = sess.Command("true").SysProcAttr
	}))
	p := newPanel(t, s, "wayland panel")
	st := waitStatus(t, p.connect("/status"), "the local host online with wlroots", func(st hostStatus) bool {
		return st.Online && st.Input == "wlroots"
	})
	if st.Screen.W != 1280 || st.Screen.H != 720 || !st.Caps.Unicode || !st.Caps.PointerAbs || !st.Caps.Scroll {
		t.Errorf("status %+v caps %+v: want sway's 1280x720 output and unicode, pointer_abs, scroll", st, st.Caps)
	}
	if out := s.out.String(); !strings.Contains(out, "wlroots") {
		t.Errorf("mfd serve's log does not say why it chose wlroots:\n%s", out)
	}
	host := st.Host
	wev.WaitKeyboard(t)
	before, err := wev.Keymap()
	if err != nil {
		t.Fatal(err)
	}

	user := sess.NewKeyboard(t, userKeymap)
	user.Tap(t, 30)
	wev.Expect(t, "the user's key before", waytest.NoMods, waytest.KeyTap("0x71")...)

	p.do(host, cmd("w1", "text.type", "text", "hi"), "c-w1")
	p.do(host, cmd("w2", "text.type", "text", "é€😀"), "c-w2")
	p.do(host, cmd("w3", "key.tap", "key", "enter"), "c-w3")
	wev.Expect(t, `"hi", "é€😀", enter`, waytest.NoMods, waytest.Seq(
		waytest.KeyTap("0x68"), waytest.KeyTap("0x69"),
		waytest.KeyTap("0xe9"), waytest.KeyTap("0x10020ac"), waytest.KeyTap("0x101f600"),
		waytest.KeyTap("0xff0d"))...)
	p.do(host, cmd("w4", "key.tap", "key", "a", "mods", []string{"ctrl", "shift"}), "c-w4")
	wev.Expect(t, "ctrl+shift+a", nil,
		waytest.KeyPress(wlCtrlL), waytest.Mods(0x4), waytest.KeyPress(wlShiftL), waytest.Mods(0x5),
		waytest.KeyPress("0x41"), waytest.KeyRelease("0x41"),
		waytest.KeyRelease(wlShiftL), waytest.Mods(0x4), waytest.KeyRelease(wlCtrlL), waytest.Mods(0))
	if got, want := wev.Text(), "qhié€😀\r\x01"; got != want {
		t.Errorf("wev's utf8 column reads %q, want %q", got, want)
	}

	p.do(host, cmd("w5", "mouse.move", "x", 100, "y", 120), "c-w5")
	p.do(host, cmd("w6", "mouse.move", "x", 25, "y", -40, "rel", true), "c-w6")
	p.do(host, cmd("w7", "mouse.click"), "c-w7")
	p.do(host, cmd("w8", "mouse.click", "button", "right", "count", 2), "c-w8")
	p.do(host, cmd("w9", "mouse.scroll", "dx", 1, "dy", 3), "c-w9")
	wev.Expect(t, "moves, clicks, scroll", nil, waytest.Seq(
		[]waytest.Event{waytest.Motion(100, 120), waytest.Motion(125, 80)},
		waytest.ButtonClick(btnLeft), waytest.ButtonClick(btnRight), waytest.ButtonClick(btnRight),
		[]waytest.Event{
			{Type: "AxisDiscrete", Detail: "0 3"}, {Type: "Axis", Detail: "0 45"},
			{Type: "AxisDiscrete", Detail: "1 1"}, {Type: "Axis", Detail: "1 15"},
		})...)

	t.Run("held input, client vanishes", func(t *testing.T) {
		q := newPanel(t, s, "vanishing panel")
		q.do(host, cmd("h1", "key.down", "key", "b"), "c-h1")
		q.do(host, cmd("h2", "mouse.down", "button", "left"), "c-h2")
		wev.Expect(t, "b and the left button held", waytest.NoMods, waytest.KeyPress("0x62"), waytest.ButtonPress(btnLeft))
		start := time.Now()
		q.rc.conn.Close() // no DISCONNECT: the socket just goes
		wev.Expect(t, "what the vanished client held", waytest.NoMods, waytest.KeyRelease("0x62"), waytest.ButtonRelease(btnLeft))
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("held input released %v after its client vanished: by the 3 s lease, not on the disconnect", took)
		}
	})

	t.Run("held key, lease runs out", func(t *testing.T) {
		p := p.on(t)
		start := time.Now()
		p.do(host, cmd("l1", "key.down", "key", "shift"), "c-l1")
		wev.Expect(t, "shift held", nil, waytest.KeyPress(wlShiftL), waytest.Mods(0x1))
		wev.Expect(t, "shift let go by the lease", nil, waytest.KeyRelease(wlShiftL), waytest.Mods(0))
		if took := time.Since(start); took < 2500*time.Millisecond || took > 5*time.Second {
			t.Errorf("a held key never repeated was let go after %v, want the 3 s lease", took)
		}
	})

	user.Tap(t, 30)
	wev.Expect(t, "the user's key after typing", waytest.NoMods, waytest.KeyTap("0x71")...)
	// Typing again makes mfd's keyboard the seat's, with the keymap it has
	// now: the hold is long over, so the plain one.
	p.do(host, cmd("w10", "text.type", "text", "x"), "c-w10")
	wev.Expect(t, `"x"`, waytest.NoMods, waytest.KeyTap("0x78")...)
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		after, err := wev.Keymap()
		if err != nil {
			return err
		}
		if after != before {
			return fmt.Errorf("the keymap wev has now (%d bytes) is not the one it had before typing (%d bytes)", len(after), len(before))
		}
		return nil
	})
	if ev := wev.Pending(); len(ev) != 0 {
		t.Errorf("wev saw events nobody sent: %v", ev)
	}
}

// TestDoctorUnderSway runs `mfd doctor --test-key` inside a sway session:
// it finds wlroots, says why each backend fits or not, and its Shift tap
// reaches the focused window.
func TestDoctorUnderSway(t *testing.T) {
	sess, wev, bin, stateDir := waylandSession(t)
	// A desktop has a keyboard before doctor starts, so wev has one too:
	// a key sent to a keyboard wev has yet to bind would be lost.
	sess.NewKeyboard(t, userKeymap)
	wev.WaitKeyboard(t)
	c := sess.Command(bin, "doctor", "--test-key", "--state-dir", stateDir)
	c.Env = append(c.Env, "XDG_SESSION_TYPE=wayland", "XDG_CURRENT_DESKTOP=sway")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("mfd doctor: %v\n%s", err, out)
	}
	for _, want := range []string{
		"WAYLAND_DISPLAY              " + sess.Display,
		"DISPLAY                      (unset)",
		"portal   no   the desktop is sway",
		"wlroots  yes  the compositor (sway) offers zwp_virtual_keyboard_manager_v1 and zwlr_virtual_pointer_manager_v1",
		"x11      no   $DISPLAY is not set",
		"Chosen (--input auto)\n  wlroots: the compositor (sway) offers",
		"can type any character: yes; absolute pointer: yes; scroll: yes; screen 1280x720",
		"nothing: remote input works here through wlroots",
		"sent: a tap of Shift through wlroots",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mfd doctor under sway does not say %q:\n%s", want, out)
		}
	}
	// A new keyboard's keymap comes with modifiers reset: leave those out.
	wev.Expect(t, "doctor's test key", waytest.NoMods, waytest.KeyTap(wlShiftL)...)
}

// TestDoctorUnderXvfb runs `mfd doctor --test-key` in an X11 session: it
// chooses x11 and its Shift tap reaches xev.
func TestDoctorUnderXvfb(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	c := exec.Command(mfdBin, "doctor", "--test-key", "--state-dir", t.TempDir())
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DISPLAY=" + display, "XDG_SESSION_TYPE=x11"}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("mfd doctor: %v\n%s", err, out)
	}
	for _, want := range []string{
		"DISPLAY                      " + display,
		"portal   no   not a Wayland session",
		"wlroots  no   $WAYLAND_DISPLAY is not set",
		"x11      yes  an X11 session on $DISPLAY=" + display,
		"Chosen (--input auto)\n  x11: an X11 session",
		"screen 1280x1024",
		"sent: a tap of Shift through x11",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mfd doctor under Xvfb does not say %q:\n%s", want, out)
		}
	}
	xev.Expect(t, "doctor's test key", xtest.KeyTap(xtest.ShiftL)...)
}
