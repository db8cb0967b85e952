package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type machine struct {
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"nproc"`
	Memory     string `json:"memory"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
	Date       string `json:"date"`
}

func machineInfo() machine {
	m := machine{NumCPU: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAvg(), Date: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// cpuSample is the machine's busy and total CPU time and the part of it
// spent by this run (this process, Xvfb, Mosquitto), in clock ticks.
type cpuSample struct {
	at          time.Time
	busy, total int64
	ours        int64         // Xvfb and Mosquitto, in ticks
	selfCPU     time.Duration // this process, from getrusage
}

func readCPU(e *env) cpuSample {
	s := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			s.total += n
			if i != 3 && i != 4 { // idle, iowait
				s.busy += n
			}
		}
	}
	for _, pid := range e.pids {
		s.ours += procTicks(pid)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.selfCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

// clockTicks is USER_HZ, the unit of /proc/*/stat times: 100 on Linux.
const clockTicks = 100

// benchCPU is the CPU time this process and its helpers used between a
// and b.
func benchCPU(a, b cpuSample) time.Duration {
	return b.selfCPU - a.selfCPU + time.Duration(b.ours-a.ours)*time.Second/clockTicks
}

func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may contain spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// cpuUse says how busy the machine was between two samples, in CPUs.
type cpuUse struct {
	Seconds     float64 `json:"seconds"`
	BusyCPUs    float64 `json:"busy_cpus"`
	BenchCPUs   float64 `json:"bench_cpus"`
	OthersCPUs  float64 `json:"others_cpus"`
	MachineCPUs int     `json:"machine_cpus"`
}

func cpuShare(a, b cpuSample) cpuUse {
	total := float64(b.total - a.total)
	n := runtime.NumCPU()
	u := cpuUse{Seconds: b.at.Sub(a.at).Seconds(), MachineCPUs: n}
	if total <= 0 {
		return u
	}
	u.BusyCPUs = float64(b.busy-a.busy) / total * float64(n)
	u.BenchCPUs = benchCPU(a, b).Seconds() / b.at.Sub(a.at).Seconds()
	u.OthersCPUs = math.Max(0, u.BusyCPUs-u.BenchCPUs)
	return u
}

type maxRateStep struct {
	Rate       float64          `json:"rate"`
	Panels     int              `json:"panels"`
	E2E        summary          `json:"e2e"`
	GenLateP99 float64          `json:"generator_late_p99_ms"`
	Pass       bool             `json:"pass"`
	OthersCPUs float64          `json:"others_cpus"`
	Failed     map[string]int64 `json:"failed,omitempty"`
}

type maxRateResult struct {
	Rate  float64       `json:"rate"`
	Note  string        `json:"note"`
	Steps []maxRateStep `json:"steps"`
}

type panelResult struct {
	BundleGzipBytes   int64    `json:"bundle_gzip_bytes"`
	LoadToConnectedMS *float64 `json:"load_to_connected_ms"`
	Source            string   `json:"source"`
	Note              string   `json:"note,omitempty"`
}

// measurePanel runs panel/scripts/measure.mjs when it and node are there;
// else it gzips panel/dist/*.js itself and leaves the load time out.
func measurePanel(ctx context.Context, runJS bool) panelResult {
	const script = "panel/scripts/measure.mjs"
	var why string
	if _, err := os.Stat(script); err != nil {
		why = script + " not found"
	} else if _, err := exec.LookPath("node"); err != nil {
		why = "node not installed"
	} else if !runJS {
		why = "skipped with -quick"
	} else {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(cctx, "node", script).Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var r struct {
			Bundle  int64    `json:"bundle_gzip_bytes"`
			Load    *float64 `json:"load_to_connected_ms"`
			Skipped string   `json:"skipped"`
			Error   string   `json:"error"`
		}
		if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r); jerr == nil && r.Bundle > 0 {
			p := panelResult{BundleGzipBytes: r.Bundle, LoadToConnectedMS: r.Load, Source: script}
			if r.Load == nil {
				p.Note = strings.TrimSpace("load time not measured: " + r.Skipped + " " + r.Error)
			}
			return p
		}
		why = fmt.Sprintf("%s failed: %v", script, err)
	}
	p := panelResult{Source: "gzip of panel/dist/*.js", Note: "load time not measured: " + why}
	files, _ := filepath.Glob("panel/dist/*.js")
	for _, f := range files {
		p.BundleGzipBytes += gzipSize(f)
	}
	return p
}

func gzipSize(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var c countWriter
	zw, _ := gzip.NewWriterLevel(&c, gzip.BestCompression)
	_, _ = io.Copy(zw, f)
	_ = zw.Close()
	return int64(c)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// report gathers a run's results.
type report struct {
	cfg     config
	Machine machine           `json:"machine"`
	Rounds  int               `json:"rounds"`
	Quick   bool              `json:"quick"`
	Seconds float64           `json:"seconds"`
	Systems map[string]string `json:"systems"`
	CPU     cpuUse            `json:"cpu_during_latency_runs"`
	Scenes  []string          `json:"scenarios"`
	cells   map[string]map[string][]*cellResult
	Latency map[string]map[string]sceneResult `json:"latency"`
	floor   []*floorResult
	Floor   map[string]summary        `json:"floor"`
	Ratios  []ratio                   `json:"ratios"`
	Targets []target                  `json:"targets"`
	Typing  map[string][]typingResult `json:"typing"`
	MaxRate map[string]maxRateResult  `json:"max_rate_p99_under_5ms"`
	Tokens  *tokenResult              `json:"tokens"`
	Conns   *connResult               `json:"connections"`
	Panel   panelResult               `json:"panel"`
	Windows *windowsResult            `json:"windows,omitempty"`
	// Repeated lists the cells run again because other processes used
	// more than disturbedCPUs while they ran.
	Repeated []string `json:"repeated"`
}

// disturbedCPUs is how much CPU other processes may use during a cell
// before the cell is run again (at most twice). The choice depends only
// on what others did, never on the latencies measured.
const disturbedCPUs = 0.5

// disturbed reports whether a cell should run again and records it.
func (r *report) disturbed(what string, u cpuUse, attempt int) bool {
	if u.OthersCPUs <= disturbedCPUs || attempt >= 2 {
		return false
	}
	r.Repeated = append(r.Repeated, fmt.Sprintf("%s (others %.2f CPUs)", what, u.OthersCPUs))
	fmt.Printf("  %s: other processes used %.2f CPUs; running it again\n", what, u.OthersCPUs)
	return true
}

type sceneResult struct {
	E2E      summary          `json:"e2e"`
	Reply    summary          `json:"reply"`
	GenLate  summary          `json:"generator_late"`
	PerRound []summary        `json:"e2e_per_round"`
	Failed   map[string]int64 `json:"failed,omitempty"`
	Stray    int64            `json:"stray"`
	// CPUPerCmd is the CPU time of the whole bench (panels, broker, agent,
	// X server, watcher, Mosquitto) per command, in microseconds: a figure
	// other processes on a shared machine barely move.
	CPUPerCmd  float64   `json:"cpu_us_per_cmd"`
	OthersCPUs []float64 `json:"others_cpus_per_round"`
	e2e        *hist
	reply      *hist
	late       *hist
}

type ratio struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"name"` // "A/B"
	P50      float64   `json:"p50"`
	P99      float64   `json:"p99"`
	P50Round []float64 `json:"p50_per_round"`
	P99Round []float64 `json:"p99_per_round"`
	// P50Med and P99Med are the medians of the per-round ratios: each
	// round's cells ran minutes apart at most, so a burst of load from
	// other processes hits one round, not the comparison. The targets
	// are judged on these.
	P50Med float64 `json:"p50_median_of_rounds"`
	P99Med float64 `json:"p99_median_of_rounds"`
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (rt *ratio) finish() {
	rt.P50Med, rt.P99Med = median(rt.P50Round), median(rt.P99Round)
}

type target struct {
	What   string `json:"what"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
	Margin string `json:"margin"`
}

func newReport(cfg config, m machine) *report {
	return &report{
		cfg: cfg, Machine: m, Rounds: cfg.rounds, Quick: cfg.quick,
		cells:   map[string]map[string][]*cellResult{},
		Latency: map[string]map[string]sceneResult{},
		Typing:  map[string][]typingResult{},
		MaxRate: map[string]maxRateResult{},
		Systems: map[string]string{},
	}
}

func (r *report) addCell(scene, sys string, c *cellResult) {
	if r.cells[scene] == nil {
		r.cells[scene] = map[string][]*cellResult{}
		r.Scenes = append(r.Scenes, scene)
	}
	r.cells[scene][sys] = append(r.cells[scene][sys], c)
}

func (r *report) addFloor(f *floorResult) { r.floor = append(r.floor, f) }

func (r *report) addTyping(sys string, t typingResult) { r.Typing[sys] = append(r.Typing[sys], t) }

var sysOrder = []string{"A", "B", "C", "D"}

// pool merges the rounds and computes the ratios and targets.
func (r *report) pool() {
	for _, scene := range r.Scenes {
		r.Latency[scene] = map[string]sceneResult{}
		for _, s := range sysOrder {
			cs := r.cells[scene][s]
			if len(cs) == 0 {
				continue
			}
			sr := sceneResult{e2e: newHist(), reply: newHist(), late: newHist(), Failed: map[string]int64{}}
			var cpu time.Duration
			var n int64
			for _, c := range cs {
				sr.e2e.merge(c.e2e)
				sr.reply.merge(c.reply)
				sr.late.merge(c.late)
				sr.PerRound = append(sr.PerRound, c.e2e.summary())
				for k, v := range c.failed {
					sr.Failed[k] += v
				}
				sr.Stray += c.stray
				sr.OthersCPUs = append(sr.OthersCPUs, math.Round(c.cpu.OthersCPUs*100)/100)
				cpu += c.benchCPU
				n += c.sent
			}
			if n > 0 {
				sr.CPUPerCmd = float64(cpu.Microseconds()) / float64(n)
			}
			sr.E2E, sr.Reply, sr.GenLate = sr.e2e.summary(), sr.reply.summary(), sr.late.summary()
			r.Latency[scene][s] = sr
		}
	}
	half, xt, sum := newHist(), newHist(), newHist()
	for _, f := range r.floor {
		half.merge(f.halfRTT)
		xt.merge(f.xtest)
		sum.merge(f.sum)
	}
	r.Floor = map[string]summary{"half_wss_rtt": half.summary(), "xtest_delivery": xt.summary(), "floor": sum.summary()}

	for _, scene := range r.Scenes {
		for _, other := range []string{"B", "C", "D"} {
			r.Ratios = append(r.Ratios, r.ratioOf(scene, "A", other))
		}
	}
	if fl := r.Floor["floor"]; fl.N > 0 {
		a := r.Latency["sparse"]["A"]
		rt := ratio{Scenario: "sparse", Name: "A/floor", P50: a.E2E.P50 / fl.P50, P99: a.E2E.P99 / fl.P99}
		for i, f := range r.floor {
			if i < len(a.PerRound) {
				fs := f.sum.summary()
				rt.P50Round = append(rt.P50Round, a.PerRound[i].P50/fs.P50)
				rt.P99Round = append(rt.P99Round, a.PerRound[i].P99/fs.P99)
			}
		}
		rt.finish()
		r.Ratios = append(r.Ratios, rt)
	}
	r.targets()
}

func (r *report) ratioOf(scene, a, b string) ratio {
	ra, rb := r.Latency[scene][a], r.Latency[scene][b]
	rt := ratio{Scenario: scene, Name: a + "/" + b}
	if rb.E2E.P50 > 0 {
		rt.P50, rt.P99 = ra.E2E.P50/rb.E2E.P50, ra.E2E.P99/rb.E2E.P99
	}
	for i := range min(len(ra.PerRound), len(rb.PerRound)) {
		if rb.PerRound[i].P50 > 0 {
			rt.P50Round = append(rt.P50Round, ra.PerRound[i].P50/rb.PerRound[i].P50)
			rt.P99Round = append(rt.P99Round, ra.PerRound[i].P99/rb.PerRound[i].P99)
		}
	}
	rt.finish()
	return rt
}

func (r *report) findRatio(scene, name string) ratio {
	for _, rt := range r.Ratios {
		if rt.Scenario == scene && rt.Name == name {
			return rt
		}
	}
	return ratio{}
}

func (r *report) targets() {
	add := func(what, want, got string, met bool, margin string) {
		r.Targets = append(r.Targets, target{What: what, Want: want, Got: got, Met: met, Margin: margin})
	}
	ratioT := func(what string, got, limit float64) {
		add(what, fmt.Sprintf("≤ %.1fx", limit), fmt.Sprintf("%.2fx", got), got <= limit && got > 0, pct(got, limit))
	}
	fl := r.findRatio("sparse", "A/floor")
	ratioT("A/floor p50 (sparse)", fl.P50Med, 4)
	ratioT("A/floor p99 (sparse)", fl.P99Med, 10)
	a := r.Latency["sparse"]["A"].E2E
	add("A e2e p99, sparse", "< 5 ms", fmt.Sprintf("%.2f ms", a.P99), a.P99 < 5 && a.N > 0, pct(a.P99, 5))
	for _, scene := range r.Scenes {
		ab := r.findRatio(scene, "A/B")
		ratioT("A/B p50 ("+scene+")", ab.P50Med, 1.1)
		ratioT("A/B p99 ("+scene+")", ab.P99Med, 1.2)
	}
	for _, scene := range r.Scenes {
		ac := r.findRatio(scene, "A/C")
		ratioT("A/C p50 ("+scene+")", ac.P50Med, 1.5)
		ratioT("A/C p99 ("+scene+")", ac.P99Med, 1.5)
	}
	if d, ok := r.Latency["5000/s"]["D"]; ok {
		add("D at 5,000/s from 10 panels: p99, drops", "< 5 ms, 0", fmt.Sprintf("%.2f ms, %d", d.E2E.P99, d.E2E.Drops), d.E2E.P99 < 5 && d.E2E.Drops == 0 && d.E2E.N > 0, pct(d.E2E.P99, 5))
	}
	if mr, ok := r.MaxRate["D"]; ok {
		add("D highest rate with p99 < 5 ms, no drops", "≥ 5,000/s", fmt.Sprintf("%.0f/s", mr.Rate), mr.Rate >= 5000, pct(5000, math.Max(mr.Rate, 1)))
	}
	minType, intact := math.Inf(1), true
	for _, ts := range r.Typing["A"] {
		minType = math.Min(minType, ts.CharsPerSec)
		intact = intact && ts.Intact
	}
	if len(r.Typing["A"]) > 0 {
		add("A typing (slowest round), all intact", "≥ 1,000 chars/s", fmt.Sprintf("%.0f chars/s, intact %v", minType, intact), minType >= 1000 && intact, pct(1000, minType))
	}
	if d, a := r.Latency["sparse"]["D"], r.Latency["sparse"]["A"]; d.Reply.N > 0 {
		q := a.Reply.P50 / d.Reply.P50
		add("issue 3: tap reply p50 A/D (sparse)", "≤ 2x", fmt.Sprintf("%.2fx", q), q <= 2, pct(q, 2))
		add("issue 3: tap reply p99 A (sparse)", "< 3 ms", fmt.Sprintf("%.2f ms", a.Reply.P99), a.Reply.P99 < 3, pct(a.Reply.P99, 3))
	}
	if c := r.Conns; c != nil && len(c.Memory) > 0 {
		worst := 0.0
		for _, m := range c.Memory {
			worst = math.Max(worst, m.RSSPerClientKiB)
		}
		last := c.Memory[len(c.Memory)-1]
		add(fmt.Sprintf("%d idle WSS clients: RSS per client (worst level)", last.Clients), "< 100 KiB", fmt.Sprintf("%.1f KiB", worst), worst < 100 && last.Connected == last.Clients, pct(worst, 100))
		add(fmt.Sprintf("%d clients connect at once", c.Burst.Clients), "all within 20 s", fmt.Sprintf("%d of %d in %.2f s", c.Burst.Connected, c.Burst.Clients, c.Burst.Seconds),
			c.Burst.Failed == 0 && c.Burst.Seconds < 20, pct(c.Burst.Seconds, 20))
	}
}

// pct says how far got is from the limit: negative is under it.
func pct(got, limit float64) string {
	if limit == 0 || got == 0 {
		return ""
	}
	return fmt.Sprintf("%+.0f%%", (got/limit-1)*100)
}

func (r *report) write(cfg config) error {
	r.pool()
	// Raw histograms.
	hdir := filepath.Join(cfg.out, "hist")
	if err := os.MkdirAll(hdir, 0o755); err != nil {
		return err
	}
	name := func(scene string) string { return strings.ReplaceAll(scene, "/", "per") }
	for _, scene := range r.Scenes {
		for s, sr := range r.Latency[scene] {
			for kind, h := range map[string]*hist{"e2e": sr.e2e, "reply": sr.reply, "genlate": sr.late} {
				if err := h.writeFiles(filepath.Join(hdir, fmt.Sprintf("%s_%s_%s", name(scene), s, kind))); err != nil {
					return err
				}
			}
		}
	}
	half, xt, sum := newHist(), newHist(), newHist()
	for _, f := range r.floor {
		half.merge(f.halfRTT)
		xt.merge(f.xtest)
		sum.merge(f.sum)
	}
	for n, h := range map[string]*hist{"floor_half_wss_rtt": half, "floor_xtest": xt, "floor_sum": sum} {
		if err := h.writeFiles(filepath.Join(hdir, n)); err != nil {
			return err
		}
	}
	if r.Conns != nil {
		_ = r.Conns.connectHist.writeFiles(filepath.Join(hdir, "connect_idle"))
		_ = r.Conns.burstHist.writeFiles(filepath.Join(hdir, "connect_burst"))
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "summary.json"), js, 0o644); err != nil {
		return err
	}
	md := r.markdown()
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(md)

	// The plot: one panel per scenario, one curve per system.
	colors := map[string]series{
		"A": {label: "A mfd", col: colA}, "B": {label: "B bare mochi", col: colB},
		"C": {label: "C Mosquitto", col: colC}, "D": {label: "D mfd, no injection", col: colD},
	}
	var panels []panelPlot
	for _, scene := range r.Scenes {
		pp := panelPlot{title: sceneTitle(scene)}
		for _, s := range sysOrder {
			sr, ok := r.Latency[scene][s]
			if !ok {
				continue
			}
			se := colors[s]
			se.pts = sr.e2e.curve()
			se.label += fmt.Sprintf(" (n %d, drops %d)", sr.E2E.N, sr.E2E.Drops)
			pp.series = append(pp.series, se)
		}
		if scene == "sparse" {
			pp.series = append(pp.series, series{label: fmt.Sprintf("floor: half WSS RTT + XTest (n %d)", sum.count()), col: colFloor, dashed: true, pts: sum.curve()})
		}
		panels = append(panels, pp)
	}
	title := fmt.Sprintf("key tap, panel send to KeyPress at another X client (open loop, %d rounds) - %s, %d CPUs", r.Rounds, r.Machine.CPU, r.Machine.NumCPU)
	png := filepath.Join(cfg.out, "latency.png")
	if err := plotPercentiles(png, title, panels, 2); err != nil {
		return err
	}
	fmt.Println("wrote", cfg.out+"/{summary.json,results.md,latency.png,hist/}")
	if cfg.pngCopy != "" {
		b, err := os.ReadFile(png)
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.pngCopy, b, 0o644); err != nil {
			return err
		}
		fmt.Println("copied the plot to", cfg.pngCopy)
	}
	return nil
}

