//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-vgo/robotgo"

	"github.com/openmfd/mfd/internal/xtest"
)

// BenchmarkX11Tap taps "a" under Xvfb: each op is a call through the
// Injector, a key press and release, and an XSync round trip.
func BenchmarkX11Tap(b *testing.B) {
	inj := newTestX11(b, xtest.StartXvfb(b), Options{})
	start := time.Now()
	for b.Loop() {
		if err := inj.Tap("a", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/tap")
}

// BenchmarkX11TapMods taps ctrl+shift+a.
func BenchmarkX11TapMods(b *testing.B) {
	inj := newTestX11(b, xtest.StartXvfb(b), Options{})
	mods := []string{"ctrl", "shift"}
	for b.Loop() {
		if err := inj.Tap("a", mods); err != nil {
			b.Fatal(err)
		}
	}
}

// benchType types text b.N times and reports characters a second.
func benchType(b *testing.B, text string) {
	inj := newTestX11(b, xtest.StartXvfb(b), Options{})
	if err := inj.Type(text); err != nil { // binds what the keymap lacks
		b.Fatal(err)
	}
	n := len([]rune(text))
	start := time.Now()
	for b.Loop() {
		if err := inj.Type(text); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "chars/s")
}

// BenchmarkX11TypeASCII types 1000 characters of keymap text, capitals
// (Shift) and newlines included, per op.
func BenchmarkX11TypeASCII(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 23)[:1000]
	benchType(b, text)
}

// BenchmarkX11TypeUnicode types 1000 characters the Xvfb keymap lacks
// (Latin-1 accents, euro, CJK, emoji), fewer distinct ones than there are
// spare keycodes, per op.
func BenchmarkX11TypeUnicode(b *testing.B) {
	text := string([]rune(strings.Repeat("éüñ€😀ßøå漢字", 100))[:1000])
	benchType(b, text)
}

// BenchmarkRobotgoKeyTap is robotgo's KeyTap("a") on the same kind of
// server, for comparison: with its default 10 ms KeySleep, and without.
func BenchmarkRobotgoKeyTap(b *testing.B) {
	display := xtest.StartXvfb(b)
	// robotgo keeps one process-wide Display; keep its calls on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := robotgo.SetXDisplayName(display); err != nil {
		b.Fatal(err)
	}
	for _, sleep := range []int{robotgo.KeySleep, 0} {
		b.Run("KeySleep="+time.Duration(sleep*int(time.Millisecond)).String(), func(b *testing.B) {
			old := robotgo.KeySleep
			robotgo.KeySleep = sleep
			defer func() { robotgo.KeySleep = old }()
			start := time.Now()
			for b.Loop() {
				if err := robotgo.KeyTap("a"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/tap")
		})
	}
}
