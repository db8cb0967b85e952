package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/xtest"
)

// atkRemoteAgent starts `mfd agent --server` for s with env (a DISPLAY, or
// none: then every command is answered no_input), approves its pairing
// code and returns it with its host ID once it runs.
func atkRemoteAgent(t *testing.T, s *server, stateDir string, env ...string) (*proc, string) {
	t.Helper()
	ag := startProc(t, env, mfdBin, "agent", "--server", "https://"+s.addr, "--state-dir", stateDir, "--name", "remote host")
	code := ag.waitOutput(`pairing code (\d{6})`, 15*time.Second)[1]
	if out, err := s.cli("clients", "approve", code); err != nil {
		t.Fatalf("approving the agent: %v %s", err, out)
	}
	host := ag.waitOutput(`agent for host ([0-9a-f-]{36}) running`, 15*time.Second)[1]
	return ag, host
}

// atkCommander is a panel that sends commands over TLS TCP and reads the
// agent's replies on its reply topic.
type atkCommander struct {
	*atkSession
	sub, host string
}

func atkNewCommander(t *testing.T, s *server, a authResp, host, suffix string) *atkCommander {
	t.Helper()
	st, err := atkOpen(s, "tls", atkConn{v5: true, clientID: a.Sub + suffix, user: a.Sub, pass: a.Token})
	if err != nil || st.code != 0 {
		t.Fatalf("commander CONNECT: %v", err)
	}
	t.Cleanup(st.close)
	if code, err := st.subscribe(1, "mfd/v1/clients/"+a.Sub+"/reply"); err != nil || code > 2 {
		t.Fatalf("commander SUBSCRIBE: %#x %v", code, err)
	}
	return &atkCommander{atkSession: st, sub: a.Sub, host: host}
}

func (c *atkCommander) send(cmd string) error {
	return c.publish(atkPub{topic: "mfd/v1/hosts/" + c.host + "/cmd/" + c.sub, payload: []byte(cmd)})
}

type atkReply struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// reply reads the next reply.
func (c *atkCommander) reply(timeout time.Duration) (atkReply, error) {
	m, err := c.next(timeout)
	if err != nil {
		return atkReply{}, err
	}
	var r atkReply
	if err := json.Unmarshal(m.payload, &r); err != nil {
		return r, fmt.Errorf("reply %q: %v", m.payload, err)
	}
	return r, nil
}

