package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPreAuthOversizedHeaders: before authenticating, a client announces or
// sends more than the server will ever hold: MQTT remaining lengths up to
// 256 MiB (mochi #502) over WSS and TLS TCP, a 1 MiB WebSocket frame, HTTP
// headers over 16 KiB. Each connection is ended without the server reading
// or allocating what was announced; the heap stays flat and a panel is
// served within a second throughout.
func TestPreAuthOversizedHeaders(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	base := atkStats(t, s)

	var wg sync.WaitGroup
	var bad atomic.Int32
	stop := make(chan struct{})
	// Attackers keep going while the panel is probed.
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				over := []string{"wss", "tls"}[i%2]
				c, err := atkDial(s, over, atkSrc())
				if err != nil {
					continue
				}
				hdr := []byte{0x10, 0xff, 0xff, 0xff, 0x7f} // 256 MiB
				if w%2 == 1 {
					hdr = append([]byte{0x10}, encLen(16<<10+1)...)
				}
				_, _ = c.Write(hdr)
				// The server hangs up on the header alone, without waiting
				// for (or making room for) what it announced.
				if closed, _ := atkClosed(newRaw(c, true), 2*time.Second); !closed {
					bad.Add(1)
				}
				c.Close()
			}
		}()
	}
	for i := 0; i < 5; i++ {
		atkServed(t, s, a, time.Second)
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d connections that announced an oversized CONNECT were still open 2 s later", n)
	}

	// One WebSocket frame of 1 MiB: over the read limit, closed at once.
	c, err := atkDialWSS(s.addr, atkSrc())
	if err != nil {
		t.Fatal(err)
	}
	ws := c.(*wsConn)
	_ = ws.ws.WriteMessage(2, make([]byte, 1<<20))
	if closed, _ := atkClosed(newRaw(c, true), 3*time.Second); !closed {
		t.Errorf("a 1 MiB WebSocket frame before CONNECT left the connection open")
	}
	c.Close()

	// HTTP headers over net/http's 16 KiB cap get 431, on /authorise and
	// on the upgrade.
	for _, path := range []string{"/authorise", "/mqtt"} {
		tc, err := atkDialTLS(s.addr, atkSrc(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", path, strings.Repeat("a", 64<<10))
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(io.LimitReader(tc, 4096))
		tc.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 431") {
			t.Errorf("64 KiB of headers on %s answered %q, want 431", path, firstLine(string(b)))
		}
	}

	if !s.alive() {
		t.Fatalf("mfd serve died:\n%s", s.out)
	}
	var after map[string]float64
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		after = atkStats(t, s)
		if after["mqtt_clients"] != base["mqtt_clients"] || after["goroutines"] > base["goroutines"]+10 {
			return fmt.Errorf("after the attack %v, before %v", after, base)
		}
		return nil
	})
	if grew := after["heap_alloc"] - base["heap_alloc"]; grew > 8<<20 {
		t.Errorf("live heap grew by %.0f bytes, want flat", grew)
	}
	t.Logf("before %v, after %v", base, after)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}

// TestSlowAndSilentSockets: sockets that stall at each step before CONNECT
// (plain TCP that never speaks, a TLS ClientHello cut short, WebSocket
// headers cut short, headers dripped one byte a second, an upgrade with no
// CONNECT after it) are all closed by the one 5 s deadline counted from
// accept, on both listeners; meanwhile a panel is served within a second.
func TestSlowAndSilentSockets(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	// A ClientHello's first bytes: a TLS handshake record header and the
	// start of the message.
	partialHello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	type sock struct {
		name string
		open func() (net.Conn, error)
		drip bool // keep sending a byte a second
	}
	tlsThen := func(addr, text string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			c, err := atkDialTLS(addr, atkSrc(), nil)
			if err == nil && text != "" {
				_, err = io.WriteString(c, text)
			}
			return c, err
		}
	}
	tcpThen := func(addr string, b []byte) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			c, err := atkDialTCP(addr, atkSrc())
			if err == nil && b != nil {
				_, err = c.Write(b)
			}
			return c, err
		}
	}
	socks := []sock{
		{"HTTPS port: silent TCP", tcpThen(s.addr, nil), false},
		{"TLS port: silent TCP", tcpThen(s.tlsAddr, nil), false},
		{"HTTPS port: ClientHello cut short", tcpThen(s.addr, partialHello), false},
		{"TLS port: ClientHello cut short", tcpThen(s.tlsAddr, partialHello), false},
		{"HTTPS port: WebSocket headers cut short", tlsThen(s.addr, "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"), false},
		{"HTTPS port: headers dripped a byte a second", tlsThen(s.addr, "GET /mqtt HTTP/1.1\r\n"), true},
		{"HTTPS port: upgraded, no CONNECT", func() (net.Conn, error) { return atkDialWSS(s.addr, atkSrc()) }, false},
		{"TLS port: handshake done, no CONNECT", tlsThen(s.tlsAddr, ""), false},
		{"TLS port: CONNECT dripped a byte a second", tlsThen(s.tlsAddr, ""), true},
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, sk := range socks {
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := sk.open()
				if err != nil {
					t.Errorf("%s: %v", sk.name, err)
					return
				}
				defer c.Close()
				opened := time.Now()
				if sk.drip {
					go func() {
						for i := 0; i < 30; i++ {
							time.Sleep(time.Second)
							if _, err := c.Write([]byte{'X'}); err != nil {
								return
							}
						}
					}()
				}
				_ = c.SetReadDeadline(time.Now().Add(9 * time.Second))
				_, err = io.Copy(io.Discard, c)
				took := time.Since(opened)
				if ne, ok := err.(net.Error); ok && ne.Timeout() || took > 7*time.Second {
					t.Errorf("%s: still open %v after it was opened, want closed by the 5 s deadline", sk.name, took.Round(time.Millisecond))
				}
			}()
		}
	}
	for time.Since(start) < 4*time.Second {
		atkServed(t, s, a, time.Second)
		time.Sleep(300 * time.Millisecond)
	}
	wg.Wait()
}

