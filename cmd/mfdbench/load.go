package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openmfd/mfd/internal/wire"
)

// keyNames are the keys the load taps in turn: command seq taps
// keyNames[seq%36], so that the KeyPress for a command can be told apart
// from its 35 neighbours on either side even when panels' commands
// overtake each other on the way.
const keyNames = "abcdefghijklmnopqrstuvwxyz0123456789"

// warmKey is tapped before a run starts; it is not one of keyNames, so a
// late warm-up press is never taken for a measured one.
const warmKey = "space"

// loadSpec is one open-loop schedule: every command's intended send time,
// fixed before the run starts, and which panel sends it.
type loadSpec struct {
	name     string
	panels   int
	intended []time.Duration // sorted
	panel    []int
	// spin makes the sender wait for each intended time by spinning the
	// last 1.5 ms instead of sleeping (the Go timer can wake a sleeping
	// goroutine up to 1 ms late on an idle machine). Used at sparse rates
	// only, where it costs about 1.5% of one core.
	spin bool
}

// sparseSpec is 10 commands a second from one panel, with gaps drawn
// uniformly between 20 and 180 ms, the way people press keys.
func sparseSpec(d time.Duration, rng *rand.Rand) loadSpec {
	s := loadSpec{name: "sparse", panels: 1, spin: true}
	t := 50 * time.Millisecond
	for t < d {
		s.intended = append(s.intended, t)
		s.panel = append(s.panel, 0)
		t += 20*time.Millisecond + time.Duration(rng.Int64N(int64(160*time.Millisecond)))
	}
	return s
}

// rateSpec is rate commands a second in total, evenly spaced, from panels
// panels taking turns.
func rateSpec(name string, rate float64, d time.Duration, panels int) loadSpec {
	s := loadSpec{name: name, panels: panels}
	gap := time.Duration(float64(time.Second) / rate)
	n := int(d / gap)
	for i := range n {
		s.intended = append(s.intended, 50*time.Millisecond+time.Duration(i)*gap)
		s.panel = append(s.panel, i%panels)
	}
	return s
}

// cellResult is one run of one spec on one system.
type cellResult struct {
	e2e   *hist // intended send time to KeyPress seen (or tap recorded)
	reply *hist // intended send time to the reply at the panel
	late  *hist // generator lateness: actual send minus intended
	sent  int64
	// failed counts commands answered ok:false, by error code.
	failed map[string]int64
	stray  int64 // observed presses that matched no command
	wall   time.Duration
	// cpu is how busy the machine was while the schedule ran, and
	// benchCPU the CPU time the bench used meanwhile.
	cpu      cpuUse
	benchCPU time.Duration
	// lat is each command's end-to-end latency; -1 if it was lost.
	lat []time.Duration
}

// loadRun matches observations to commands while a spec runs.
type loadRun struct {
	base     time.Time
	prefix   string
	mu       sync.Mutex
	intended []int64 // ns from base
	sentAt   []int64
	seen     []int64 // 0: not seen
	replied  []int64
	failed   []string
	fifo     [2][len(keyNames)][]int32 // sent, not yet seen, per source and key
	nSettled int                       // seen or failed
	nReplied int
	stray    int64
}

func (r *loadRun) since(t time.Time) int64 { return int64(t.Sub(r.base)) }

// Where a press is observed: at the X server (systems A, B, C and the
// floor's XTest events) or by the recording injector (D).
const (
	srcX   = 0
	srcRec = 1
)

func srcOf(sys *system) int {
	if sys.atX {
		return srcX
	}
	return srcRec
}

