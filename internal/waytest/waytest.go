// Package waytest drives a real Wayland compositor for tests: a private
// headless sway per test, wev to read back what reached a focused window,
// and a keyboard of the test's own standing in for the user's.
//
// sway refuses to run as root. Run as root (as CI does), the package runs
// sway and every program of the session as the system user TestUser,
// which it creates with useradd if missing; run as anyone else, as that
// user. Each session has its own $XDG_RUNTIME_DIR, mode 0700, owned by
// the session's user.
//
// A test that needs a program this machine lacks is skipped, loudly, with
// the apt-get line that installs it; with CI=true in the environment it
// fails instead, because CI installs them all.
package waytest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/prereq"
	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/wayland"
)

// Tools are the programs this package runs, each with the Debian package
// that holds it.
var Tools = []prereq.Tool{
	{Bin: "sway", Pkg: "sway"},
	{Bin: "wev", Pkg: "wev"},
	{Bin: "stdbuf", Pkg: "coreutils"},
}

// RequireTools skips the test when one of Tools is missing, with the
// install line; when the environment has CI=true it fails the test
// instead.
func RequireTools(tb testing.TB) {
	tb.Helper()
	prereq.Require(tb, Tools...)
}

// TestUser is the system user sessions run as when the test runs as root.
const TestUser = "mfd-wayland"

// User is who a session's programs run as.
type User struct {
	Uid, Gid int
	// Cred is what exec.Cmd needs to switch to the user; nil when the
	// test already runs as that user.
	Cred *syscall.Credential
}

var userMu sync.Mutex

// SessionUser returns the user sessions run as: the test's own, or
// TestUser when the test runs as root, created if missing.
func SessionUser(tb testing.TB) User {
	tb.Helper()
	if os.Geteuid() != 0 {
		return User{Uid: os.Getuid(), Gid: os.Getgid()}
	}
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(TestUser)
	for try := 0; err != nil && try < 5; try++ {
		// Another test binary may be running useradd at the same moment;
		// then this one fails on the lock and the user appears anyway.
		useradd, lerr := exec.LookPath("useradd")
		if lerr != nil {
			useradd = "/usr/sbin/useradd" // root's PATH may lack sbin
		}
		out, aerr := exec.Command(useradd, "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", TestUser).CombinedOutput()
		if u, err = user.Lookup(TestUser); err == nil {
			break
		}
		if aerr != nil && try == 4 {
			tb.Fatalf("creating the user %s to run sway as (sway refuses root): %v: %s", TestUser, aerr, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("looking up the user %s: %v", TestUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return User{Uid: uid, Gid: gid, Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
}

// Session is a running headless sway.
type Session struct {
	// RuntimeDir is the session's $XDG_RUNTIME_DIR.
	RuntimeDir string
	// Display is $WAYLAND_DISPLAY, a socket name in RuntimeDir.
	Display string
	// Socket is the compositor's socket path.
	Socket string
	// User is who the session's programs run as.
	User User
	// W and H are the size of the one output.
	W, H   int
	log    *syncbuf.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartSway starts sway headless (WLR_BACKENDS=headless, no input
// devices, the pixman renderer) with one output of w×h, no bar, no
// XWayland, windows fullscreen and borderless, and waits until it
// accepts clients. It is stopped when the test ends.
func StartSway(tb testing.TB, w, h int) *Session {
	tb.Helper()
	RequireTools(tb)
	s := &Session{User: SessionUser(tb), W: w, H: h, log: &syncbuf.Buffer{}}
	dir, err := os.MkdirTemp("", "mfd-wl-")
	if err != nil {
		tb.Fatalf("making the runtime dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	s.RuntimeDir = dir
	config := fmt.Sprintf(`output HEADLESS-1 resolution %dx%d position 0 0
xwayland disable
default_border none
focus_follows_mouse no
for_window [title=".*"] fullscreen enable
`, w, h)
	if err := os.WriteFile(filepath.Join(dir, "sway.config"), []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	s.Own(tb, dir, filepath.Join(dir, "sway.config"))

	cmd := s.Command("sway", "--config", filepath.Join(dir, "sway.config"))
	cmd.Env = append(cmd.Env, "WLR_BACKENDS=headless", "WLR_LIBINPUT_NO_DEVICES=1", "WLR_RENDERER=pixman")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting sway: %v", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	poll.Until(tb, 20*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-exited:
			tb.Fatalf("sway exited at start:\n%s", s.log)
		default:
		}
		socks, _ := filepath.Glob(filepath.Join(dir, "wayland-*"))
		for _, p := range socks {
			if strings.HasSuffix(p, ".lock") {
				continue
			}
			if _, err := wayland.Probe(p, time.Second); err != nil {
				return fmt.Errorf("sway's socket %s: %v", p, err)
			}
			s.Socket, s.Display = p, filepath.Base(p)
			return nil
		}
		return errors.New("sway has no socket yet")
	})
	return s
}

// Stop kills sway and waits until it is gone.
func (s *Session) Stop(tb testing.TB) {
	tb.Helper()
	s.cmd.Process.Kill()
	<-s.exited
}

// Log returns what sway printed so far.
func (s *Session) Log() string { return s.log.String() }

// Own hands paths to the session's user, so that its programs may read
// and write them.
func (s *Session) Own(tb testing.TB, paths ...string) {
	tb.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, s.User.Uid, s.User.Gid); err != nil {
			tb.Fatalf("handing %s to the session's user: %v", p, err)
		}
	}
	if err := os.Chmod(s.RuntimeDir, 0o700); err != nil {
		tb.Fatal(err)
	}
}

// Env is the environment of a program in the session: $XDG_RUNTIME_DIR,
// $WAYLAND_DISPLAY (once sway is up), $PATH and $HOME, and nothing else:
// no $DISPLAY, no desktop variables of the test's own environment.
func (s *Session) Env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.RuntimeDir,
		"XDG_RUNTIME_DIR=" + s.RuntimeDir,
		"LANG=C.UTF-8",
	}
	if s.Display != "" {
		env = append(env, "WAYLAND_DISPLAY="+s.Display)
	}
	return env
}

// Command returns a command that runs as the session's user in its
// environment, in its runtime dir.
func (s *Session) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = s.Env()
	cmd.Dir = s.RuntimeDir
	if s.User.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.User.Cred}
	}
	return cmd
}