// TestKeepaliveZeroAndShort: keepalive 0 (never time out) becomes 60 s and
// an MQTT 5 client is told so with Server Keep Alive; a short keepalive is
// enforced: silence for 1.5 times it ends the session.
func TestKeepaliveZeroAndShort(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	for _, over := range []string{"wss", "tls"} {
		c, err := atkDial(s, over, "")
		if err != nil {
			t.Fatal(err)
		}
		rc := newRaw(c, true)
		p, err := atkConnect(rc, a.Sub+"/ka0", a.Sub, a.Token, 0)
		if err != nil || p.body[1] != 0 {
			t.Fatalf("%s CONNECT keepalive 0: %v %x", over, err, p.body)
		}
		ka, ok := atkConnackProps(p)[0x13]
		if !ok || len(ka) != 2 || int(ka[0])<<8|int(ka[1]) != 60 {
			t.Errorf("%s: CONNACK to keepalive 0 carries Server Keep Alive %x (present %v), want 60", over, ka, ok)
		}
		rc.close()

		c, err = atkDial(s, over, "")
		if err != nil {
			t.Fatal(err)
		}
		rc = newRaw(c, false)
		if p, err := atkConnect(rc, a.Sub+"/ka1", a.Sub, a.Token, 1); err != nil || p.body[1] != 0 {
			t.Fatalf("%s CONNECT keepalive 1: %v %x", over, err, p.body)
		}
		start := time.Now()
		closed, _ := atkClosed(rc, 5*time.Second)
		if took := time.Since(start); !closed || took > 3*time.Second {
			t.Errorf("%s: a silent 3.1.1 client with keepalive 1 s was closed %v (after %v), want within 3 s", over, closed, took)
		}
		rc.close()
	}
}

// TestConnectionFloodFromOneAddress: one address opens 1,000 connections
// as fast as it can on each listener. It never holds more than its cap (32)
// at a time, the server's descriptors stay bounded, and a panel from
// another address, and one from the flooding address itself, are served
// within a second while it goes on.
func TestConnectionFloodFromOneAddress(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	baseFDs := atkFDs(s)
	src := atkSrc()
	var maxFDs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var held sync.Map
	for _, addr := range []string{s.addr, s.tlsAddr} {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 250; i++ {
					select {
					case <-stop:
						return
					default:
					}
					c, err := atkDialTCP(addr, src)
					if err != nil {
						continue
					}
					held.Store(c, true)
				}
			}()
		}
	}
	watch := make(chan struct{})
	go func() {
		defer close(watch)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n := int64(atkFDs(s)); n > maxFDs.Load() {
				maxFDs.Store(n)
			}
		}
	}()
	for i := 0; i < 5; i++ {
		atkServed(t, s, a, time.Second)
	}
	wg.Wait()
	close(stop)
	<-watch
	// Once the flood pauses, a panel behind the flooding address gets in:
	// the flood's silent sockets, still in their handshake, give way.
	c, err := atkDialWSS(s.addr, src)
	if err != nil {
		t.Fatalf("a panel behind the flooding address could not connect: %v", err)
	}
	rc := newRaw(c, true)
	if p, err := atkConnect(rc, a.Sub+"/same-addr", a.Sub, a.Token, 30); err != nil || p.body[1] != 0 {
		t.Errorf("a panel behind the flooding address: CONNECT %v %x", err, p.body)
	}
	rc.close()
	// Count what is still open: the server closed all but the cap.
	open := 0
	held.Range(func(k, _ any) bool {
		c := k.(net.Conn)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
			open++
		}
		c.Close()
		return true
	})
	if open > 2*32 {
		t.Errorf("%d of the flood's connections were still open, want at most the cap (32 per listener)", open)
	}
	if m := maxFDs.Load(); m > int64(baseFDs+2*32+24) {
		t.Errorf("the server held up to %d descriptors during the flood (%d before), want bounded by the per-address cap", m, baseFDs)
	}
	t.Logf("descriptors: %d before, at most %d during; %d flood connections open at the end", baseFDs, maxFDs.Load(), open)
}

