package main

import (
	"context"
	"image/png"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
)

func TestHistPercentiles(t *testing.T) {
	h := newHist()
	// 1..1000 µs: the p-th percentile is p*10 µs.
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	h.drop(3)
	s := h.summary()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50, 0.500}, {"p90", s.P90, 0.900}, {"p99", s.P99, 0.990},
		{"p99.9", s.P999, 0.999}, {"max", s.Max, 1.000}, {"mean", s.Mean, 0.5005},
	} {
		if math.Abs(c.got-c.want)/c.want > 0.002 {
			t.Errorf("%s = %.4f ms, want %.4f ms within 0.2%%", c.name, c.got, c.want)
		}
	}
	if s.N != 1000 || s.Drops != 3 {
		t.Errorf("n, drops = %d, %d, want 1000, 3", s.N, s.Drops)
	}
	// Out of range values are clamped, not lost.
	h2 := newHist()
	h2.record(0)
	h2.record(2 * time.Minute)
	if s := h2.summary(); s.N != 2 || s.Max < 59_000 {
		t.Errorf("clamped summary = %+v, want n 2 and max near 60 s", s)
	}
	// Merging adds samples and drops.
	m := newHist()
	m.merge(h)
	m.merge(h2)
	if s := m.summary(); s.N != 1002 || s.Drops != 3 {
		t.Errorf("merged n, drops = %d, %d, want 1002, 3", s.N, s.Drops)
	}
	// The plot's curve rises and ends at the maximum.
	c := h.curve()
	for i := 1; i < len(c); i++ {
		if c[i][0] < c[i-1][0] || c[i][1] < c[i-1][1] {
			t.Fatalf("curve not monotone at %d: %v then %v", i, c[i-1], c[i])
		}
	}
	if last := c[len(c)-1]; last[0] < 99.8 || math.Abs(last[1]-1e6)/1e6 > 0.002 {
		t.Errorf("curve ends at %v, want (100, 1 ms)", last)
	}
	if newHist().summary().N != 0 || newHist().curve() != nil {
		t.Errorf("an empty histogram reports samples")
	}
}

func TestHistFiles(t *testing.T) {
	h := newHist()
	for i := range 100 {
		h.record(time.Duration(i+1) * time.Millisecond)
	}
	base := filepath.Join(t.TempDir(), "x")
	if err := h.writeFiles(base); err != nil {
		t.Fatal(err)
	}
	hgrm, err := os.ReadFile(base + ".hgrm")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hgrm), "#[Max     =      100.") || !strings.Contains(string(hgrm), "#[Drops = 0]") {
		t.Errorf(".hgrm lacks the max or the drops:\n%s", hgrm)
	}
	if enc, err := os.ReadFile(base + ".hdr"); err != nil || !strings.HasPrefix(string(enc), "HISTF") {
		t.Errorf(".hdr = %.20q, %v, want a base64 HdrHistogram", enc, err)
	}
}

