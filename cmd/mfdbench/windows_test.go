package main

import (
	"slices"
	"strings"
	"testing"
)

// A Windows test binary's output as it runs under Wine, trimmed.
const winOut = `=== RUN   TestRobotgoLosesWhatSendInputKeeps
    robotgo_windows_test.go:70: robotgo.Type("😀\n") reached the window as ["char U+F600 \uf600" "char U+000A"]
--- PASS: TestRobotgoLosesWhatSendInputKeeps (0.27s)
goos: windows
BenchmarkSendInputTap
BenchmarkSendInputTap-2           	     950	   1198074 ns/op	         1.201 ms/tap
BenchmarkSendInputTypeASCII-2     	       4	 354108500 ns/op	      2817 chars/s
BenchmarkRobotgoKeyTap/KeySleep=10ms
BenchmarkRobotgoKeyTap/KeySleep=10ms-2         	      76	  17303121 ns/op	        17.33 ms/tap
BenchmarkRobotgoKeyTap/KeySleep=0s-2           	     265	   4408572 ns/op	         4.412 ms/tap
PASS
`

func TestParseBenchOutput(t *testing.T) {
	figs, typed := parseBenchOutput(winOut)
	var got []string
	for _, f := range figs {
		got = append(got, f.key)
	}
	want := []string{"BenchmarkSendInputTap ms/tap", "BenchmarkSendInputTypeASCII chars/s",
		"BenchmarkRobotgoKeyTap/KeySleep=10ms ms/tap", "BenchmarkRobotgoKeyTap/KeySleep=0s ms/tap"}
	if !slices.Equal(got, want) {
		t.Fatalf("parseBenchOutput keys = %q, want %q", got, want)
	}
	if figs[0].v != 1.201 || figs[1].v != 2817 || figs[3].v != 4.412 {
		t.Errorf("parseBenchOutput values = %+v", figs)
	}
	if !strings.Contains(typed, "U+F600") {
		t.Errorf("robotgo's typed line = %q", typed)
	}
	r := &windowsResult{Rounds: 1, Bench: map[string][]float64{}, Robotgo: "built", RobotgoTyped: typed}
	for _, f := range figs {
		r.Bench[f.key] = []float64{f.v}
	}
	md := r.markdown()
	for _, w := range []string{"Wine is not Windows", "| tap a: SendInput (shipped) | ms/tap | 1.201 |", "3.7× as long as SendInput with KeySleep 0", "U+F600"} {
		if !strings.Contains(md, w) {
			t.Errorf("the Windows row lacks %q:\n%s", w, md)
		}
	}
}