// Event is one event wev reports.
type Event struct {
	// Type is KeyPress, KeyRelease, Modifiers, Locked, Motion, ButtonPress,
	// ButtonRelease, Axis or AxisDiscrete.
	Type string
	// Detail is the keysym in hex ("0x61") for keys, the depressed mask
	// in hex for Modifiers ("0x5"), "x,y" for Motion, the Linux button
	// code for buttons ("272"), "axis value" for Axis ("0 15") and "axis
	// steps" for AxisDiscrete ("1 -2"; axis 0 is vertical).
	Detail string
}

func (e Event) String() string { return e.Type + " " + e.Detail }

// KeyPress is the press of keysym sym ("0x61").
func KeyPress(sym string) Event { return Event{"KeyPress", sym} }

// KeyRelease is the release of keysym sym.
func KeyRelease(sym string) Event { return Event{"KeyRelease", sym} }

// KeyTap is the press and release of keysym sym.
func KeyTap(sym string) []Event { return []Event{KeyPress(sym), KeyRelease(sym)} }

// Mods is a modifiers event with depressed mask m.
func Mods(m uint32) Event { return Event{"Modifiers", fmt.Sprintf("%#x", m)} }

// Locked is a change of the locked modifiers to mask m (0x2 is Caps
// Lock); wev reports them with every modifiers event, this only when they
// change.
func Locked(m uint32) Event { return Event{"Locked", fmt.Sprintf("%#x", m)} }

// Motion is pointer motion to x, y on wev's surface.
func Motion(x, y int) Event { return Event{"Motion", fmt.Sprintf("%d,%d", x, y)} }

// ButtonClick is the press and release of Linux button code b.
func ButtonClick(b int) []Event {
	return []Event{{"ButtonPress", strconv.Itoa(b)}, {"ButtonRelease", strconv.Itoa(b)}}
}

// ButtonPress is the press of Linux button code b.
func ButtonPress(b int) Event { return Event{"ButtonPress", strconv.Itoa(b)} }

// ButtonRelease is the release of Linux button code b.
func ButtonRelease(b int) Event { return Event{"ButtonRelease", strconv.Itoa(b)} }

