// Command mfdbench runs mfd's benchmarks side by side (issue 6): mfd as
// shipped (A), bare mochi with the same agent (B), Mosquitto with the same
// agent (C) and mfd with a recording injector (D), interleaved in rounds,
// against the floor (half a WSS round trip plus XTest delivery) measured
// in the same run. It starts everything itself on 127.0.0.1 (Xvfb,
// Mosquitto, the servers), prints a table and writes HDR histograms, a
// JSON summary and a percentile plot into -out. Its Windows row measures
// the Windows input backend against robotgo under Wine (windows.go).
//
//	go run ./cmd/mfdbench [-quick] [-out bench-out] [-rounds 3]
//	go run ./cmd/mfdbench -windows-only [-windows-rounds 3]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/openmfd/mfd/internal/xtest"
)

type config struct {
	quick     bool
	rounds    int
	out       string
	pngCopy   string
	sparse    time.Duration // per sparse cell
	dense     time.Duration // per dense cell
	rates     []float64     // dense rates
	panels    int           // panels for dense rates
	stepDur   time.Duration // per max-rate step
	maxRates  []float64
	connLvls  []int
	seqConns  int
	typeChars int
	tokenDur  time.Duration
	panelJS   bool
	only      string
	windows   int // rounds of the Windows row; 0 skips it
	winOnly   bool
}

