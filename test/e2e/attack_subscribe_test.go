package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSubscriptionFloodIsBounded (issue 11, case 2): a panel may subscribe
// to anything under its own reply/#, so without caps it could make mochi
// build a node per level of any number of filters of any depth. Now: a
// filter deeper than 7 levels or longer than 256 bytes is refused (0x87),
// a session holds at most 512 subscriptions and a client at most 2,048
// (the rest get 0x97), and a flood of deep and wide filters from eight
// connections leaves the heap bounded while another panel is served
// within a second.
func TestSubscriptionFloodIsBounded(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	reply := "mfd/v1/clients/" + a.Sub + "/reply"
	base := atkStats(t, s)

	one := atkPanelConn(t, s, a, "limits", atkSrc())
	deep := reply + strings.Repeat("/x", 20)
	long := reply + "/" + strings.Repeat("y", 300)
	codes, err := atkSubscribeMany(one, 1, []string{reply + "/a/b", reply + "/a/b/c", deep, long})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("7 levels, 8 levels, 25 levels, 340 bytes: %x", codes)
	if len(codes) != 4 || codes[0] != 0 || codes[1] != 0x87 || codes[2] != 0x87 || codes[3] != 0x87 {
		t.Errorf("SUBACK %x, want 00 (7 levels) then 87 87 87 (8 and 25 levels, 340 bytes)", codes)
	}

	// One session: 512, then quota exceeded.
	var granted, quota int
	for p := 0; p < 6; p++ {
		var fs []string
		for i := 0; i < 100; i++ {
			fs = append(fs, fmt.Sprintf("%s/s%d", reply, p*100+i))
		}
		codes, err := atkSubscribeMany(one, uint16(10+p), fs)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			switch c {
			case 0:
				granted++
			case 0x97:
				quota++
			default:
				t.Errorf("unexpected SUBACK code %#x", c)
			}
		}
	}
	t.Logf("one session asked for 600 more filters: %d granted, %d quota exceeded", granted, quota)
	if granted != 511 || quota != 89 { // 512 with the one above
		t.Errorf("one session: %d granted, %d quota exceeded; want 511 and 89 (512 per session)", granted, quota)
	}

	// The flood: eight sessions of A, each asking for 2,000 filters as deep
	// and long as a packet holds, while B connects again and again.
	var wg sync.WaitGroup
	var mu sync.Mutex
	totals := map[byte]int{}
	var conns []*rawClient
	for w := 0; w < 8; w++ {
		c, err := atkDialWSS(s.addr, atkSrc())
		if err != nil {
			t.Fatal(err)
		}
		rc := newRaw(c, true)
		defer rc.close() // held open until the end: a cap is on what is held at once
		conns = append(conns, rc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := atkConnect(rc, fmt.Sprintf("%s/flood%d", a.Sub, w), a.Sub, a.Token, 60); err != nil || p.body[1] != 0 {
				t.Errorf("flood CONNECT: %v", err)
				return
			}
			for p := 0; p < 40; p++ {
				var fs []string
				for i := 0; i < 50; i++ {
					// 60 levels: what the attack of the issue sent.
					fs = append(fs, fmt.Sprintf("%s/w%d/p%d/f%d%s", reply, w, p, i, strings.Repeat("/z", 56)))
					fs = append(fs, fmt.Sprintf("%s/w%dp%df%d", reply, w, p, i))
				}
				codes, err := atkSubscribeMany(rc, uint16(p+1), fs)
				if err != nil {
					t.Errorf("flood SUBSCRIBE: %v", err)
					return
				}
				mu.Lock()
				for _, c := range codes {
					totals[c]++
				}
				mu.Unlock()
			}
		}()
	}
	var worst time.Duration
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for served := false; !served; {
		select {
		case <-done:
			served = true
		default:
			worst = max(worst, atkServed(t, s, b, time.Second))
		}
	}
	after := atkStats(t, s)
	t.Logf("flood of 8 x 4,000 filters: SUBACK codes %v; subscriptions held %v; another panel served in at most %v; heap %.1f MiB before, %.1f MiB after",
		totals, after["mqtt_subscriptions"], worst, base["heap_alloc"]/(1<<20), after["heap_alloc"]/(1<<20))
	// The client holds 512 already; 2,048 in all. Concurrent SUBSCRIBEs
	// of one client may each overshoot by their own filters (50 here).
	if held := after["mqtt_subscriptions"]; held > 2048+8*50 || totals[0] > 2048-512+8*50 {
		t.Errorf("%v subscriptions held, %d flood filters granted; want at most 2,048 held (plus 8 x 50 in flight)", held, totals[0])
	}
	if grew := after["heap_alloc"] - base["heap_alloc"]; grew > 32<<20 {
		t.Errorf("live heap grew by %.1f MiB, want at most 32", grew/(1<<20))
	}
}
