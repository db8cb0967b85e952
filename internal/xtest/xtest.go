// Package xtest drives real X11 programs for tests: a private Xvfb per
// test, xev to read back what reached the X server, xdotool for the
// pointer and focus, xmodmap for the keymap.
//
// A test that needs a program this machine lacks is skipped, loudly, with
// the apt-get line that installs it; with CI=true in the environment it
// fails instead, because CI installs them all.
//
// The package runs programs only: it needs no cgo and builds everywhere.
package xtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pollpkg "github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/prereq"
	"github.com/openmfd/mfd/internal/syncbuf"
)

// Tools are the programs this package runs, each with the Debian package
// that holds it.
var Tools = []prereq.Tool{
	{Bin: "Xvfb", Pkg: "xvfb"},
	{Bin: "xev", Pkg: "x11-utils"},
	{Bin: "xdotool", Pkg: "xdotool"},
	{Bin: "xmodmap", Pkg: "x11-xserver-utils"},
	{Bin: "stdbuf", Pkg: "coreutils"},
}

// RequireTools skips the test when one of Tools is missing, with the
// install line; when the environment has CI=true it fails the test
// instead.
func RequireTools(tb testing.TB) {
	tb.Helper()
	prereq.Require(tb, Tools...)
}

// StartXvfb starts a private Xvfb (1280x1024, no TCP, no autorepeat) on a
// display number it picks itself, waits until it accepts connections, and
// stops it when the test ends. It returns the display name (":5").
func StartXvfb(tb testing.TB) string {
	tb.Helper()
	display, _ := StartXvfbCmd(tb)
	return display
}

// StartXvfbCmd is StartXvfb that also returns the Xvfb process, for tests
// that kill the server under their client.
func StartXvfbCmd(tb testing.TB) (string, *exec.Cmd) {
	tb.Helper()
	RequireTools(tb)
	display, cmd, err := LaunchXvfb()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return display, cmd
}

// LaunchXvfb starts a private Xvfb as StartXvfb does, for a caller that
// outlives one test (a server shared by a test binary); the caller kills
// and waits for the returned process.
func LaunchXvfb() (string, *exec.Cmd, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, fmt.Errorf("making a pipe: %v", err)
	}
	// -r: no autorepeat, so a held key is one KeyPress however long it
	// is held, and a late release cannot hide behind a repeat's.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-r")
	cmd.ExtraFiles = []*os.File{w}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return "", nil, fmt.Errorf("starting Xvfb: %v", err)
	}
	w.Close()
	// Xvfb writes the display number once it is ready for clients.
	numc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		numc <- strings.TrimSpace(line)
	}()
	select {
	case num := <-numc:
		if _, err := strconv.Atoi(num); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return "", nil, fmt.Errorf("starting Xvfb: display number %q: %s", num, stderr.String())
		}
		return ":" + num, cmd, nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		<-numc
		return "", nil, errors.New("starting Xvfb: no display after 20s")
	}
}

// Run runs the X client name on display and returns its standard output;
// it fails the test if the program fails.
func Run(tb testing.TB, display string, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		tb.Fatalf("running %s %q: %v: %s", name, args, err, stderr)
	}
	return string(out)
}

// Keymap returns display's keymap as `xmodmap -pke` prints it, for
// comparing before and after typing.
func Keymap(tb testing.TB, display string) string {
	tb.Helper()
	return Run(tb, display, "xmodmap", "-pke")
}

// PointerAt returns the pointer position xdotool reports on display.
func PointerAt(tb testing.TB, display string) (x, y int, err error) {
	tb.Helper()
	cmd := exec.Command("xdotool", "getmouselocation", "--shell")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("xdotool getmouselocation: %v", err)
	}
	for _, line := range strings.Fields(string(out)) {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "X":
			x, _ = strconv.Atoi(v)
		case "Y":
			y, _ = strconv.Atoi(v)
		}
	}
	return x, y, nil
}

