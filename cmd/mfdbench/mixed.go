package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openmfd/mfd/internal/wire"
)

// floorSlot names the floor in a mixed schedule.
const floorSlot = "F"

// mixedSpec is the sparse schedule of a round: commands of every system
// and floor samples take turns one by one (A B C D F A B C D F ...), with
// gaps drawn uniformly from 4 to 36 ms. Each system thus gets 10 commands
// a second with gaps of 20 to 180 ms (the sum of five draws), and whatever
// else runs on the machine falls on all of them alike, which a run per
// system after another cannot promise on a shared machine.
func mixedSpec(d time.Duration, slots int, rng *rand.Rand) loadSpec {
	s := loadSpec{name: "sparse", panels: 1, spin: true}
	t := 50 * time.Millisecond
	for i := 0; t < d; i++ {
		s.intended = append(s.intended, t)
		s.panel = append(s.panel, i%slots)
		t += 4*time.Millisecond + time.Duration(rng.Int64N(int64(32*time.Millisecond)))
	}
	return s
}

// runMixed runs a mixed sparse schedule over order (system names and
// floorSlot); spec.panel[s] indexes order. It returns a cell per system
// and the floor.
func (e *env) runMixed(ctx context.Context, order []string, spec loadSpec, tc *tls.Config) (map[string]*cellResult, *floorResult, error) {
	n := len(spec.intended)
	r := &loadRun{
		prefix:   fmt.Sprintf("m%d-", rand.Uint32()),
		intended: make([]int64, n),
		sentAt:   make([]int64, n),
		seen:     make([]int64, n),
		replied:  make([]int64, n),
		failed:   make([]string, n),
	}
	wm := newWarmer()
	onPub := func(topic string, payload []byte, at time.Time) {
		if !wm.onPublish(payload) {
			r.onReply(topic, payload, at)
		}
	}
	clients := map[string]*mqttClient{}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for _, name := range order {
		if name == floorSlot {
			continue
		}
		sys := e.sys[name]
		c, err := sys.connectPanel(ctx, 0, onPub)
		if err != nil {
			return nil, nil, err
		}
		clients[name] = c
		if err := wm.warm(sys, 0, c, fmt.Sprintf("warm-%s%s", r.prefix, name)); err != nil {
			return nil, nil, err
		}
	}
	d := websocket.Dialer{TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.DialContext(ctx, e.echo.url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("dialing the echo server: %w", err)
	}
	defer ws.Close()
	msg := make([]byte, 64) // about a key.tap PUBLISH
	if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return nil, nil, err
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		return nil, nil, err
	}
	time.Sleep(20 * time.Millisecond) // let the warm-up presses pass

	half := make([]time.Duration, n) // floor slots: half the echo round trip
	xsent := make([]int64, n)        // floor slots: when the XTest event left
	wantReplies := 0
	for s, d := range spec.intended {
		r.intended[s] = int64(d)
		if order[spec.panel[s]] != floorSlot {
			wantReplies++
		}
	}
	r.base = time.Now().Add(20 * time.Millisecond)
	e.set(r)
	defer e.set(nil)
	cpu0 := readCPU(e)
	var buf []byte
	for s := range n {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		name := order[spec.panel[s]]
		k := s % len(keyNames)
		waitUntil(r.base.Add(time.Duration(r.intended[s])), true)
		if name == floorSlot {
			t0 := time.Now()
			if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return nil, nil, err
			}
			if _, _, err := ws.ReadMessage(); err != nil {
				return nil, nil, err
			}
			half[s] = time.Since(t0) / 2
			r.mu.Lock()
			r.fifo[srcX][k] = append(r.fifo[srcX][k], int32(s))
			now := time.Now()
			r.sentAt[s] = r.since(now)
			xsent[s] = r.since(now)
			r.mu.Unlock()
			if err := e.w.fakeTap(e.kc[k]); err != nil {
				return nil, nil, fmt.Errorf("floor XTest: %w", err)
			}
			continue
		}
		sys := e.sys[name]
		buf = fmt.Appendf(buf[:0], `{"id":"%s%d","op":"key.tap","key":"%c"}`, r.prefix, s, keyNames[k])
		r.mu.Lock()
		src := srcOf(sys)
		r.fifo[src][k] = append(r.fifo[src][k], int32(s))
		r.sentAt[s] = r.since(time.Now())
		r.mu.Unlock()
		if err := clients[name].publish(wire.CmdTopic(sys.host, sys.panels[0].Sub), buf); err != nil {
			return nil, nil, fmt.Errorf("system %s: publishing: %w", name, err)
		}
	}
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		r.mu.Lock()
		done := r.nSettled >= n && r.nReplied >= wantReplies
		r.mu.Unlock()
		if done {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.set(nil)
	cpu := cpuShare(cpu0, readCPU(e))

	cells := map[string]*cellResult{}
	fl := &floorResult{halfRTT: newHist(), xtest: newHist(), sum: newHist()}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range n {
		name := order[spec.panel[s]]
		if name == floorSlot {
			fl.halfRTT.record(half[s])
			if r.seen[s] == 0 {
				fl.xtest.drop(1)
				fl.sum.drop(1)
				continue
			}
			x := time.Duration(r.seen[s] - xsent[s])
			fl.xtest.record(x)
			fl.sum.record(half[s] + x)
			continue
		}
		c := cells[name]
		if c == nil {
			c = &cellResult{e2e: newHist(), reply: newHist(), late: newHist(), failed: map[string]int64{}, cpu: cpu}
			cells[name] = c
		}
		c.sent++
		c.late.record(time.Duration(r.sentAt[s] - r.intended[s]))
		switch {
		case r.failed[s] != "":
			c.failed[r.failed[s]]++
			c.e2e.drop(1)
			c.reply.drop(1)
			continue
		case r.seen[s] == 0:
			c.e2e.drop(1)
		default:
			c.e2e.record(time.Duration(r.seen[s] - r.intended[s]))
		}
		if r.replied[s] == 0 {
			c.reply.drop(1)
		} else {
			c.reply.record(time.Duration(r.replied[s] - r.intended[s]))
		}
	}
	for _, c := range cells {
		c.stray = r.stray
	}
	return cells, fl, nil
}
