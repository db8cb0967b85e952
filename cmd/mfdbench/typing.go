package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jezek/xgb/xproto"

	"github.com/openmfd/mfd/internal/wire"
)

// typingText returns n characters of mixed text: lower and upper case,
// digits, punctuation, spaces and newlines, keeping only characters the
// keymap has (so that each KeyPress can be read back with the keymap read
// at start).
func (e *env) typingText(n int) string {
	const src = "The quick brown fox jumps over the lazy dog, 1234567890 times; " +
		"PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS! (ok?) a-b=c/d.\n"
	var b strings.Builder
	for b.Len() < n {
		for _, r := range src {
			if b.Len() >= n {
				break
			}
			if _, ok := e.symOf(r); ok {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// symOf returns the keysym for r if some keycode makes it with or without
// Shift.
func (e *env) symOf(r rune) (xproto.Keysym, bool) {
	sym := xproto.Keysym(r)
	if r == '\n' {
		sym = 0xff0d
	}
	for i := 0; i*e.w.perKC < len(e.w.syms); i++ {
		row := e.w.syms[i*e.w.perKC:]
		if row[0] == sym || (e.w.perKC > 1 && row[1] == sym) {
			return sym, true
		}
	}
	return 0, false
}

// typingResult is one text.type command checked at the X server.
type typingResult struct {
	Chars       int     `json:"chars"`
	Intact      bool    `json:"intact"`
	Mismatch    string  `json:"mismatch,omitempty"`
	CharsPerSec float64 `json:"chars_per_s"`
	FirstMS     float64 `json:"first_char_ms"` // send to first KeyPress
	TotalMS     float64 `json:"total_ms"`      // send to last KeyPress
}

// runTyping sends one text.type of n characters from panel 0 of sys and
// reads every KeyPress back at the X server.
func (e *env) runTyping(ctx context.Context, sys *system, n int) (typingResult, error) {
	text := e.typingText(n)
	want := make([]xproto.Keysym, 0, n)
	for _, r := range text {
		s, _ := e.symOf(r)
		want = append(want, s)
	}
	var (
		mu    sync.Mutex
		got   []xproto.Keysym
		times []time.Time
		full  = make(chan struct{})
	)
	e.w.setOnKey(func(kc byte, state uint16, at time.Time) {
		sym := e.w.keysym(kc, state)
		if sym >= 0xffe1 && sym <= 0xffee { // modifiers
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) < len(want) {
			got = append(got, sym)
			times = append(times, at)
			if len(got) == len(want) {
				close(full)
			}
		}
	})
	defer e.w.setOnKey(e.onLoadKey)
	replied := make(chan struct{}, 1)
	c, err := sys.connectPanel(ctx, 0, func(string, []byte, time.Time) {
		select {
		case replied <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return typingResult{}, err
	}
	defer c.close()
	// Make sure the agent is subscribed before the clock starts.
	topic := wire.CmdTopic(sys.host, sys.panels[0].Sub)
	warm := time.Now().Add(10 * time.Second)
	for {
		_ = c.publish(topic, []byte(`{"id":"typing-warm","op":"release.all"}`))
		select {
		case <-replied:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(warm) {
				return typingResult{}, fmt.Errorf("system %s: no reply to the warm-up", sys.name)
			}
			continue
		}
		break
	}
	body, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("typing-%d", time.Now().UnixNano()), "op": "text.type", "text": text})
	t0 := time.Now()
	if err := c.publish(topic, body); err != nil {
		return typingResult{}, err
	}
	select {
	case <-full:
	case <-time.After(time.Duration(n)*5*time.Millisecond + 5*time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	res := typingResult{Chars: len(got), Intact: len(got) == len(want)}
	for i := range got {
		if got[i] != want[i] {
			res.Intact = false
			res.Mismatch = fmt.Sprintf("character %d: got keysym %#x, want %#x", i, got[i], want[i])
			break
		}
	}
	if !res.Intact && res.Mismatch == "" {
		res.Mismatch = fmt.Sprintf("%d of %d characters arrived", len(got), len(want))
	}
	if len(times) > 0 {
		res.FirstMS = ms(int64(times[0].Sub(t0)))
		res.TotalMS = ms(int64(times[len(times)-1].Sub(t0)))
		res.CharsPerSec = float64(len(got)) / times[len(times)-1].Sub(t0).Seconds()
	}
	return res, nil
}