// Event is one key or button event as xev reports it.
type Event struct {
	// Type is KeyPress, KeyRelease, ButtonPress or ButtonRelease.
	Type string
	// Detail is the keysym in hex ("0x61") for keys, the button number
	// ("1") for buttons.
	Detail string
}

func (e Event) String() string { return e.Type + " " + e.Detail }

// KeyPress is the press of keysym sym ("0x61").
func KeyPress(sym string) Event { return Event{Type: "KeyPress", Detail: sym} }

// KeyRelease is the release of keysym sym.
func KeyRelease(sym string) Event { return Event{Type: "KeyRelease", Detail: sym} }

// ButtonPress is the press of button n ("1" is left, "3" right).
func ButtonPress(n string) Event { return Event{Type: "ButtonPress", Detail: n} }

// ButtonRelease is the release of button n.
func ButtonRelease(n string) Event { return Event{Type: "ButtonRelease", Detail: n} }

// KeyTap is the press and release of keysym sym.
func KeyTap(sym string) []Event {
	return []Event{KeyPress(sym), KeyRelease(sym)}
}

// ButtonClick is the press and release of button n.
func ButtonClick(n string) []Event {
	return []Event{ButtonPress(n), ButtonRelease(n)}
}

// ShiftL is the keysym of the left Shift key.
const ShiftL = "0xffe1"

// Shifted wraps events in a press and release of Shift_L.
func Shifted(events ...Event) []Event {
	out := []Event{KeyPress(ShiftL)}
	out = append(out, events...)
	return append(out, KeyRelease(ShiftL))
}

// Seq joins event lists.
func Seq(lists ...[]Event) []Event {
	var out []Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Xev is a running xev with the input focus on its window; it collects
// the key and button events that reach that window. It is safe for
// concurrent use.
type Xev struct {
	mu     sync.Mutex
	events []Event
	mark   int // events before it are checked already
	window string
}

var (
	xevHeader  = regexp.MustCompile(`^(KeyPress|KeyRelease|ButtonPress|ButtonRelease) event`)
	xevKeysym  = regexp.MustCompile(`\(keysym (0x[0-9a-f]+),`)
	xevButton  = regexp.MustCompile(`button (\d+),`)
	xevOuterID = regexp.MustCompile(`Outer window is (0x[0-9a-f]+)`)
)

// StartXev starts xev with a 400x400 window at the top left of display,
// gives it the input focus, warms it up with a tap of Shift (which it
// consumes) and returns it. xev is stopped when the test ends.
func StartXev(tb testing.TB, display string) *Xev {
	tb.Helper()
	RequireTools(tb)
	// xev writes through stdio: line buffering makes each line arrive at
	// once instead of with the next event.
	cmd := exec.Command("stdbuf", "-oL", "xev", "-geometry", "400x400+0+0", "-event", "keyboard", "-event", "button")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("piping xev: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting xev: %v", err)
	}
	x := &Xev{}
	windowc := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		x.read(out, windowc)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-readDone
		cmd.Wait()
	})
	select {
	case x.window = <-windowc:
	case <-time.After(10 * time.Second):
		tb.Fatal("starting xev: no window after 10s")
	}
	// No window manager: set the focus ourselves, and wait until it holds.
	id, err := strconv.ParseUint(x.window, 0, 64)
	if err != nil {
		tb.Fatalf("starting xev: window %q: %v", x.window, err)
	}
	poll(tb, 10*time.Second, 20*time.Millisecond, func() error {
		focus := exec.Command("xdotool", "windowfocus", x.window)
		focus.Env = append(os.Environ(), "DISPLAY="+display)
		focus.Run()
		get := exec.Command("xdotool", "getwindowfocus")
		get.Env = append(os.Environ(), "DISPLAY="+display)
		got, err := get.Output()
		if err != nil {
			return fmt.Errorf("xdotool getwindowfocus: %v", err)
		}
		if strings.TrimSpace(string(got)) != strconv.FormatUint(id, 10) {
			return fmt.Errorf("focus is on %s, want xev's window %d", strings.TrimSpace(string(got)), id)
		}
		return nil
	})
	// Until xev has looked up a first key, its Xlib has no keymap, and a
	// keymap change racing with that first load can be missed. A real
	// desktop's clients loaded theirs long ago: warm xev up the same way.
	warm := exec.Command("xdotool", "key", "shift")
	warm.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := warm.CombinedOutput(); err != nil {
		tb.Fatalf("xdotool key shift: %v: %s", err, out)
	}
	x.Expect(tb, "warming xev up", KeyTap(ShiftL)...)
	return x
}

