//go:build windows

package windows

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/input"
)

// benchWindow starts the inputlog that $MFD_INPUTLOG names, if any, so
// that benchmarks send to a real window in front; its lines are
// discarded. Without it the input goes to whatever is in front.
func benchWindow(b *testing.B) {
	b.Helper()
	p := os.Getenv("MFD_INPUTLOG")
	if p == "" {
		return
	}
	cmd := exec.Command(p)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		b.Fatalf("inputlog: %q, %v", line, err)
	}
	go io.Copy(io.Discard, r)
}

// BenchmarkSendInputTap taps "a": each op is a call through the Injector
// and one SendInput of two events.
func BenchmarkSendInputTap(b *testing.B) {
	benchWindow(b)
	inj, err := New(input.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer inj.Close()
	start := time.Now()
	for b.Loop() {
		if err := inj.Tap("a", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/tap")
}

// benchTypeText types text b.N times and reports characters a second.
func benchTypeText(b *testing.B, typ func(string) error, text string) {
	n := len([]rune(text))
	start := time.Now()
	for b.Loop() {
		if err := typ(text); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "chars/s")
}

// benchText is 1,000 characters of keymap text with capitals and
// newlines; benchUnicode 1,000 that no keymap has all of, emoji included.
var (
	benchText    = strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 23)[:1000]
	benchUnicode = string([]rune(strings.Repeat("éüñ€😀ßøå漢字", 100))[:1000])
)

func BenchmarkSendInputTypeASCII(b *testing.B) {
	benchWindow(b)
	inj, _ := New(input.Options{})
	defer inj.Close()
	benchTypeText(b, inj.Type, benchText)
}

func BenchmarkSendInputTypeUnicode(b *testing.B) {
	benchWindow(b)
	inj, _ := New(input.Options{})
	defer inj.Close()
	benchTypeText(b, inj.Type, benchUnicode)
}
