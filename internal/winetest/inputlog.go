package winetest

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/poll"
)

// BuildInputLog builds inputlog for windows/amd64 into dir and returns
// its path.
func BuildInputLog(tb testing.TB, dir string) string {
	tb.Helper()
	return BuildExe(tb, dir, "./test/wine/inputlog")
}

// InputLog is a running inputlog: the lines it printed. It is safe for
// concurrent use.
type InputLog struct {
	mu    sync.Mutex
	lines []string
	mark  int // lines before it are checked already
	// X and Y are where the pointer was when the window took the focus.
	X, Y int
}

var readyLine = regexp.MustCompile(`^ready hwnd=\S+ cursor (-?\d+),(-?\d+)$`)

// StartInputLog starts cmd, an inputlog (under Wine: Command of
// BuildInputLog's path), waits until its window has the focus, and
// returns it. The process is killed when the test ends.
func StartInputLog(tb testing.TB, cmd *exec.Cmd) *InputLog {
	tb.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("piping inputlog: %v", err)
	}
	var stderr strings.Builder
	var errMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		errMu.Lock()
		defer errMu.Unlock()
		return stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting inputlog: %v", err)
	}
	l := &InputLog{}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait() // closes stdout, should a Wine helper hold it too
		<-readDone
	})
	poll.Until(tb, 30*time.Second, 10*time.Millisecond, func() error {
		select {
		case <-readDone:
			errMu.Lock()
			defer errMu.Unlock()
			tb.Fatalf("inputlog ended before its window had the focus: %s", stderr.String())
		default:
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.lines) == 0 {
			return fmt.Errorf("inputlog's window does not have the focus yet")
		}
		m := readyLine.FindStringSubmatch(l.lines[0])
		if m == nil {
			tb.Fatalf("inputlog's first line is %q, want ready", l.lines[0])
		}
		l.X, _ = strconv.Atoi(m[1])
		l.Y, _ = strconv.Atoi(m[2])
		l.mark = 1
		return nil
	})
	return l
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Pending returns the lines printed since the last Expect, without
// marking them checked.
func (l *InputLog) Pending() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[l.mark:]...)
}

// isCursor reports a pointer-move line, which Expect leaves out.
func isCursor(line string) bool { return strings.HasPrefix(line, "cursor ") }

// Expect waits up to 10 s until exactly want has arrived since the last
// Expect, pointer moves left out, and fails the test as soon as a line
// differs or one too many arrives. what names the step in the failure.
// Pointer moves are checked with ExpectCursor.
func (l *InputLog) Expect(tb testing.TB, what string, want ...string) {
	tb.Helper()
	l.ExpectExcept(tb, what, isCursor, want...)
}

// ExpectCursor waits up to 10 s until the pointer's last move since the
// last Expect ended at x, y. Under Wine the X server's late report of an
// earlier warp may add moves before or after; only the last one counts.
// It fails the test if anything but moves arrived meanwhile.
func (l *InputLog) ExpectCursor(tb testing.TB, what string, x, y int) {
	tb.Helper()
	want := fmt.Sprintf("cursor %d,%d", x, y)
	var seen int
	poll.Until(tb, 10*time.Second, 5*time.Millisecond, func() error {
		l.mu.Lock()
		all := slices.Clone(l.lines[l.mark:])
		l.mu.Unlock()
		last := ""
		for _, s := range all {
			if !isCursor(s) {
				tb.Fatalf("%s: inputlog printed %q among the pointer's moves %q, want only moves to %d,%d", what, s, all, x, y)
			}
			last = s
		}
		if last != want {
			return fmt.Errorf("%s: the pointer's moves so far %q, want the last at %d,%d", what, all, x, y)
		}
		seen = len(all)
		return nil
	})
	l.mu.Lock()
	l.mark += seen
	l.mu.Unlock()
}

// ExpectAnyOrder is Expect for lines whose order is not defined: it
// waits until as many lines as want have arrived, pointer moves left
// out, and fails unless they are want in some order.
func (l *InputLog) ExpectAnyOrder(tb testing.TB, what string, want ...string) {
	tb.Helper()
	var got []string
	var seen int
	poll.Until(tb, 10*time.Second, 5*time.Millisecond, func() error {
		l.mu.Lock()
		all := slices.Clone(l.lines[l.mark:])
		l.mu.Unlock()
		seen = len(all)
		got = slices.DeleteFunc(all, isCursor)
		if len(got) < len(want) {
			return fmt.Errorf("%s: inputlog printed %d lines, want %d: %q so far", what, len(got), len(want), got)
		}
		return nil
	})
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		tb.Fatalf("%s: inputlog printed\n\t%s\nwant, in any order,\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	l.mu.Lock()
	l.mark += seen
	l.mu.Unlock()
}

// ExpectExcept is Expect that leaves out the lines skip reports; a nil
// skip leaves out none.
func (l *InputLog) ExpectExcept(tb testing.TB, what string, skip func(string) bool, want ...string) {
	tb.Helper()
	var seen int
	poll.Until(tb, 10*time.Second, 5*time.Millisecond, func() error {
		l.mu.Lock()
		all := l.lines[l.mark:]
		seen = len(all)
		var got []string
		for _, s := range all {
			if skip == nil || !skip(s) {
				got = append(got, s)
			}
		}
		l.mu.Unlock()
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				tb.Fatalf("%s: inputlog printed\n\t%s\nwant\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		}
		if len(got) > len(want) {
			tb.Fatalf("%s: inputlog printed %d lines, want %d: extra %q", what, len(got), len(want), got[len(want):])
		}
		if len(got) < len(want) {
			return fmt.Errorf("%s: inputlog printed %d lines, want %d; missing %q", what, len(got), len(want), want[len(got):])
		}
		return nil
	})
	l.mu.Lock()
	l.mark += seen
	l.mu.Unlock()
}