// observe takes a press of keyNames[k] seen at at by src: it belongs to
// the oldest outstanding command with that key and source.
func (r *loadRun) observe(src, k int, at time.Time) {
	ns := r.since(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.fifo[src][k]
	for len(q) > 0 && r.failed[q[0]] != "" {
		q = q[1:]
	}
	if len(q) == 0 {
		r.fifo[src][k] = q
		r.stray++
		return
	}
	s := q[0]
	r.fifo[src][k] = q[1:]
	r.seen[s] = ns
	r.nSettled++
}

// onReply handles a reply {"id": prefix+seq, "ok": ...} read at at.
func (r *loadRun) onReply(_ string, payload []byte, at time.Time) {
	var rep wire.Reply
	if json.Unmarshal(payload, &rep) != nil {
		return
	}
	num, ok := strings.CutPrefix(rep.ID, r.prefix)
	if !ok {
		return
	}
	s, err := strconv.Atoi(num)
	if err != nil || s < 0 || s >= len(r.intended) {
		return
	}
	ns := r.since(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replied[s] != 0 {
		return
	}
	r.replied[s] = ns
	r.nReplied++
	if !rep.OK && r.seen[s] == 0 && r.failed[s] == "" {
		code := "unknown"
		if rep.Error != nil {
			code = rep.Error.Code
		}
		r.failed[s] = code
		r.nSettled++
	}
}

// sink receives observed presses; the env routes the X watcher or the
// recording injector to the run in progress.
type sink interface {
	set(r *loadRun)
}

// runLoad connects spec.panels fresh panels to sys, warms the path up,
// runs the schedule open loop and matches every command to its press and
// its reply. Nothing waits on a command before sending the next: a slow
// system shows up as latency from the intended time, never as a slower
// schedule (no coordinated omission).
func runLoad(ctx context.Context, sys *system, sk sink, spec loadSpec, drain time.Duration) (*cellResult, error) {
	return runLoadCPU(ctx, sys, sk, spec, drain, func() cpuSample { return cpuSample{at: time.Now()} })
}

// runLoadCPU is runLoad that samples CPU use with readCPU around the
// schedule and the drain.
func runLoadCPU(ctx context.Context, sys *system, sk sink, spec loadSpec, drain time.Duration, readCPU func() cpuSample) (*cellResult, error) {
	n := len(spec.intended)
	r := &loadRun{
		prefix:   fmt.Sprintf("r%d-", rand.Uint32()),
		intended: make([]int64, n),
		sentAt:   make([]int64, n),
		seen:     make([]int64, n),
		replied:  make([]int64, n),
		failed:   make([]string, n),
	}
	panels := make([]*mqttClient, spec.panels)
	defer func() {
		for _, p := range panels {
			if p != nil {
				p.close()
			}
		}
	}()
	wm := newWarmer()
	onPub := func(topic string, payload []byte, at time.Time) {
		if !wm.onPublish(payload) {
			r.onReply(topic, payload, at)
		}
	}
	for i := range panels {
		c, err := sys.connectPanel(ctx, i, onPub)
		if err != nil {
			return nil, err
		}
		panels[i] = c
	}
	// Warm up: every panel's command must be answered before the clock
	// starts (the agent is subscribed, routes and sessions are made).
	for i, p := range panels {
		if err := wm.warm(sys, i, p, fmt.Sprintf("warm-%s%d", r.prefix, i)); err != nil {
			return nil, err
		}
	}
	time.Sleep(20 * time.Millisecond) // let the warm-up presses pass

	seqs := make([][]int32, spec.panels)
	for s, p := range spec.panel {
		seqs[p] = append(seqs[p], int32(s))
	}
	r.base = time.Now().Add(20 * time.Millisecond)
	for s, d := range spec.intended {
		r.intended[s] = int64(d)
	}
	sk.set(r)
	defer sk.set(nil)
	cpu0 := readCPU()

	var wg sync.WaitGroup
	errc := make(chan error, spec.panels)
	for p := range spec.panels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := panels[p]
			topic := wire.CmdTopic(sys.host, sys.panels[p].Sub)
			src := srcOf(sys)
			var buf []byte
			for _, s := range seqs[p] {
				target := r.base.Add(time.Duration(r.intended[s]))
				waitUntil(target, spec.spin)
				buf = fmt.Appendf(buf[:0], `{"id":"%s%d","op":"key.tap","key":"%c"}`, r.prefix, s, keyNames[int(s)%len(keyNames)])
				r.mu.Lock()
				k := int(s) % len(keyNames)
				r.fifo[src][k] = append(r.fifo[src][k], s)
				r.sentAt[s] = r.since(time.Now())
				r.mu.Unlock()
				if err := cl.publish(topic, buf); err != nil {
					r.mu.Lock()
					r.failed[s] = "publish"
					r.nSettled++
					r.mu.Unlock()
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	// Drain: wait until every command is settled and answered, or give up.
	end := time.Now().Add(drain)
	for time.Now().Before(end) {
		r.mu.Lock()
		done := r.nSettled >= n && r.nReplied >= n
		r.mu.Unlock()
		if done {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	sk.set(nil)
	cpu1 := readCPU()
	select {
	case err := <-errc:
		return nil, fmt.Errorf("system %s: publishing: %w", sys.name, err)
	default:
	}

	res := &cellResult{e2e: newHist(), reply: newHist(), late: newHist(), failed: map[string]int64{},
		cpu: cpuShare(cpu0, cpu1)}
	if !spec.spin {
		// A spinning sender's CPU would swamp the systems' own.
		res.benchCPU = benchCPU(cpu0, cpu1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res.stray = r.stray
	res.sent = int64(n)
	res.lat = make([]time.Duration, n)
	for s := range n {
		res.lat[s] = -1
		if r.failed[s] == "" && r.seen[s] != 0 {
			res.lat[s] = time.Duration(r.seen[s] - r.intended[s])
		}
		res.late.record(time.Duration(r.sentAt[s] - r.intended[s]))
		switch {
		case r.failed[s] != "":
			res.failed[r.failed[s]]++
			res.e2e.drop(1)
			res.reply.drop(1)
			continue
		case r.seen[s] == 0:
			res.e2e.drop(1)
		default:
			res.e2e.record(time.Duration(r.seen[s] - r.intended[s]))
		}
		if r.replied[s] == 0 {
			res.reply.drop(1)
		} else {
			res.reply.record(time.Duration(r.replied[s] - r.intended[s]))
		}
	}
	if n > 0 {
		res.wall = time.Duration(r.intended[n-1])
	}
	return res, nil
}

// warmer sends warm-up commands and recognises their replies.
type warmer struct {
	mu  sync.Mutex
	got map[string]bool
	ch  chan struct{}
}

func newWarmer() *warmer { return &warmer{got: map[string]bool{}, ch: make(chan struct{}, 64)} }

// onPublish records a warm-up reply and reports whether payload was one.
func (w *warmer) onPublish(payload []byte) bool {
	if !strings.Contains(string(payload), `"id":"warm-`) {
		return false
	}
	var rep wire.Reply
	if json.Unmarshal(payload, &rep) == nil {
		w.mu.Lock()
		w.got[rep.ID] = true
		w.mu.Unlock()
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	return true
}

func (w *warmer) has(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[id]
}

// warm taps warmKey from panel i of sys, again every 200 ms, until the
// agent answers (the agent runs a repeated id once).
func (w *warmer) warm(sys *system, i int, c *mqttClient, id string) error {
	deadline := time.Now().Add(10 * time.Second)
	for !w.has(id) {
		err := c.publish(wire.CmdTopic(sys.host, sys.panels[i].Sub), fmt.Appendf(nil, `{"id":%q,"op":"key.tap","key":%q}`, id, warmKey))
		if err != nil {
			return fmt.Errorf("warm-up publish: %w", err)
		}
		select {
		case <-w.ch:
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) && !w.has(id) {
			return fmt.Errorf("system %s: no reply to the warm-up command of panel %d", sys.name, i)
		}
	}
	return nil
}

// waitUntil returns at t: by sleeping, and with spin by sleeping until
// 1.5 ms before t and yielding in a loop from there.
func waitUntil(t time.Time, spin bool) {
	if !spin {
		if d := time.Until(t); d > 0 {
			time.Sleep(d)
		}
		return
	}
	if d := time.Until(t) - 1500*time.Microsecond; d > 0 {
		time.Sleep(d)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// failedString prints failure counts as "code=n ...".
func failedString(m map[string]int64) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}
