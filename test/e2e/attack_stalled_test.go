package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStalledReadersAreBounded (issue 11, case 6): one panel opened 60
// connections that never read while replies carrying 15 KiB of Correlation
// Data were echoed to all of them, and mochi queued up to 1,024 packets per
// connection: 1 GiB of heap from one address. Now Correlation Data over
// 256 bytes is refused at the publish, and what one client's connections
// hold unwritten is at most 16 MiB together: a connection that does not
// read is closed as a slow consumer. Another panel is served within a
// second throughout.
func TestStalledReadersAreBounded(t *testing.T) {
	s := startServer(t)
	_, p := s.pair("P", "", nil)
	_, b := s.pair("B", "", nil)
	host := atkNewHost()
	_, agent := atkPairAgent(t, s, host)
	reply := "mfd/v1/clients/" + p.Sub + "/reply"
	cmd := "mfd/v1/hosts/" + host + "/cmd/" + p.Sub

	// Correlation Data: 256 bytes pass, 257 and 15 KiB do not.
	pc := atkPanelConn(t, s, p, "cmd", "127.0.0.1")
	for _, tc := range []struct {
		n    int
		want byte
	}{{256, 0}, {257, 0x87}, {15 << 10, 0x87}} {
		props := pubProps{responseTopic: reply, correlation: []byte(strings.Repeat("c", tc.n))}
		code, err := pc.publishWith(1, cmd, []byte(`{"id":"1","op":"release.all"}`), false, props)
		if err != nil || code != tc.want {
			t.Errorf("a command with %d bytes of Correlation Data: PUBACK %#x %v, want %#x", tc.n, code, err, tc.want)
		}
	}

	base := atkStats(t, s)
	src := atkSrc()
	var stalled []*rawClient
	for i := 0; i < 30; i++ {
		c := atkPanelConn(t, s, p, "stalled"+string(rune('a'+i)), src)
		if code, err := c.subscribe(1, reply); err != nil || code > 2 {
			t.Fatalf("stalled SUBSCRIBE: %#x %v", code, err)
		}
		stalled = append(stalled, c) // and never read again
	}
	// The agent's replies, each as large as a packet may be, to the reply
	// topic all 30 subscribe to.
	payload := []byte(`{"id":"` + strings.Repeat("r", 15<<10) + `","ok":false}`)
	start := time.Now()
	var worst time.Duration
	var peak map[string]float64
	var queued float64
	for i := 0; i < 1500; i++ {
		if err := agent.rawClient.sendPublish(reply, payload, pubProps{}); err != nil {
			t.Fatalf("agent PUBLISH %d: %v", i, err)
		}
		if i%150 == 0 {
			worst = max(worst, atkServed(t, s, b, time.Second))
			st := atkStats(t, s)
			if peak == nil || st["heap_alloc"] > peak["heap_alloc"] {
				peak = st
			}
			queued = max(queued, st["mqtt_queued_bytes_max"])
		}
	}
	worst = max(worst, atkServed(t, s, b, time.Second))
	// While the flood runs the heap also counts what was allocated since
	// the collection mfd stats makes (copies per subscriber, hundreds of
	// MiB a second), so the bound is asserted once it is over, with the
	// 30 connections still open and still not reading.
	after := atkStats(t, s)
	closed := strings.Count(s.out.String(), "it stopped reading")
	t.Logf("1,500 replies of 15 KiB to 30 connections that do not read (%.0f MiB offered): %v; at most %.1f MiB queued for the client; heap %.1f MiB before, %.1f MiB at most during (with garbage), %.1f MiB after; %d slow connections closed; another panel served in at most %v",
		1500*30*15.0/1024, time.Since(start).Round(time.Millisecond), queued/(1<<20), base["heap_alloc"]/(1<<20), peak["heap_alloc"]/(1<<20), after["heap_alloc"]/(1<<20), closed, worst)
	if queued > 16<<20 {
		t.Errorf("%.1f MiB queued for one client, want at most 16", queued/(1<<20))
	}
	if grew := after["heap_alloc"] - base["heap_alloc"]; grew > 24<<20 {
		t.Errorf("live heap grew by %.0f MiB, want at most 24 (16 MiB queued per client)", grew/(1<<20))
	}
	if closed == 0 {
		t.Errorf("no connection that stopped reading was closed")
	}
	for _, c := range stalled {
		c.close()
	}
	checkFor(t, 10*time.Second, 200*time.Millisecond, func() error {
		if st := atkStats(t, s); st["heap_alloc"] > base["heap_alloc"]+16<<20 {
			return fmt.Errorf("heap %.1f MiB, %.1f MiB before", st["heap_alloc"]/(1<<20), base["heap_alloc"]/(1<<20))
		}
		return nil
	})
}