// Seq joins event lists.
func Seq(lists ...[]Event) []Event {
	var out []Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Wev is a running wev, fullscreen on the session's output and so with
// the keyboard focus and under the pointer. It collects what reaches its
// window and keeps every keymap it is sent. It is safe for concurrent use.
type Wev struct {
	mu      sync.Mutex
	events  []Event
	text    []string // utf8 of each KeyPress, in order
	mark    int
	keymaps int
	lines   []string
	dump    string
	width   int
	focused bool   // a keyboard entered wev's window
	locked  uint32 // the locked modifiers wev last reported
	kbdCaps int    // capabilities events naming a keyboard, since none
	kbdMods int    // modifiers events on the keyboard that counts, since then
	kbdID   string // the wl_keyboard whose events count
	ptrID   string // the wl_pointer whose events count
}

var (
	wevHeader = regexp.MustCompile(`^\[\s*(\d+):\s*(\w+)\] (\w+):? ?(.*)$`)
	wevSym    = regexp.MustCompile(`sym: \S+\s+\((\d+)\), utf8: '(.*)'$`)
	wevKey    = regexp.MustCompile(`state: (\d)`)
	wevMotion = regexp.MustCompile(`x, y: (-?[\d.]+), (-?[\d.]+)`)
	wevButton = regexp.MustCompile(`button: (\d+) .*state: (\d)`)
	wevAxis   = regexp.MustCompile(`axis: (\d) \(\w+\), value: (-?[\d.]+)`)
	// wev 1.0 prints axis_discrete events as "axis_stop: …, discrete: N".
	wevDisc    = regexp.MustCompile(`axis: (\d) \(\w+\), discrete: (-?\d+)`)
	wevDepress = regexp.MustCompile(`depressed: ([0-9a-f]+)`)
	wevLocked  = regexp.MustCompile(`locked: ([0-9a-f]+)`)
	wevSize    = regexp.MustCompile(`width: (\d+)`)
)

// StartWev starts wev (line-buffered) in the session and waits until its
// window is fullscreen. wev is stopped when the test ends.
func (s *Session) StartWev(tb testing.TB) *Wev {
	tb.Helper()
	w := &Wev{dump: filepath.Join(s.RuntimeDir, "wev.keymap")}
	// wev writes through stdio: line buffering makes each line arrive at
	// once instead of with the next event.
	cmd := s.Command("stdbuf", "-oL", "wev", "-M", w.dump)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("piping wev: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting wev: %v", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		w.read(out)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-readDone
		cmd.Wait()
	})
	poll.Until(tb, 10*time.Second, 10*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.width != s.W {
			return fmt.Errorf("wev's window is %d wide, want fullscreen %d; wev printed:\n%s", w.width, s.W, strings.Join(w.lines, "\n"))
		}
		return nil
	})
	return w
}

// read parses wev's output until it ends. A key line is followed by an
// indented line with the keysym; a modifiers line by the masks.
func (w *Wev) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	var pending string // the key event whose sym line is still to come
	var inMods bool
	for sc.Scan() {
		line := sc.Text()
		w.mu.Lock()
		if len(w.lines) < 2000 {
			w.lines = append(w.lines, line)
		}
		w.mu.Unlock()
		if m := wevHeader.FindStringSubmatch(line); m != nil {
			pending, inMods = "", false
			if w.current(m[1], m[2], m[3], m[4]) {
				w.header(m[2], m[3], m[4], &pending, &inMods)
			}
			continue
		}
		switch {
		case pending != "":
			if m := wevSym.FindStringSubmatch(line); m != nil {
				sym, _ := strconv.Atoi(m[1])
				w.add(Event{pending, fmt.Sprintf("%#x", sym)}, pending == "KeyPress", m[2])
				pending = ""
			}
		case inMods:
			if m := wevDepress.FindStringSubmatch(line); m != nil {
				mask, _ := strconv.ParseUint(m[1], 16, 32)
				w.add(Mods(uint32(mask)), false, "")
				w.mu.Lock()
				w.kbdMods++
				w.mu.Unlock()
			}
			if m := wevLocked.FindStringSubmatch(line); m != nil {
				mask, _ := strconv.ParseUint(m[1], 16, 32)
				if uint32(mask) != w.locked {
					w.locked = uint32(mask)
					w.add(Locked(w.locked), false, "")
				}
				inMods = false
			}
		}
	}
	io.Copy(io.Discard, r)
}