// TestSoak: 10,000 connect/auth-fail/disconnect cycles and 10,000
// commands through a remote agent driving Xvfb, after which the server's goroutines,
// file descriptors, live heap and MQTT client list are back at their
// baseline. The figures are logged (go test -v -run TestSoak).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped with -short")
	}
	local := fmt.Sprintf("127.0.0.1:%d", freeport.Must(t))
	s := startServer(t, withArgs("--mqtt-local", local))
	_, a := s.pair("soak panel", "", nil)
	_, host := atkRemoteAgent(t, s, t.TempDir(), "DISPLAY="+xtest.StartXvfb(t))

	cycles := func(n int) time.Duration {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		var bad atomic.Int64
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				src := atkSrc()
				cache := tls.NewLRUClientSessionCache(4)
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					// One in ten over WSS, two over TLS TCP, the rest over
					// the loopback listener, which spares the race-built
					// test client most TLS handshakes; v5 and 3.1.1 mixed.
					var conn net.Conn
					var err error
					switch i % 10 {
					case 0:
						conn, err = atkDialWSS(s.addr, src)
					case 1, 2:
						conn, err = atkDialTLS(s.tlsAddr, src, cache)
					default:
						conn, err = atkDialTCP(local, src)
					}
					if err != nil {
						bad.Add(1)
						continue
					}
					c := newRaw(conn, i%10 == 0 || i%3 != 0)
					code, err := c.connect(fmt.Sprintf("%s/c%d", a.Sub, i), a.Sub, a.Token[:len(a.Token)-4]+"AAAA")
					if err != nil || (code != v5BadCredentials && code != v3BadCredentials) {
						bad.Add(1)
					}
					c.close()
				}
			}()
		}
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Errorf("%d connect/auth-fail cycles did not end in a bad-credentials CONNACK", n)
		}
		return time.Since(start)
	}
	commands := func(c *atkCommander, prefix string, n int) {
		const window = 200
		sent, got := 0, 0
		codes := map[string]int{}
		for got < n {
			for sent < n && sent-got < window {
				if err := c.send(fmt.Sprintf(`{"id":"%s%d","op":"mouse.move","x":1,"y":1,"rel":true}`, prefix, sent)); err != nil {
					t.Errorf("sending command %d: %v", sent, err)
					return
				}
				sent++
			}
			r, err := c.reply(10 * time.Second)
			if err != nil {
				t.Errorf("after %d of %d replies: %v", got, n, err)
				return
			}
			got++
			if r.Error != nil {
				codes[r.Error.Code]++
			} else {
				codes["ok"]++
			}
		}
		t.Logf("%d commands answered: %v", n, codes)
		if codes["ok"] != n {
			t.Errorf("%d of %d commands ran, want every one", codes["ok"], n)
		}
	}

	// Warm up, so that what is made once (buffers, pools, TLS session
	// tickets) is in the baseline.
	c := atkNewCommander(t, s, a, host, "/warm")
	cycles(200)
	commands(c, "w", 200)
	c.close()
	measure := func() (map[string]float64, int) {
		return atkStats(t, s), atkFDs(s)
	}
	var base map[string]float64
	var baseFDs int
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		base, baseFDs = measure()
		if base["mqtt_clients"] != 1 { // the agent
			return fmt.Errorf("%v MQTT clients before the soak, want the agent alone", base["mqtt_clients"])
		}
		return nil
	})

	took := cycles(10_000)
	t.Logf("10,000 connect/auth-fail/disconnect cycles in %v", took.Round(time.Millisecond))
	// Five panels, 2,000 commands each: the agent's per-client burst, so
	// that every command is handled rather than refused rate_limited.
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 5 {
		_, p := s.pair(fmt.Sprintf("soak panel %d", i), "", nil)
		pc := atkNewCommander(t, s, p, host, "/soak")
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.close()
			commands(pc, "s", 2_000)
		}()
	}
	wg.Wait()
	t.Logf("10,000 commands in %v", time.Since(start).Round(time.Millisecond))
	if !s.alive() {
		t.Fatalf("mfd serve died:\n%s", s.out)
	}

	var after map[string]float64
	var afterFDs int
	checkFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		after, afterFDs = measure()
		switch {
		case after["goroutines"] > base["goroutines"]+2:
			return fmt.Errorf("goroutines %v, baseline %v", after["goroutines"], base["goroutines"])
		case afterFDs > baseFDs+2:
			return fmt.Errorf("open descriptors %d, baseline %d", afterFDs, baseFDs)
		case after["mqtt_clients"] != base["mqtt_clients"] || after["mqtt_sessions"] != base["mqtt_sessions"]:
			return fmt.Errorf("MQTT clients %v and sessions %v, baseline %v and %v",
				after["mqtt_clients"], after["mqtt_sessions"], base["mqtt_clients"], base["mqtt_sessions"])
		case after["heap_alloc"] > base["heap_alloc"]*1.25+1<<20:
			return fmt.Errorf("live heap %.0f bytes, baseline %.0f", after["heap_alloc"], base["heap_alloc"])
		}
		return nil
	})
	line := fmt.Sprintf("soak: goroutines %v -> %v, fds %d -> %d, heap_alloc %.0f -> %.0f, mqtt_clients %v -> %v, mqtt_sessions %v -> %v",
		base["goroutines"], after["goroutines"], baseFDs, afterFDs, base["heap_alloc"], after["heap_alloc"],
		base["mqtt_clients"], after["mqtt_clients"], base["mqtt_sessions"], after["mqtt_sessions"])
	t.Log(line)
	if f := os.Getenv("MFD_SOAK_REPORT"); f != "" {
		_ = os.WriteFile(f, []byte(line+"\n"), 0o644)
	}
}
