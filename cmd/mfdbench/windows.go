package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openmfd/mfd/internal/winetest"
)

// windowsResult is the Windows row: the shipped backend (input/windows,
// SendInput with no cgo) and robotgo (cgo, mingw-w64) tapping and typing
// into a window under Wine 8 on Xvfb, in one run, rounds interleaved. Wine
// is not Windows: these are Wine's costs, which only hint at Windows'.
type windowsResult struct {
	Rounds int `json:"rounds"`
	// Bench maps "Benchmark/unit" to its value in each round.
	Bench map[string][]float64 `json:"bench"`
	// Robotgo says how robotgo was built, or why it could not be.
	Robotgo string `json:"robotgo"`
	// RobotgoTyped is what robotgo.Type("😀\n") reached the window as.
	RobotgoTyped string  `json:"robotgo_typed"`
	WineBoot     float64 `json:"wine_boot_seconds"`
	Seconds      float64 `json:"seconds"`
	Error        string  `json:"error,omitempty"`
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) (\S+)`)
	typedLine = regexp.MustCompile(`reached the window as (.*)$`)
)

// runWindows builds the Windows benchmarks of input/windows (with robotgo
// when cgo and mingw-w64 can build it) and runs them rounds times under
// Wine, with inputlog's window in front.
func runWindows(ctx context.Context, rounds int) *windowsResult {
	res := &windowsResult{Rounds: rounds, Bench: map[string][]float64{}}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	fail := func(err error) *windowsResult {
		res.Error = err.Error()
		fmt.Println("windows:", res.Error)
		return res
	}
	w, err := winetest.Boot()
	if err != nil {
		return fail(fmt.Errorf("starting Wine (%s): %w", winetest.Install, err))
	}
	defer w.Close()
	res.WineBoot = w.Boot.Seconds()
	dir, err := os.MkdirTemp("", "mfdbench-windows-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	logExe := filepath.Join(dir, "inputlog.exe")
	if err := winetest.GoForWindows(nil, "build", "-o", logExe, "./test/wine/inputlog"); err != nil {
		return fail(err)
	}
	exe := filepath.Join(dir, "windows.test.exe")
	res.Robotgo = "built with cgo and mingw-w64 (x86_64-w64-mingw32-gcc)"
	cgo := []string{"CGO_ENABLED=1", "CC=x86_64-w64-mingw32-gcc"}
	if err := winetest.GoForWindows(cgo, "test", "-c", "-o", exe, "./input/windows"); err != nil {
		res.Robotgo = "could not be built: " + err.Error()
		fmt.Println("windows: robotgo", res.Robotgo)
		if err := winetest.GoForWindows(nil, "test", "-c", "-o", exe, "./input/windows"); err != nil {
			return fail(err)
		}
	}
	for round := range rounds {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		run := "^$"
		if round == 0 {
			run = "^TestRobotgoLosesWhatSendInputKeeps$"
		}
		cmd := w.CommandContext(ctx, exe, "-test.run", run, "-test.bench", ".", "-test.benchtime", "1s", "-test.v")
		cmd.Env = append(cmd.Env, "MFD_INPUTLOG="+winetest.WinPath(logExe))
		out, err := cmd.CombinedOutput()
		if err := winetest.Exited(err); err != nil {
			return fail(fmt.Errorf("round %d: %v\n%s", round+1, err, out))
		}
		figures, typed := parseBenchOutput(string(out))
		if typed != "" {
			res.RobotgoTyped = typed
		}
		var line []string
		for _, f := range figures {
			res.Bench[f.key] = append(res.Bench[f.key], f.v)
			line = append(line, fmt.Sprintf("%s %.3g", f.key, f.v))
		}
		fmt.Printf("  windows round %d: %s\n", round+1, strings.Join(line, "; "))
	}
	return res
}

// figure is one benchmark's reported metric: key is "Name unit".
type figure struct {
	key string
	v   float64
}

// parseBenchOutput reads `go test -bench -v` output: each benchmark's
// custom metric (the last one on its line) in order, and what robotgo's
// test logged it typed.
func parseBenchOutput(out string) (figs []figure, typed string) {
	for _, l := range strings.Split(out, "\n") {
		if m := typedLine.FindStringSubmatch(l); m != nil {
			typed = m[1]
		}
		m := benchLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		figs = append(figs, figure{m[1] + " " + m[3], v})
	}
	return figs, typed
}

// windowsRows are the benchmarks the table shows, in order, with what
// they are.
var windowsRows = []struct{ key, what string }{
	{"BenchmarkSendInputTap ms/tap", "tap a: SendInput (shipped)"},
	{"BenchmarkRobotgoKeyTap/KeySleep=10ms ms/tap", "tap a: robotgo.KeyTap, its default 10 ms KeySleep"},
	{"BenchmarkRobotgoKeyTap/KeySleep=0s ms/tap", "tap a: robotgo.KeyTap, KeySleep 0 (3 ms fixed inside)"},
	{"BenchmarkSendInputTypeASCII chars/s", "type 1,000 ASCII chars: SendInput (shipped)"},
	{"BenchmarkRobotgoTypeASCII chars/s", "type 1,000 ASCII chars: robotgo.Type, KeySleep 0"},
	{"BenchmarkSendInputTypeUnicode chars/s", "type 1,000 chars of Unicode and emoji: SendInput (shipped)"},
}

func (r *windowsResult) markdown() string {
	var b strings.Builder
	b.WriteString("\n### Windows input under Wine 8 on Xvfb (Wine is not Windows)\n\n")
	if r.Error != "" {
		fmt.Fprintf(&b, "Not measured: %s\n", r.Error)
		return b.String()
	}
	fmt.Fprintf(&b, "The Windows benchmarks of input/windows, %d rounds in one run, each round every benchmark for 1 s, into inputlog's window; robotgo %s.\n\n", r.Rounds, r.Robotgo)
	b.WriteString("| what | unit | median | per round |\n| --- | --- | ---: | --- |\n")
	med := map[string]float64{}
	for _, row := range windowsRows {
		v, ok := r.Bench[row.key]
		if !ok {
			continue
		}
		_, unit, _ := strings.Cut(row.key, " ")
		med[row.key] = median(slices.Clone(v))
		prec := 3
		if unit == "chars/s" {
			prec = 0
		}
		fmt.Fprintf(&b, "| %s | %s | %.*f | %s |\n", row.what, unit, prec, med[row.key], rounds(v))
	}
	if s, g := med["BenchmarkSendInputTap ms/tap"], med["BenchmarkRobotgoKeyTap/KeySleep=0s ms/tap"]; s > 0 && g > 0 {
		fmt.Fprintf(&b, "\n- tap: robotgo takes %.1f× as long as SendInput with KeySleep 0, %.1f× with its default\n", g/s, med["BenchmarkRobotgoKeyTap/KeySleep=10ms ms/tap"]/s)
	}
	if s, g := med["BenchmarkSendInputTypeASCII chars/s"], med["BenchmarkRobotgoTypeASCII chars/s"]; s > 0 && g > 0 {
		fmt.Fprintf(&b, "- typing: SendInput types %.2f× robotgo's characters a second\n", s/g)
	}
	if r.RobotgoTyped != "" {
		fmt.Fprintf(&b, "- robotgo.Type(\"😀\\n\") reached the window as %s; SendInput's reaches it as [\"char U+1F600 😀\" \"char U+000D\"]\n", r.RobotgoTyped)
	}
	fmt.Fprintf(&b, "- Wine prefix ready in %.1f s (a copy of the kept one, or wineboot the first time); this section took %.0f s\n", r.WineBoot, r.Seconds)
	return b.String()
}