// Window returns the id of xev's window ("0x200001").
func (x *Xev) Window() string { return x.window }

// read parses xev's output until it ends.
func (x *Xev) read(r io.Reader, windowc chan<- string) {
	sc := bufio.NewScanner(r)
	var pending string // the event type whose detail line is still to come
	for sc.Scan() {
		line := sc.Text()
		if m := xevOuterID.FindStringSubmatch(line); m != nil {
			select {
			case windowc <- m[1]:
			default:
			}
			continue
		}
		if m := xevHeader.FindStringSubmatch(line); m != nil {
			pending = m[1]
			continue
		}
		if pending == "" {
			continue
		}
		var detail string
		if strings.HasPrefix(pending, "Key") {
			if m := xevKeysym.FindStringSubmatch(line); m != nil {
				detail = m[1]
			}
		} else if m := xevButton.FindStringSubmatch(line); m != nil {
			detail = m[1]
		}
		if detail != "" {
			x.mu.Lock()
			x.events = append(x.events, Event{Type: pending, Detail: detail})
			x.mu.Unlock()
			pending = ""
		}
	}
	io.Copy(io.Discard, r)
}

// Pending returns the events that arrived since the last Expect, without
// marking them checked.
func (x *Xev) Pending() []Event {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Event(nil), x.events[x.mark:]...)
}

// Expect waits up to 10 s until exactly want has arrived since the last
// Expect, and fails the test as soon as an event differs or one too many
// arrives. what names the step in the failure.
func (x *Xev) Expect(tb testing.TB, what string, want ...Event) {
	tb.Helper()
	x.ExpectExcept(tb, what, nil, want...)
}

// ExpectExcept is Expect that leaves out the events skip reports; a nil
// skip leaves out none.
func (x *Xev) ExpectExcept(tb testing.TB, what string, skip func(Event) bool, want ...Event) {
	tb.Helper()
	var seen int // events since the mark, skipped ones included
	poll(tb, 10*time.Second, 5*time.Millisecond, func() error {
		x.mu.Lock()
		all := x.events[x.mark:]
		seen = len(all)
		var got []Event
		for _, e := range all {
			if skip == nil || !skip(e) {
				got = append(got, e)
			}
		}
		x.mu.Unlock()
		if i := firstDiff(got, want); i < min(len(got), len(want)) {
			tb.Fatalf("%s: xev saw %v, want %v", what, excerpt(got, i), excerpt(want, i))
		}
		if len(got) != len(want) {
			if len(got) > len(want) {
				tb.Fatalf("%s: xev saw %d events, want %d: extra %v", what, len(got), len(want), excerpt(got, len(want)))
			}
			return fmt.Errorf("%s: xev saw %d events, want %d; missing %v", what, len(got), len(want), excerpt(want, len(got)))
		}
		return nil
	})
	x.mu.Lock()
	x.mark += seen
	x.mu.Unlock()
}

// firstDiff returns the index of the first difference between a and b
// within their common length, or that length.
func firstDiff(a, b []Event) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// excerpt formats the events of es from i on, at most 12, for a message.
func excerpt(es []Event, i int) string {
	end := min(len(es), i+12)
	s := fmt.Sprint(es[i:end])
	if i > 0 {
		s = fmt.Sprintf("[%d:]%s", i, s)
	}
	if end < len(es) {
		s += "..."
	}
	return s
}

var poll = pollpkg.Until
