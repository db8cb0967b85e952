package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// rediscoverEvery is the agent's least time between two answers to Home
// Assistant's birth message (agent.rediscoverEvery).
const rediscoverEvery = 5 * time.Second

// TestBirthMessageFloodIsDebounced is issue 11's case 5: an integration
// floods "online" on homeassistant/status. The agent answers the first at
// once and the rest at most once per rediscoverEvery, its state file is not
// rewritten, and a panel's commands keep their round trip meanwhile.
func TestBirthMessageFloodIsDebounced(t *testing.T) {
	s, _, _ := startHAServer(t)
	in := haAddIntegration(t, s, "HA")
	ha := connectHA(t, s, in, in.Sub)
	host := haHostOf(t, ha)
	_, swTopic, _ := haDiscoveryTopics(host)
	ha.waitMsg("the retained switch discovery", 0, func(m haMsg) bool { return m.topic == swTopic })
	// An mtime no write can give it: a rewrite shows as a new one.
	stateFile := filepath.Join(s.stateDir, "agent-ha-discovery.json")
	longAgo := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(stateFile, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	p := newPanel(t, s, "panel during the flood")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mfd serve's output:\n%s", s.out)
		}
	})

	flooder, code := dialAsync(t, "flooder", dialTLS(t, s.tlsAddr), false, in.Sub+"/flood", in.Sub, in.Token, nil)
	if code != 0 {
		t.Fatalf("CONNECT as the flooding integration = %#x", code)
	}
	mark := ha.mark()
	const (
		floodFor  = 3 * time.Second
		floodRate = 2000 // what the review measured: 1.2 cores, 57,000 goroutines
	)
	var (
		wg   sync.WaitGroup
		sent int
		ferr error
	)
	start := time.Now()
	wg.Go(func() {
		// floodRate a second, in bursts of a millisecond's worth.
		for time.Since(start) < floodFor {
			for due := int(time.Since(start).Seconds() * floodRate); sent < due; sent++ {
				if _, err := flooder.publish("homeassistant/status", []byte("online"), 0, false); err != nil {
					ferr = err
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	var rtts []time.Duration
	var goroutines float64
	for i := 0; time.Since(start) < floodFor; i++ {
		t0 := time.Now()
		p.do(host, cmd(fmt.Sprintf("flood-%d", i), "key.tap", "key", "f"), fmt.Sprintf("c-flood-%d", i))
		rtts = append(rtts, time.Since(t0))
		time.Sleep(20 * time.Millisecond) // a user's pace, far below the rate limit
		if i == 5 {
			goroutines = atkStats(t, s)["goroutines"]
		}
	}
	wg.Wait()
	if ferr != nil {
		t.Fatalf("the flooder was cut off after %d messages: %v", sent, ferr)
	}
	floodTook := time.Since(start)

	// The answer to the messages after the first comes rediscoverEvery
	// after the first answer; wait for it. Without the debounce every
	// message has been answered by then.
	checkFor(t, rediscoverEvery+5*time.Second, 50*time.Millisecond, func() error {
		if n := countTopic(ha.since(mark), swTopic); n < 2 {
			return fmt.Errorf("discovery sent %d times since the flood began, want the first and the one due %v later", n, rediscoverEvery)
		}
		return nil
	})
	got := countTopic(ha.since(mark), swTopic)
	limit := int(floodTook/rediscoverEvery) + 2
	slices.Sort(rtts)
	after := atkStats(t, s)["goroutines"]
	t.Logf("%d birth messages in %v (%.0f/s): discovery sent %d times (limit %d); %d key.tap round trips: median %v, max %v; server goroutines %v during, %v after",
		sent, floodTook.Round(time.Millisecond), float64(sent)/floodTook.Seconds(), got, limit, len(rtts),
		rtts[len(rtts)/2].Round(time.Millisecond), rtts[len(rtts)-1].Round(time.Millisecond), goroutines, after)
	if got > limit {
		t.Errorf("discovery sent %d times for a %v flood, want at most %d (once per %v)", got, floodTook, limit, rediscoverEvery)
	}
	if max := rtts[len(rtts)-1]; max > time.Second {
		t.Errorf("a key.tap took %v to be answered during the flood, want within 1s", max)
	}
	if goroutines > 1000 {
		t.Errorf("the server ran %v goroutines during the flood, want a bounded number", goroutines)
	}
	fi, err := os.Stat(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(longAgo) {
		t.Errorf("%s was rewritten during the flood though what it says did not change", stateFile)
	}
}

func countTopic(ms []haMsg, topic string) int {
	n := 0
	for _, m := range ms {
		if m.topic == topic {
			n++
		}
	}
	return n
}
