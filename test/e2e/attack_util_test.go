package e2e

// Helpers for the attack, fault and soak suite (attack_*_test.go, issue 7).
// Their names begin with atk so that they never collide with the helpers
// of the other e2e files.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var atkSrcN atomic.Uint32

// atkSrc returns a loopback address no other test uses (127.0.x.y, x >= 10),
// so that an attack from one address meets the per-address cap alone and a
// legitimate client on 127.0.0.1 is a different address.
func atkSrc() string {
	n := atkSrcN.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 10+n/62500%200, n/250%250+1, n%250+1)
}

func atkDialer(src string) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	return d
}

// atkDialTCP opens a plain TCP connection to addr from src.
func atkDialTCP(addr, src string) (net.Conn, error) {
	return atkDialer(src).Dial("tcp", addr)
}

// atkDialTLS opens a TLS connection to addr from src; cache, when set,
// lets the handshake resume a session.
func atkDialTLS(addr, src string, cache tls.ClientSessionCache) (net.Conn, error) {
	return tls.DialWithDialer(atkDialer(src), "tcp", addr, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache})
}

// atkDialWSS upgrades to MQTT over WebSocket at addr from src.
func atkDialWSS(addr, src string) (net.Conn, error) {
	d := websocket.Dialer{
		NetDialContext:   atkDialer(src).DialContext,
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true},
		HandshakeTimeout: 5 * time.Second,
		Subprotocols:     []string{"mqtt"},
	}
	ws, _, err := d.Dial("wss://"+addr+"/mqtt", nil)
	if err != nil {
		return nil, err
	}
	return &wsConn{ws: ws}, nil
}

// atkDial opens an MQTT transport to s: "wss" (the HTTPS port) or "tls"
// (the --mqtt-tls listener), from src.
func atkDial(s *server, over, src string) (net.Conn, error) {
	if over == "wss" {
		return atkDialWSS(s.addr, src)
	}
	return atkDialTLS(s.tlsAddr, src, nil)
}

// atkConnect sends a CONNECT with the given keepalive and returns the
// CONNACK as read.
func atkConnect(c *rawClient, clientID, user, pass string, keepalive uint16) (packet, error) {
	if err := c.send(connectPacket(c.v5, clientID, user, pass, keepalive)); err != nil {
		return packet{}, err
	}
	p, err := c.read(5 * time.Second)
	if err != nil {
		return p, fmt.Errorf("reading CONNACK: %w", err)
	}
	if p.typ != 2 || len(p.body) < 2 {
		return p, fmt.Errorf("want CONNACK, got type %d %x", p.typ, p.body)
	}
	return p, nil
}

// atkPing sends PINGREQ and waits for PINGRESP, dropping any other packet
// read meanwhile.
func atkPing(c *rawClient, timeout time.Duration) error {
	if err := c.send([]byte{0xc0, 0}); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		p, err := c.read(time.Until(deadline))
		if err != nil {
			return fmt.Errorf("waiting for PINGRESP: %w", err)
		}
		switch p.typ {
		case 13:
			return nil
		case 14:
			return errors.New("server sent DISCONNECT instead of PINGRESP")
		}
	}
}

// atkV5Props returns the property block of a v5 CONNACK, or nil.
func atkConnackProps(p packet) map[byte][]byte {
	if len(p.body) < 3 {
		return nil
	}
	n, k := binary.Uvarint(p.body[2:])
	if k <= 0 || 2+k+int(n) > len(p.body) {
		return nil
	}
	b := p.body[2+k : 2+k+int(n)]
	out := map[byte][]byte{}
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		var l int
		switch id {
		case 0x11, 0x27: // four-byte integers
			l = 4
		case 0x13, 0x21, 0x22: // two-byte integers
			l = 2
		case 0x24, 0x25, 0x28, 0x29, 0x2a: // bytes
			l = 1
		case 0x12, 0x15, 0x16, 0x1a, 0x1c, 0x1f: // strings and binary data
			if len(b) < 2 {
				return out
			}
			l = 2 + int(binary.BigEndian.Uint16(b))
		case 0x26: // user property
			if len(b) < 2 {
				return out
			}
			k1 := 2 + int(binary.BigEndian.Uint16(b))
			if len(b) < k1+2 {
				return out
			}
			l = k1 + 2 + int(binary.BigEndian.Uint16(b[k1:]))
		default:
			return out
		}
		if len(b) < l {
			return out
		}
		out[id] = b[:l]
		b = b[l:]
	}
	return out
}

// atkServed checks that a legitimate panel is served while an attack runs:
// a new WSS session connects, subscribes and answers a ping, all within
// budget. It returns how long that took.
func atkServed(t *testing.T, s *server, a authResp, budget time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := atkDialWSS(s.addr, "127.0.0.1")
	if err != nil {
		t.Fatalf("a legitimate panel could not open a WebSocket: %v", err)
	}
	rc := newRaw(c, true)
	defer rc.close()
	if p, err := atkConnect(rc, a.Sub+"/probe", a.Sub, a.Token, 30); err != nil || p.body[1] != 0 {
		t.Fatalf("a legitimate panel's CONNECT: %v %x", err, p.body)
	}
	if code, err := rc.subscribe(1, "mfd/v1/hosts/+/status"); err != nil || code > 2 {
		t.Fatalf("a legitimate panel's SUBSCRIBE: %#x %v", code, err)
	}
	if err := atkPing(rc, budget); err != nil {
		t.Fatalf("a legitimate panel's PING: %v", err)
	}
	took := time.Since(start)
	if took > budget {
		t.Errorf("a legitimate panel took %v to connect, subscribe and ping, want within %v", took, budget)
	}
	return took
}

// atkStats runs `mfd stats --json` against s.
func atkStats(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	out, err := s.cli("stats", "--json")
	if err != nil {
		t.Fatalf("mfd stats --json: %v\n%s", err, out)
	}
	var st map[string]float64
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("mfd stats --json printed %q: %v", out, err)
	}
	return st
}

// atkFDs counts the server's open file descriptors from outside.
func atkFDs(s *server) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	return len(fds)
}

// atkClosed reports whether the server closed c within d: a read that ends
// in EOF or a reset, after any packets the server sent first.
func atkClosed(c *rawClient, d time.Duration) (bool, []packet) {
	var got []packet
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, got
		}
		p, err := c.read(left)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, got
			}
			return true, got
		}
		got = append(got, p)
	}
}

// atkHTTPS is an HTTPS client that dials from src.
func atkHTTPS(src string) *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return atkDialer(src).DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
}