// TestPublishFloodFromOneClient: one approved panel publishes as fast as it
// can, QoS 0 and QoS 1, allowed and refused topics alike. A second panel is
// served within a second throughout and the heap stays bounded.
func TestPublishFloodFromOneClient(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	base := atkStats(t, s)
	host := "5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c"
	payload := []byte(`{"id":"x","op":"mouse.move","x":1,"y":1,"rel":true}`)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	for i, over := range []string{"wss", "tls", "wss", "tls"} {
		c, err := atkDial(s, over, "")
		if err != nil {
			t.Fatal(err)
		}
		rc := newRaw(c, true)
		if p, err := atkConnect(rc, fmt.Sprintf("%s/flood%d", a.Sub, i), a.Sub, a.Token, 30); err != nil || p.body[1] != 0 {
			t.Fatalf("flood CONNECT: %v", err)
		}
		defer rc.close()
		go func() { _, _ = io.Copy(io.Discard, c) }() // read PUBACKs and drop them
		topics := []string{"mfd/v1/hosts/" + host + "/cmd/" + a.Sub, "mfd/v1/hosts/" + host + "/cmd/" + b.Sub, "mfd/v1/hosts/" + host + "/status"}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []byte
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				body := append(encStr(topics[n%len(topics)]), 0)
				first := byte(0x30)
				if n%2 == 1 {
					first = 0x32
					body = append(encStr(topics[n%len(topics)]), byte(n>>8|1), byte(n), 0)
				}
				batch = append(batch, frame(first, append(body, payload...))...)
				if len(batch) > 8<<10 {
					if _, err := c.Write(batch); err != nil {
						return
					}
					sent.Add(int64(len(batch)))
					batch = batch[:0]
				}
			}
		}()
	}
	deadline := time.Now().Add(4 * time.Second)
	var worst time.Duration
	for time.Now().Before(deadline) {
		worst = max(worst, atkServed(t, s, b, time.Second))
	}
	close(stop)
	wg.Wait()
	after := atkStats(t, s)
	t.Logf("flood sent %d bytes; slowest panel round %v; heap %.0f before, %.0f during", sent.Load(), worst, base["heap_alloc"], after["heap_alloc"])
	if after["heap_alloc"] > base["heap_alloc"]+64<<20 {
		t.Errorf("live heap during the flood %.0f, %.0f before: unbounded", after["heap_alloc"], base["heap_alloc"])
	}
	if !s.alive() {
		t.Fatalf("mfd serve died:\n%s", s.out)
	}
}

var _ = tls.VersionTLS13

// TestKeptSessionsPerClientAreBounded: an approved client that connects
// under a fresh identifier each time, asking for its session to be kept
// (MQTT 5 Session Expiry, 3.1.1 clean session 0), leaves at most
// broker.MaxKeptSessions (16) sessions behind, not one per connection;
// resuming a kept session still works.
func TestKeptSessionsPerClientAreBounded(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	first := atkConn{v5: true, clientID: a.Sub + "/k0", user: a.Sub, pass: a.Token, keepStart: true, sessionExpiry: 600}
	for i := 0; i < 100; i++ {
		o := first
		o.clientID = fmt.Sprintf("%s/k%d", a.Sub, i)
		o.v5 = i%2 == 0
		over := []string{"wss", "tls"}[i%2]
		st, err := atkOpen(s, over, o)
		if err != nil || st.code != 0 {
			t.Fatalf("CONNECT %d: %v", i, err)
		}
		_ = st.send([]byte{0xe0, 0})
		st.close()
	}
	var n float64
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		n = atkStats(t, s)["mqtt_clients"]
		if n > 16 {
			return fmt.Errorf("the broker keeps %v sessions for one client after 100 connections, want at most 16", n)
		}
		return nil
	})
	st, err := atkOpen(s, "wss", first)
	if err != nil || st.code != 0 || !st.sessionPresent {
		t.Errorf("resuming the first kept session: %v code %#x present %v, want it present", err, st.code, st.sessionPresent)
	}
	t.Logf("%v sessions kept after 100 connections", n)
}
