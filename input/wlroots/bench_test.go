//go:build linux

package wlroots

import (
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/waytest"
)

// benchInjector opens the backend on a headless sway with wev focused, so
// that every key reaches a program, as on a desktop.
func benchInjector(b *testing.B) input.Injector {
	b.Helper()
	s := waytest.StartSway(b, 1280, 720)
	w := s.StartWev(b)
	inj, err := New(Options{Display: s.Socket})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inj.Close() })
	w.WaitKeyboard(b)
	return inj
}

// BenchmarkWlrootsTap taps "a" on headless sway: each op is a call
// through the Injector, a key press and release, and a wl_display.sync
// round trip, so the compositor has handled both when it returns. Same
// measure as BenchmarkX11Tap under Xvfb.
func BenchmarkWlrootsTap(b *testing.B) {
	inj := benchInjector(b)
	start := time.Now()
	for b.Loop() {
		if err := inj.Tap("a", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/tap")
}

// BenchmarkWlrootsTapMods taps ctrl+shift+a.
func BenchmarkWlrootsTapMods(b *testing.B) {
	inj := benchInjector(b)
	mods := []string{"ctrl", "shift"}
	for b.Loop() {
		if err := inj.Tap("a", mods); err != nil {
			b.Fatal(err)
		}
	}
}

// benchType types text b.N times and reports characters a second.
func benchType(b *testing.B, text string) {
	inj := benchInjector(b)
	if err := inj.Type(text); err != nil { // uploads the keymap it needs
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

// BenchmarkWlrootsTypeASCII types 1000 characters of keymap text, capitals
// (Shift) and newlines included, per op, as BenchmarkX11TypeASCII.
func BenchmarkWlrootsTypeASCII(b *testing.B) {
	benchType(b, strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 23)[:1000])
}

// BenchmarkWlrootsTypeUnicode types 1000 characters the US keymap lacks,
// as BenchmarkX11TypeUnicode: bound once, within the keymap hold.
func BenchmarkWlrootsTypeUnicode(b *testing.B) {
	benchType(b, string([]rune(strings.Repeat("éüñ€😀ßøå漢字", 100))[:1000]))
}

// BenchmarkWlrootsTypeNewKeymap puts the plain keymap back and types 10
// characters it lacks, per op: two keymap uploads, each compiled by the
// compositor and by the focused program, the cost of text after the hold.
func BenchmarkWlrootsTypeNewKeymap(b *testing.B) {
	inj := benchInjector(b)
	x := inj.(*injector)
	for b.Loop() {
		if err := x.do("restoring the keymap", func() error { return x.uploadKeymap(nil) }); err != nil {
			b.Fatal(err)
		}
		if err := inj.Type("éüñ€😀ßøå漢字"); err != nil {
			b.Fatal(err)
		}
	}
}