func sceneTitle(s string) string {
	if s == "sparse" {
		return "sparse: 10/s each, gaps 20-180 ms, all interleaved"
	}
	return s + " evenly spaced"
}

func cpuCell(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Command latency, end to end (ms), %d interleaved rounds pooled\n\n", r.Rounds)
	b.WriteString("Intended send time at the panel to KeyPress seen by another X client (A, B, C) or to the recording injector (D); reply = to the agent's reply at the panel.\n\n")
	b.WriteString("| load | sys | n | drops | p50 | p90 | p99 | p99.9 | max | reply p50 | reply p99 | gen. late p99 | CPU µs/cmd | others' CPUs per round |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, scene := range r.Scenes {
		for _, s := range sysOrder {
			sr, ok := r.Latency[scene][s]
			if !ok {
				continue
			}
			e := sr.E2E
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", scene, s, e.N, e.Drops,
				f3(e.P50), f3(e.P90), f3(e.P99), f3(e.P999), f3(e.Max), f3(sr.Reply.P50), f3(sr.Reply.P99), f3(sr.GenLate.P99), cpuCell(sr.CPUPerCmd), rounds(sr.OthersCPUs))
		}
	}
	for _, k := range []string{"half_wss_rtt", "xtest_delivery", "floor"} {
		f := r.Floor[k]
		fmt.Fprintf(&b, "| sparse | floor: %s | %d | %d | %s | %s | %s | %s | %s | | | | | |\n", k, f.N, f.Drops, f3(f.P50), f3(f.P90), f3(f.P99), f3(f.P999), f3(f.Max))
	}
	b.WriteString("\n### Ratios: median of the per-round ratios (per round; pooled)\n\n| load | ratio | p50 | p50 per round | p50 pooled | p99 | p99 per round | p99 pooled |\n| --- | --- | ---: | --- | ---: | ---: | --- | ---: |\n")
	for _, rt := range r.Ratios {
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s | %.2f | %.2f | %s | %.2f |\n", rt.Scenario, rt.Name, rt.P50Med, rounds(rt.P50Round), rt.P50, rt.P99Med, rounds(rt.P99Round), rt.P99)
	}
	b.WriteString("\n### Targets (ratios: median of rounds)\n\n| target | want | got | met | vs. limit |\n| --- | --- | --- | --- | ---: |\n")
	for _, t := range r.Targets {
		met := "met"
		if !t.Met {
			met = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.What, t.Want, t.Got, met, t.Margin)
	}
	b.WriteString("\n### Highest rate with p99 < 5 ms and no drops\n\n| sys | rate | steps (rate: p99 ms, drops, generator late p99 ms) |\n| --- | ---: | --- |\n")
	for _, s := range []string{"D", "A"} {
		mr, ok := r.MaxRate[s]
		if !ok {
			continue
		}
		var st []string
		for _, x := range mr.Steps {
			st = append(st, fmt.Sprintf("%.0f: %.2f, %d, %.2f", x.Rate, x.E2E.P99, x.E2E.Drops, x.GenLateP99))
		}
		fmt.Fprintf(&b, "| %s | %.0f/s | %s (%s) |\n", s, mr.Rate, strings.Join(st, "; "), mr.Note)
	}
	b.WriteString("\n### Typing (text.type, every character read back at the X server)\n\n| sys | chars per command | chars/s per round | intact |\n| --- | ---: | --- | --- |\n")
	for _, s := range []string{"A", "B", "C"} {
		var cps []string
		intact := true
		n := 0
		for _, t := range r.Typing[s] {
			cps = append(cps, fmt.Sprintf("%.0f", t.CharsPerSec))
			intact = intact && t.Intact
			n = t.Chars
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %v |\n", s, n, strings.Join(cps, ", "), intact)
	}
	if c := r.Conns; c != nil {
		b.WriteString("\n### Connections (server in its own process, WSS, token per CONNECT)\n\n")
		fmt.Fprintf(&b, "- connect to CONNACK, one at a time: p50 %s ms, p99 %s ms, max %s ms (n %d)\n", f3(c.Connect.P50), f3(c.Connect.P99), f3(c.Connect.Max), c.Connect.N)
		fmt.Fprintf(&b, "- %d at once (%d dialing at a time): %d connected in %.2f s, %d failed %s; connect to CONNACK p50 %s ms, p99 %s ms\n",
			c.Burst.Clients, c.Burst.Concurrency, c.Burst.Connected, c.Burst.Seconds, c.Burst.Failed, c.Burst.FirstError, f3(c.ConnectBurst.P50), f3(c.ConnectBurst.P99))
		b.WriteString("\n| idle clients | connected | server RSS | RSS per client | Go heap+stacks per client | goroutines |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, m := range c.Memory {
			fmt.Fprintf(&b, "| %d | %d | %.1f MiB | %.1f KiB | %.1f KiB | %d |\n", m.Clients, m.Connected, float64(m.RSSKiB)/1024, m.RSSPerClientKiB, m.GoPerClientKiB, m.Goroutines)
		}
	}
	if t := r.Tokens; t != nil {
		b.WriteString("\n### Token work\n\n")
		fmt.Fprintf(&b, "- POST /authorise for an approved client (signs a fresh ES256 token), HTTPS keep-alive: %.0f/s with %d workers, %.0f/s with one (%d errors)\n", t.AuthorisePerSec, t.AuthoriseWorkers, t.AuthorisePerSec1, t.AuthoriseErrors)
		fmt.Fprintf(&b, "- token checks (authsvc.Authenticate, ES256 verify + claims + client state): %.0f/s on %d goroutines\n", t.AuthenticatePerSec, t.AuthenticateCPUs)
	}
	if r.Windows != nil {
		b.WriteString(r.Windows.markdown())
	}
	b.WriteString("\n### Panel\n\n")
	if r.Panel.LoadToConnectedMS != nil {
		fmt.Fprintf(&b, "- bundle %d bytes gzipped; load to connected %.0f ms (%s)\n", r.Panel.BundleGzipBytes, *r.Panel.LoadToConnectedMS, r.Panel.Source)
	} else {
		fmt.Fprintf(&b, "- bundle %d bytes gzipped (%s); %s\n", r.Panel.BundleGzipBytes, r.Panel.Source, r.Panel.Note)
	}
	b.WriteString("\n### Machine during the latency runs\n\n")
	fmt.Fprintf(&b, "- %s; %d CPUs; %s; Linux %s; %s; load average before %s, after %s\n", r.Machine.CPU, r.Machine.NumCPU, r.Machine.Memory, r.Machine.Kernel, r.Machine.Go, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(&b, "- over %.0f s: the machine was busy %.2f of %d CPUs on average, this bench (with Xvfb and Mosquitto) %.2f, other processes %.2f\n",
		r.CPU.Seconds, r.CPU.BusyCPUs, r.CPU.MachineCPUs, r.CPU.BenchCPUs, r.CPU.OthersCPUs)
	fmt.Fprintf(&b, "- cells run again because other processes used more than %.1f CPUs meanwhile (at most twice each; the last run counts): %d", disturbedCPUs, len(r.Repeated))
	if len(r.Repeated) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(r.Repeated, "; "))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- whole run: %.0f s\n", r.Seconds)
	return b.String()
}

func rounds(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	s := slices.Clone(v)
	var parts []string
	for _, x := range s {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
