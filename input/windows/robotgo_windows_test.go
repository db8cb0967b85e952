//go:build windows && cgo

package windows

// robotgo, the input library the design named, built with cgo and
// mingw-w64, measured against this backend in the same run (make bench's
// Windows row). The shipped build has no cgo and leaves this file out.

import (
	"testing"
	"time"

	"github.com/go-vgo/robotgo"
)

// BenchmarkRobotgoKeyTap is robotgo.KeyTap("a"): with its default 10 ms
// KeySleep after each tap (and a fixed 3 ms between press and release),
// and with KeySleep 0.
func BenchmarkRobotgoKeyTap(b *testing.B) {
	benchWindow(b)
	for _, sleep := range []int{robotgo.KeySleep, 0} {
		b.Run("KeySleep="+(time.Duration(sleep)*time.Millisecond).String(), func(b *testing.B) {
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

// BenchmarkRobotgoTypeASCII is robotgo.Type of the same text as
// BenchmarkSendInputTypeASCII, with KeySleep 0 (its default 10 ms comes
// once per call).
func BenchmarkRobotgoTypeASCII(b *testing.B) {
	benchWindow(b)
	old := robotgo.KeySleep
	robotgo.KeySleep = 0
	defer func() { robotgo.KeySleep = old }()
	benchTypeText(b, func(s string) error { robotgo.Type(s); return nil }, benchText)
}

// TestRobotgoTypesWhatItIsGiven checks robotgo against what this backend
// guarantees, in inputlog's window: astral characters (it puts the code
// point into a 16-bit field: U+1F600 arrives as U+F600) and '\n' as Enter
// (it sends U+000A). It logs what arrived; the ship decision rests on it.
func TestRobotgoTypesWhatItIsGiven(t *testing.T) {
	l := startInputLog(t)
	robotgo.Type("😀\n")
	time.Sleep(0) // the log is polled below
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got = nil
		for _, s := range l.Pending() {
			if len(s) > 4 && s[:4] == "char" {
				got = append(got, s)
			}
		}
		if len(got) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("robotgo.Type(%q) reached the window as %q", "😀\n", got)
	if len(got) == 2 && got[0] == "char U+1F600 😀" && got[1] == "char U+000D" {
		t.Logf("robotgo typed both as this backend does")
	} else {
		t.Logf("robotgo loses: want [\"char U+1F600 😀\" \"char U+000D\"]")
	}
}