func main() {
	var (
		quick       = flag.Bool("quick", false, "a run of about a minute: two short rounds, up to 1,000 clients, no browser")
		rounds      = flag.Int("rounds", 0, "interleaved rounds (default 5, 2 with -quick)")
		out         = flag.String("out", "bench-out", "directory for histograms, summary.json and latency.png")
		pngCopy     = flag.String("png-copy", "", "copy latency.png here (default docs/bench-latency.png, none with -quick)")
		cpuprofile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
		mutexprof   = flag.String("mutexprofile", "", "write a mutex contention profile of the whole run here")
		skipConns   = flag.Bool("skip-conns", false, "skip the connection bench")
		cell        = flag.String("cell", "", "run only one load, SYS:RATE:DURATION (e.g. A:5000:5s), for profiling with -cpuprofile")
		childServer = flag.Bool("child-server", false, "internal: run the connection bench's server")
		childDir    = flag.String("child-dir", "", "internal: state dir of -child-server")
		childPanels = flag.Int("child-panels", 10, "internal: panels -child-server pairs")
		winRounds   = flag.Int("windows-rounds", 3, "rounds of the Windows row (input under Wine); 0 skips it")
		winOnly     = flag.Bool("windows-only", false, "run only the Windows row")
	)
	flag.Parse()
	if *childServer {
		if err := runChildServer(*childDir, *childPanels); err != nil {
			fmt.Fprintln(os.Stderr, "mfdbench child:", err)
			os.Exit(1)
		}
		return
	}
	cfg := config{
		quick: *quick, rounds: 5, out: *out, pngCopy: "docs/bench-latency.png",
		sparse: 10 * time.Second, dense: 2500 * time.Millisecond, rates: []float64{100, 1000, 5000}, panels: 10,
		stepDur:  2 * time.Second,
		maxRates: []float64{500, 1000, 2000, 3000, 5000, 7000, 10000, 14000},
		connLvls: []int{100, 1000, 5000}, seqConns: 200, typeChars: 2000, tokenDur: 2 * time.Second, panelJS: true,
	}
	if cfg.quick {
		cfg.rounds, cfg.pngCopy = 2, ""
		cfg.sparse, cfg.dense, cfg.stepDur = 2*time.Second, time.Second, time.Second
		cfg.maxRates = []float64{1000, 3000, 5000}
		cfg.connLvls, cfg.seqConns, cfg.typeChars, cfg.tokenDur, cfg.panelJS = []int{100, 1000}, 50, 1000, time.Second, false
	}
	if *rounds > 0 {
		cfg.rounds = *rounds
	}
	if *pngCopy != "" {
		cfg.pngCopy = *pngCopy
	}
	if *skipConns {
		cfg.connLvls = nil
	}
	cfg.only = *cell
	cfg.windows, cfg.winOnly = *winRounds, *winOnly
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *mutexprof != "" {
		runtime.SetMutexProfileFraction(5)
		defer func() {
			if f, err := os.Create(*mutexprof); err == nil {
				_ = pprof.Lookup("mutex").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		pprof.StopCPUProfile()
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mfdbench:", err)
	os.Exit(1)
}

// env is everything a run has started.
type env struct {
	dir     string
	display string
	w       *xWatcher
	kc      [len(keyNames)]byte
	kcIdx   [256]int8
	mfd     *mfdServer
	echo    *echoServer
	sys     map[string]*system
	pids    []int // Xvfb, Mosquitto: for the CPU accounting
	cur     atomic.Pointer[loadRun]
	stopX   func()
	started time.Time
}

// set routes observations to r (nil: nowhere). env is the runs' sink.
func (e *env) set(r *loadRun) { e.cur.Store(r) }

func (e *env) onLoadKey(kc byte, _ uint16, at time.Time) {
	r := e.cur.Load()
	if r == nil {
		return
	}
	if k := e.kcIdx[kc]; k >= 0 {
		r.observe(srcX, int(k), at)
	}
}

func (e *env) onTap(key string, at time.Time) {
	r := e.cur.Load()
	if r == nil || len(key) != 1 {
		return
	}
	if k := strings.IndexByte(keyNames, key[0]); k >= 0 {
		r.observe(srcRec, k, at)
	}
}

func (e *env) close() {
	for _, s := range []string{"A", "B", "C", "D"} {
		if sys := e.sys[s]; sys != nil {
			sys.close()
		}
	}
	if e.mfd != nil {
		e.mfd.close()
	}
	if e.echo != nil {
		e.echo.close()
	}
	if e.w != nil {
		e.w.close()
	}
	if e.stopX != nil {
		e.stopX()
	}
	_ = os.RemoveAll(e.dir)
}

// startXvfb starts a private Xvfb on a display number it picks itself.
func (e *env) startXvfb() error {
	display, cmd, err := xtest.LaunchXvfb()
	if err != nil {
		return fmt.Errorf("%w (is Xvfb installed? sudo apt-get install -y xvfb)", err)
	}
	e.pids = append(e.pids, cmd.Process.Pid)
	e.stopX = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	e.display = display
	return nil
}

func run(ctx context.Context, cfg config) error {
	if cfg.winOnly {
		wr := runWindows(ctx, max(cfg.windows, 1))
		fmt.Print(wr.markdown())
		if wr.Error != "" {
			return errors.New("the Windows row failed")
		}
		return nil
	}
	raiseNoFile()
	e := &env{sys: map[string]*system{}, started: time.Now()}
	for i := range e.kcIdx {
		e.kcIdx[i] = -1
	}
	var err error
	if e.dir, err = os.MkdirTemp("", "mfdbench-"); err != nil {
		return err
	}
	defer e.close()
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	mach := machineInfo()
	fmt.Printf("mfdbench: %s, %d CPUs, %s RAM, Linux %s, %s\n", mach.CPU, mach.NumCPU, mach.Memory, mach.Kernel, mach.Go)
	cpu0 := readCPU(e)

	if err := e.startXvfb(); err != nil {
		return err
	}
	if e.w, err = startWatcher(e.display); err != nil {
		return err
	}
	for k := range keyNames {
		kc, ok := e.w.keycodeOf(xproto.Keysym(keyNames[k]))
		if !ok {
			return fmt.Errorf("no keycode for %q in the X keymap", keyNames[k])
		}
		e.kc[k] = kc
		e.kcIdx[kc] = int8(k)
	}
	e.w.setOnKey(e.onLoadKey)
	maxPanels := cfg.panels
	for _, r := range cfg.maxRates {
		maxPanels = max(maxPanels, panelsFor(r, cfg.panels))
	}
	if err := e.startSystems(ctx, maxPanels); err != nil {
		return err
	}
	e.sys["D"].rec.setOnTap(e.onTap)
	if e.echo, err = startEcho(e.mfd.cert); err != nil {
		return err
	}
	// Agents subscribe in the background; the first cell's warm-up waits
	// for each of them.

	if cfg.only != "" {
		return e.runOneCell(ctx, cfg)
	}
	rep := newReport(cfg, mach)
	for _, s := range []string{"A", "B", "C", "D"} {
		rep.Systems[s] = e.sys[s].desc
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	order := []string{"A", "B", "C", "D"}
	for round := range cfg.rounds {
		fmt.Printf("round %d of %d\n", round+1, cfg.rounds)
		// Sparse: the systems' commands and the floor's samples take turns
		// one by one in one schedule.
		mixOrder := []string{"A", "B", "C", "D", floorSlot}
		var (
			cells map[string]*cellResult
			fl    *floorResult
		)
		for attempt := 0; ; attempt++ {
			var err error
			cells, fl, err = e.runMixed(ctx, mixOrder, mixedSpec(cfg.sparse, len(mixOrder), rng), e.mfd.tc)
			if err != nil {
				return fmt.Errorf("sparse: %w", err)
			}
			if !rep.disturbed("sparse", cells["A"].cpu, attempt) {
				break
			}
		}
		for _, s := range order {
			rep.addCell("sparse", s, cells[s])
			fmt.Printf("  %-7s %s  %s\n", "sparse", s, cellLine(cells[s]))
		}
		rep.addFloor(fl)
		fmt.Printf("  %-7s F  half WSS RTT p50 %.3f  XTest p50 %.3f  sum p50 %.3f p99 %.3f ms\n", "sparse",
			fl.halfRTT.summary().P50, fl.xtest.summary().P50, fl.sum.summary().P50, fl.sum.summary().P99)
		var specs []loadSpec
		for _, rate := range cfg.rates {
			p := cfg.panels
			spin := false
			if rate < 1000 {
				// One panel, 10 ms apart: sleeping, Go's timer would wake
				// the sender about 1 ms late on an idle process.
				p, spin = 1, true
			}
			sp := rateSpec(rateName(rate), rate, cfg.dense, p)
			sp.spin = spin
			specs = append(specs, sp)
		}
		// Dense: one system at a time, A B C D.
		for _, spec := range specs {
			for _, s := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var res *cellResult
				for attempt := 0; ; attempt++ {
					var err error
					res, err = runLoadCPU(ctx, e.sys[s], e, spec, 3*time.Second, func() cpuSample { return readCPU(e) })
					if err != nil {
						return err
					}
					if !rep.disturbed(spec.name+" "+s, res.cpu, attempt) {
						break
					}
				}
				rep.addCell(spec.name, s, res)
				fmt.Printf("  %-7s %s  %s\n", spec.name, s, cellLine(res))
			}
		}
		for _, s := range []string{"A", "B", "C"} {
			tr, err := e.runTyping(ctx, e.sys[s], cfg.typeChars)
			if err != nil {
				return fmt.Errorf("typing on %s: %w", s, err)
			}
			rep.addTyping(s, tr)
			fmt.Printf("  typing  %s  %d chars, intact %v, %.0f chars/s %s\n", s, tr.Chars, tr.Intact, tr.CharsPerSec, tr.Mismatch)
		}
	}

	// The highest rate with p99 under 5 ms and no drops.
	for _, s := range []string{"D", "A"} {
		mr, err := e.maxRate(ctx, e.sys[s], cfg, rep)
		if err != nil {
			return err
		}
		rep.MaxRate[s] = mr
		fmt.Printf("max rate %s: %.0f/s (%s)\n", s, mr.Rate, mr.Note)
	}

	tr := e.runTokens(ctx, cfg.tokenDur)
	rep.Tokens = &tr
	fmt.Printf("tokens: /authorise %.0f/s (%d workers), %.0f/s (1 worker); Authenticate %.0f/s\n", tr.AuthorisePerSec, tr.AuthoriseWorkers, tr.AuthorisePerSec1, tr.AuthenticatePerSec)

	cpu1 := readCPU(e)
	rep.CPU = cpuShare(cpu0, cpu1)

	if cfg.windows > 0 {
		rep.Windows = runWindows(ctx, cfg.windows)
	}

	if len(cfg.connLvls) > 0 {
		cr, err := runConns(ctx, filepath.Join(e.dir, "conns"), cfg.connLvls, cfg.seqConns)
		if err != nil {
			return fmt.Errorf("connection bench: %w", err)
		}
		rep.Conns = cr
		fmt.Printf("connect-to-CONNACK (idle) p50 %.2f p99 %.2f ms; %d clients at once in %.2f s (%d failed)\n",
			cr.Connect.P50, cr.Connect.P99, cr.Burst.Clients, cr.Burst.Seconds, cr.Burst.Failed)
		for _, m := range cr.Memory {
			fmt.Printf("  %5d idle clients: RSS %.1f KiB/client, Go heap+stacks %.1f KiB/client\n", m.Clients, m.RSSPerClientKiB, m.GoPerClientKiB)
		}
	}
	rep.Panel = measurePanel(ctx, cfg.panelJS)
	rep.Machine.LoadAfter = loadAvg()
	rep.Seconds = time.Since(e.started).Seconds()
	return rep.write(cfg)
}

// runOneCell runs the -cell load alone and prints its line.
func (e *env) runOneCell(ctx context.Context, cfg config) error {
	f := strings.Split(cfg.only, ":")
	if len(f) != 3 || e.sys[f[0]] == nil {
		return fmt.Errorf("-cell %q: want SYS:RATE:DURATION, SYS one of A B C D", cfg.only)
	}
	rate, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return fmt.Errorf("-cell rate: %w", err)
	}
	d, err := time.ParseDuration(f[2])
	if err != nil {
		return fmt.Errorf("-cell duration: %w", err)
	}
	spec := rateSpec(rateName(rate), rate, d, panelsFor(rate, cfg.panels))
	res, err := runLoadCPU(ctx, e.sys[f[0]], e, spec, 3*time.Second, func() cpuSample { return readCPU(e) })
	if err != nil {
		return err
	}
	fmt.Printf("%s %s: %s\n", f[0], spec.name, cellLine(res))
	return nil
}

func rateName(r float64) string { return fmt.Sprintf("%.0f/s", r) }

// panelsFor spreads rate over enough panels that none sends more than
// 500 a second, half the agent's per-client limit (1,000/s).
func panelsFor(rate float64, min int) int {
	return max(min, int((rate+499)/500))
}

func cellLine(r *cellResult) string {
	s := r.e2e.summary()
	rp := r.reply.summary()
	l := r.late.summary()
	cpu := 0.0
	if r.sent > 0 && r.benchCPU > 0 {
		cpu = float64(r.benchCPU.Microseconds()) / float64(r.sent)
	}
	line := fmt.Sprintf("n %5d drops %d  p50 %6.3f p99 %6.3f max %7.3f ms | reply p50 %6.3f p99 %6.3f | gen late p99 %.3f | %3.0f µs CPU/cmd, others %.2f CPUs",
		s.N, s.Drops, s.P50, s.P99, s.Max, rp.P50, rp.P99, l.P99, cpu, r.cpu.OthersCPUs)
	if len(r.failed) > 0 {
		line += " failed: " + failedString(r.failed)
	}
	if r.stray > 0 {
		line += fmt.Sprintf(" stray %d", r.stray)
	}
	return line
}

// maxRate steps the rate up until p99 reaches 5 ms or a command is lost,
// then tries once halfway between the last pass and the first failure.
// Each step runs three times (each repeated if other processes disturbed
// it) and passes when the median of the three p99s is under 5 ms and none
// lost a command: on this VM one 10 ms stall of the whole process fails a
// 2 s run by itself, whichever way the rate goes.
func (e *env) maxRate(ctx context.Context, sys *system, cfg config, rep *report) (maxRateResult, error) {
	var mr maxRateResult
	try1 := func(rate float64) (float64, bool, float64, error) {
		p := panelsFor(rate, cfg.panels)
		res, err := runLoadCPU(ctx, sys, e, rateSpec(rateName(rate), rate, cfg.stepDur, p), 3*time.Second, func() cpuSample { return readCPU(e) })
		if err != nil {
			return 0, false, 0, err
		}
		s := res.e2e.summary()
		ok := s.Drops == 0 && s.N > 0 && s.P99 < 5
		mr.Steps = append(mr.Steps, maxRateStep{Rate: rate, Panels: p, E2E: s, GenLateP99: res.late.summary().P99, Pass: ok, Failed: res.failed, OthersCPUs: res.cpu.OthersCPUs})
		fmt.Printf("  max-rate %s %6.0f/s (%d panels): %s pass=%v\n", sys.name, rate, p, cellLine(res), ok)
		return s.P99, s.Drops == 0 && s.N > 0, res.cpu.OthersCPUs, nil
	}
	try := func(rate float64) (bool, error) {
		var p99s []float64
		noDrops := true
		for range 3 {
			for attempt := 0; ; attempt++ {
				p99, complete, others, err := try1(rate)
				if err != nil {
					return false, err
				}
				if !rep.disturbed(fmt.Sprintf("max-rate %s %.0f/s", sys.name, rate), cpuUse{OthersCPUs: others}, attempt) {
					p99s = append(p99s, p99)
					noDrops = noDrops && complete
					break
				}
			}
		}
		ok := noDrops && median(p99s) < 5
		fmt.Printf("  max-rate %s %6.0f/s: median p99 %.3f ms, no drops %v: pass=%v\n", sys.name, rate, median(p99s), noDrops, ok)
		return ok, nil
	}
	fail := 0.0
	for _, r := range cfg.maxRates {
		ok, err := try(r)
		if err != nil {
			return mr, err
		}
		if !ok {
			fail = r
			break
		}
		mr.Rate = r
	}
	if fail > 0 && mr.Rate > 0 {
		mid := (mr.Rate + fail) / 2
		ok, err := try(mid)
		if err != nil {
			return mr, err
		}
		if ok {
			mr.Rate = mid
		}
		mr.Note = fmt.Sprintf("failed at %.0f/s", fail)
	} else if fail == 0 {
		mr.Note = fmt.Sprintf("passed every step up to %.0f/s; the bench did not go higher", mr.Rate)
	} else {
		mr.Note = fmt.Sprintf("failed at the first step, %.0f/s", fail)
	}
	return mr, nil
}

// raiseNoFile raises the soft open-file limit to the hard one: the
// connection bench holds 5,000 sockets here and 5,000 in the server.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