// current reports whether an event of object id (an iface) is one to
// record. wev binds a second wl_keyboard or wl_pointer when the seat
// announces its capabilities twice (a keyboard, then a pointer too), and
// would print every event twice: only the first object of each kind
// counts, until the seat loses that capability.
func (w *Wev) current(id, iface, ev, rest string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if iface == "wl_seat" && ev == "capabilities" {
		if !strings.Contains(rest, "keyboard") {
			w.kbdID, w.kbdCaps, w.kbdMods = "", 0, 0
		} else {
			w.kbdCaps++
		}
		if !strings.Contains(rest, "pointer") {
			w.ptrID = ""
		}
		return true
	}
	var cur *string
	switch iface {
	case "wl_keyboard":
		cur = &w.kbdID
	case "wl_pointer":
		cur = &w.ptrID
	default:
		return true
	}
	if *cur == "" {
		*cur = id
	}
	return *cur == id
}

func (w *Wev) header(iface, ev, rest string, pending *string, inMods *bool) {
	switch {
	case iface == "xdg_toplevel" && ev == "configure":
		if m := wevSize.FindStringSubmatch(rest); m != nil {
			w.mu.Lock()
			w.width, _ = strconv.Atoi(m[1])
			w.mu.Unlock()
		}
	case iface == "wl_keyboard" && ev == "keymap":
		w.mu.Lock()
		w.keymaps++
		w.mu.Unlock()
	case iface == "wl_keyboard" && ev == "enter":
		w.mu.Lock()
		w.focused = true
		w.mu.Unlock()
	case iface == "wl_keyboard" && ev == "key":
		if m := wevKey.FindStringSubmatch(rest); m != nil {
			*pending = map[string]string{"0": "KeyRelease", "1": "KeyPress"}[m[1]]
		}
	case iface == "wl_keyboard" && ev == "modifiers":
		*inMods = true
	case iface == "wl_pointer" && ev == "motion":
		if m := wevMotion.FindStringSubmatch(rest); m != nil {
			x, _ := strconv.ParseFloat(m[1], 64)
			y, _ := strconv.ParseFloat(m[2], 64)
			w.add(Motion(int(x), int(y)), false, "")
		}
	case iface == "wl_pointer" && ev == "button":
		if m := wevButton.FindStringSubmatch(rest); m != nil {
			b, _ := strconv.Atoi(m[1])
			if m[2] == "1" {
				w.add(ButtonPress(b), false, "")
			} else {
				w.add(ButtonRelease(b), false, "")
			}
		}
	case iface == "wl_pointer" && ev == "axis":
		if m := wevAxis.FindStringSubmatch(rest); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			w.add(Event{"Axis", fmt.Sprintf("%s %g", m[1], v)}, false, "")
		}
	case iface == "wl_pointer" && (ev == "axis_discrete" || ev == "axis_stop"):
		if m := wevDisc.FindStringSubmatch(rest); m != nil {
			w.add(Event{"AxisDiscrete", m[1] + " " + m[2]}, false, "")
		}
	}
}

func (w *Wev) add(e Event, press bool, utf8 string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
	if press && utf8 != "" {
		w.text = append(w.text, utf8)
	}
}

// WaitKeyboard waits until a keyboard has entered wev's window and its
// keymap was dumped, then marks every event so far as checked.
func (w *Wev) WaitKeyboard(tb testing.TB) {
	tb.Helper()
	poll.Until(tb, 10*time.Second, 5*time.Millisecond, func() error {
		w.mu.Lock()
		focused, caps, mods := w.focused, w.kbdCaps, w.kbdMods
		w.mu.Unlock()
		// wev binds a wl_keyboard per capabilities event that names a
		// keyboard, and the compositor sends the modifiers to the first
		// one on each one's enter: once as many came in, nothing of the
		// keyboard's arrival is still to come.
		if !focused || caps == 0 || mods < caps {
			return fmt.Errorf("no keyboard has settled in wev's window (%d keyboards bound, %d modifiers events)", caps, mods)
		}
		if _, err := w.Keymap(); err != nil {
			return err
		}
		return nil
	})
	w.mu.Lock()
	w.mark = len(w.events)
	w.mu.Unlock()
}

// Text returns what the key presses so far typed, by wev's utf8 column.
func (w *Wev) Text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text, "")
}

// Keymaps returns how many keymaps wev has been sent.
func (w *Wev) Keymaps() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.keymaps
}