func TestPlot(t *testing.T) {
	h := newHist()
	for i := range 1000 {
		h.record(time.Duration(100+i) * time.Microsecond)
	}
	path := filepath.Join(t.TempDir(), "p.png")
	err := plotPercentiles(path, "test", []panelPlot{{title: "one", series: []series{{label: "A", col: colA, pts: h.curve()}}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Some pixel carries the curve's colour.
	found := false
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == uint32(colA.R) && g>>8 == uint32(colA.G) && bl>>8 == uint32(colA.B) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Errorf("no pixel of the curve's colour in the plot")
	}
}

// tapSink routes a recording injector's taps to the run in progress.
type tapSink struct{ cur atomic.Pointer[loadRun] }

func (s *tapSink) set(r *loadRun) { s.cur.Store(r) }
func (s *tapSink) onTap(key string, at time.Time) {
	if r := s.cur.Load(); r != nil && len(key) == 1 {
		if k := strings.IndexByte(keyNames, key[0]); k >= 0 {
			r.observe(srcRec, k, at)
		}
	}
}

// startTestD starts system D in process: the real auth service, broker and
// agent over WSS on loopback, with a recording injector.
func startTestD(t *testing.T, delay time.Duration, panels int) (*system, *tapSink) {
	t.Helper()
	ctx := t.Context()
	m, err := startMFD(ctx, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	d := &system{name: "D", host: ids.NewHostID(), rec: &recInjector{delay: delay},
		dial: func(ctx context.Context) (net.Conn, error) { return dialWS(ctx, m.wsURL(), m.tc) }}
	for i := range panels {
		p, err := m.pairPanel(ctx, "test panel")
		if err != nil {
			t.Fatalf("pairing panel %d: %v", i, err)
		}
		d.panels = append(d.panels, p)
	}
	if d.ag, err = m.localAgent(ctx, d.host, d.rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.ag.Close() })
	sk := &tapSink{}
	d.rec.setOnTap(sk.onTap)
	return d, sk
}

// TestInjectedDelayIsMeasured proves the bench measures the path it claims
// to: the injector sleeps 2 ms, before it records the tap, for every other
// command (odd ones), and the odd commands' measured latency is 2 ms more
// than the even ones' in the same run, every command matched and nothing
// counted that did not arrive. Pairing within one run keeps the check
// steady on a busy machine and under the race detector.
func TestInjectedDelayIsMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	const delay = 2 * time.Millisecond
	sys, sk := startTestD(t, delay, 1)
	// seq s taps keyNames[s%36]; 36 is even, so odd keys are odd seqs.
	sys.rec.delayKey = func(key string) bool { return strings.IndexByte(keyNames, key[0])%2 == 1 }
	rng := rand.New(rand.NewPCG(1, 2))
	spec := sparseSpec(10*time.Second, rng)
	spec.intended = spec.intended[:60]
	spec.panel = spec.panel[:60]
	for i := range spec.intended { // 25 ms apart: no command waits for another
		spec.intended[i] = time.Duration(i) * 25 * time.Millisecond
	}
	res, err := runLoad(t.Context(), sys, sk, spec, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.e2e.summary(); s.N != 60 || s.Drops != 0 || res.stray != 0 {
		t.Fatalf("n %d drops %d stray %d, want all 60 commands matched", s.N, s.Drops, res.stray)
	}
	even, odd := newHist(), newHist()
	for i, l := range res.lat {
		if i%2 == 0 {
			even.record(l)
		} else {
			odd.record(l)
		}
	}
	e, o := even.summary().P50, odd.summary().P50
	t.Logf("p50 without delay %.3f ms, with %v %.3f ms: +%.3f ms", e, delay, o, o-e)
	if o < 2 {
		t.Errorf("with a %v injector delay, p50 = %.3f ms, below the delay itself", delay, o)
	}
	if d := o - e; d < 1.7 || d > 2.7 {
		t.Errorf("p50 moved by %.3f ms for a %v delay, want about 2 ms", d, delay)
	}
}

// TestNothingObservedIsAllDrops: when presses never reach the observer,
// the bench reports every command as dropped, not as fast.
func TestNothingObservedIsAllDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	sys, _ := startTestD(t, 0, 2)
	sys.rec.setOnTap(nil) // the observer is deaf
	spec := rateSpec("200/s", 200, 250*time.Millisecond, 2)
	res, err := runLoad(t.Context(), sys, &tapSink{}, spec, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s := res.e2e.summary()
	if s.N != 0 || s.Drops != int64(len(spec.intended)) {
		t.Errorf("n %d drops %d, want 0 and %d", s.N, s.Drops, len(spec.intended))
	}
	// The replies still arrive: the agent ran every command.
	if r := res.reply.summary(); r.N != int64(len(spec.intended)) {
		t.Errorf("replies n %d drops %d, want %d answered", r.N, r.Drops, len(spec.intended))
	}
}

// TestOpenLoopCountsGeneratorLateness: a command sent late is measured
// from its intended time, so a stalled sender cannot hide latency.
func TestOpenLoopCountsGeneratorLateness(t *testing.T) {
	r := &loadRun{intended: []int64{int64(time.Millisecond)}, sentAt: make([]int64, 1), seen: make([]int64, 1),
		replied: make([]int64, 1), failed: make([]string, 1)}
	r.base = time.Now()
	r.fifo[srcX][0] = []int32{0}
	r.observe(srcX, 0, r.base.Add(6*time.Millisecond))
	if got := time.Duration(r.seen[0] - r.intended[0]); got != 5*time.Millisecond {
		t.Errorf("latency = %v, want 5ms from the intended time", got)
	}
	r.observe(srcX, 0, r.base.Add(7*time.Millisecond))
	if r.stray != 1 {
		t.Errorf("a press with no outstanding command was not counted as stray")
	}
}
