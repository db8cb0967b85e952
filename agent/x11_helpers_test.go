//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package agent

import (
	"bufio"
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
)

// x11Tools are the programs the X11 tests drive, with the Debian packages
// that hold them.
var x11Tools = []struct{ bin, pkg string }{
	{"Xvfb", "xvfb"},
	{"xev", "x11-utils"},
	{"xdotool", "xdotool"},
	{"xmodmap", "x11-xserver-utils"},
	{"stdbuf", "coreutils"},
}

// requireX11Tools skips the test when a program is missing, loudly, with
// the install line; in CI (CI=true) it fails instead, because CI installs
// them all.
func requireX11Tools(tb testing.TB) {
	tb.Helper()
	var missing, pkgs []string
	for _, tool := range x11Tools {
		if _, err := exec.LookPath(tool.bin); err != nil {
			missing = append(missing, tool.bin)
			pkgs = append(pkgs, tool.pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s; install with: sudo apt-get install -y %s",
		strings.Join(missing, ", "), strings.Join(pkgs, " "))
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// checkFor calls fn every step until it returns nil, and fails the test
// with fn's last error once total has passed.
func checkFor(tb testing.TB, total, step time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(step)
	}
}

// startXvfb starts a private Xvfb on a display number it picks itself
// (-displayfd), waits until it accepts connections, and stops it when the
// test ends. It returns the display name.
func startXvfb(tb testing.TB) string {
	tb.Helper()
	display, _ := startXvfbCmd(tb)
	return display
}

// startXvfbCmd is startXvfb that also returns the Xvfb process.
func startXvfbCmd(tb testing.TB) (string, *exec.Cmd) {
	tb.Helper()
	requireX11Tools(tb)
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatalf("making a pipe: %v", err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting Xvfb: %v", err)
	}
	w.Close()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
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
			tb.Fatalf("starting Xvfb: display number %q: %s", num, stderr.String())
		}
		return ":" + num, cmd
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-numc
		tb.Fatalf("starting Xvfb: no display after 20s: %s", stderr.String())
	}
	return "", nil
}

// runX runs an X client on display and returns its standard output.
func runX(tb testing.TB, display string, name string, args ...string) string {
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

// xEvent is one key or button event as xev reports it: Detail is the
// keysym in hex ("0x61") for keys, the button number for buttons.
type xEvent struct {
	Type   string // KeyPress, KeyRelease, ButtonPress, ButtonRelease
	Detail string
}

func (e xEvent) String() string { return e.Type + " " + e.Detail }

// xevWatcher runs xev on its own focused window and collects its key and
// button events as they arrive.
type xevWatcher struct {
	mu     sync.Mutex
	events []xEvent
	window string
	mark   int // events before it are checked already
}

var (
	xevHeader  = regexp.MustCompile(`^(KeyPress|KeyRelease|ButtonPress|ButtonRelease) event`)
	xevKeysym  = regexp.MustCompile(`\(keysym (0x[0-9a-f]+),`)
	xevButton  = regexp.MustCompile(`button (\d+),`)
	xevOuterID = regexp.MustCompile(`Outer window is (0x[0-9a-f]+)`)
)

// startXev starts xev with a 400x400 window at the top left of display,
// gives it the input focus and returns a watcher for its output. xev is
// stopped when the test ends.
func startXev(tb testing.TB, display string) *xevWatcher {
	tb.Helper()
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
	x := &xevWatcher{}
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
	checkFor(tb, 10*time.Second, 20*time.Millisecond, func() error {
		id, err := strconv.ParseUint(x.window, 0, 64)
		if err != nil {
			return err
		}
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
	x.expect(tb, "warming xev up", xEvent{"KeyPress", "0xffe1"}, xEvent{"KeyRelease", "0xffe1"})
	return x
}

// read parses xev's output until it ends.
func (x *xevWatcher) read(r io.Reader, windowc chan<- string) {
	sc := bufio.NewScanner(r)
	var pending string // the event type whose detail line is still to come
	for sc.Scan() {
		line := sc.Text()
		if m := xevOuterID.FindStringSubmatch(line); m != nil {
			windowc <- m[1]
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
			x.events = append(x.events, xEvent{pending, detail})
			x.mu.Unlock()
			pending = ""
		}
	}
	io.Copy(io.Discard, r)
}

// expect waits until exactly want has arrived since the last expect, and
// fails the test otherwise.
func (x *xevWatcher) expect(tb testing.TB, what string, want ...xEvent) {
	tb.Helper()
	x.expectExcept(tb, what, nil, want...)
}

// expectExcept is expect that leaves out the events skip reports.
func (x *xevWatcher) expectExcept(tb testing.TB, what string, skip func(xEvent) bool, want ...xEvent) {
	tb.Helper()
	var seen int // events since the mark, skipped ones included
	checkFor(tb, 10*time.Second, 5*time.Millisecond, func() error {
		x.mu.Lock()
		all := x.events[x.mark:]
		seen = len(all)
		var got []xEvent
		for _, e := range all {
			if skip == nil || !skip(e) {
				got = append(got, e)
			}
		}
		x.mu.Unlock()
		if i := firstDiff(got, want); i < min(len(got), len(want)) {
			tb.Fatalf("%s: xev saw %v, want %v", what, window(got, i), window(want, i))
		}
		if len(got) != len(want) {
			if len(got) > len(want) {
				tb.Fatalf("%s: xev saw %d events, want %d: extra %v", what, len(got), len(want), window(got, len(want)))
			}
			return fmt.Errorf("%s: xev saw %d events, want %d; missing %v", what, len(got), len(want), window(want, len(got)))
		}
		return nil
	})
	x.mu.Lock()
	x.mark += seen
	x.mu.Unlock()
}

// firstDiff returns the index of the first difference between a and b
// within their common length, or that length.
func firstDiff(a, b []xEvent) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// window formats the events of es from i on, at most 12, for a message.
func window(es []xEvent, i int) string {
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

// keyTap is the press and release of keysym sym.
func keyTap(sym string) []xEvent {
	return []xEvent{{"KeyPress", sym}, {"KeyRelease", sym}}
}

// shifted wraps events in a press and release of Shift_L.
func shifted(events ...xEvent) []xEvent {
	out := []xEvent{{"KeyPress", "0xffe1"}}
	out = append(out, events...)
	return append(out, xEvent{"KeyRelease", "0xffe1"})
}

// seq joins event lists.
func seq(lists ...[]xEvent) []xEvent {
	var out []xEvent
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// pointerAt returns the pointer position xdotool reports.
func pointerAt(tb testing.TB, display string) (x, y int, err error) {
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

// newTestX11 opens an injector on display and closes it when the test
// ends.
func newTestX11(tb testing.TB, display string, opts X11Options) Injector {
	tb.Helper()
	opts.Display = display
	inj, err := NewX11(opts)
	if err != nil {
		tb.Fatalf("NewX11(%q) = %v", display, err)
	}
	tb.Cleanup(func() { inj.Close() })
	return inj
}