// Keymap returns the last keymap wev was sent, as it dumped it (-M).
// wev writes the file after printing the keymap line: callers poll.
func (w *Wev) Keymap() (string, error) {
	b, err := os.ReadFile(w.dump)
	if err == nil && !strings.HasSuffix(strings.TrimRight(string(b), "\x00\n"), "};") {
		err = fmt.Errorf("wev's keymap dump is incomplete (%d bytes)", len(b))
	}
	return string(b), err
}

// Output returns what wev printed so far (at most its first 2000 lines).
func (w *Wev) Output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// Pending returns the events that arrived since the last Expect.
func (w *Wev) Pending() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.events[w.mark:]...)
}

// Expect waits up to 10 s until exactly want has arrived since the last
// Expect, leaving out the events skip reports (nil leaves out none), and
// fails the test as soon as an event differs or one too many arrives.
func (w *Wev) Expect(tb testing.TB, what string, skip func(Event) bool, want ...Event) {
	tb.Helper()
	var seen int
	poll.Until(tb, 10*time.Second, 5*time.Millisecond, func() error {
		w.mu.Lock()
		all := w.events[w.mark:]
		seen = len(all)
		var got []Event
		for _, e := range all {
			if skip == nil || !skip(e) {
				got = append(got, e)
			}
		}
		w.mu.Unlock()
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				tb.Fatalf("%s: wev saw %v, want %v", what, got[i:min(len(got), i+12)], want[i:min(len(want), i+12)])
			}
		}
		if len(got) > len(want) {
			tb.Fatalf("%s: wev saw %d events, want %d: extra %v", what, len(got), len(want), got[len(want):])
		}
		if len(got) < len(want) {
			return fmt.Errorf("%s: wev saw %d events, want %d; missing %v", what, len(got), len(want), want[len(got):])
		}
		return nil
	})
	w.mu.Lock()
	w.mark += seen
	w.mu.Unlock()
}

// NoMods leaves Modifiers and Locked events out of Expect.
func NoMods(e Event) bool { return e.Type == "Modifiers" || e.Type == "Locked" }

// Keyboard is a virtual keyboard of the test's own with a keymap it
// chose: it stands in for the user's keyboard, whose keymap typing must
// not change.
type Keyboard struct {
	c   *wayland.Conn
	kbd uint32
}

// NewKeyboard connects to the session and creates a virtual keyboard with
// keymap (XKB text). It is closed when the test ends.
func (s *Session) NewKeyboard(tb testing.TB, keymap string) *Keyboard {
	tb.Helper()
	c, err := wayland.Dial(s.Socket)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	reg, globals, err := c.Registry()
	if err != nil {
		tb.Fatal(err)
	}
	var seat, mgr uint32
	for _, g := range globals {
		switch g.Interface {
		case "wl_seat":
			seat = c.Bind(reg, g, 1)
		case "zwp_virtual_keyboard_manager_v1":
			mgr = c.Bind(reg, g, 1)
		}
	}
	if seat == 0 || mgr == 0 {
		tb.Fatalf("sway offers no seat or no virtual keyboard: %v", globals)
	}
	k := &Keyboard{c: c, kbd: c.NewID()}
	c.Request(mgr, 0).Uint(seat).Uint(k.kbd).Send() // create_virtual_keyboard
	f, err := os.CreateTemp(s.RuntimeDir, "keymap")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	os.Remove(f.Name())
	data := append([]byte(keymap), 0)
	if _, err := f.Write(data); err != nil {
		tb.Fatal(err)
	}
	c.Request(k.kbd, 0).Uint(1).FD(int(f.Fd())).Uint(uint32(len(data))).Send() // keymap(xkb_v1, fd, size)
	if err := c.Roundtrip(); err != nil {
		tb.Fatalf("creating the test's keyboard: %v", err)
	}
	return k
}

// Tap presses and releases evdev code on the keyboard.
func (k *Keyboard) Tap(tb testing.TB, code uint32) {
	tb.Helper()
	for _, state := range []uint32{1, 0} {
		k.c.Request(k.kbd, 1).Uint(0).Uint(code).Uint(state).Send() // key(time, key, state)
	}
	if err := k.c.Roundtrip(); err != nil {
		tb.Fatalf("tapping %d on the test's keyboard: %v", code, err)
	}
}
