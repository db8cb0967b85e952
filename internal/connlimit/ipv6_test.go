package connlimit

import (
	"net"
	"testing"
	"time"
)

// addrConn is one end of a pipe that claims a remote address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// chanListener hands out the connections sent on it.
type chanListener struct {
	c    chan net.Conn
	done chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { close(l.done); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestCapPerIPv6Prefix: an IPv6 host picks any address in its /64, so the
// cap counts the /64: three addresses of one /64 share a cap of 2, a
// neighbouring /64 has its own, and IPv4-mapped addresses count as IPv4.
func TestCapPerIPv6Prefix(t *testing.T) {
	inner := &chanListener{c: make(chan net.Conn), done: make(chan struct{})}
	l := New(inner, Options{MaxPerIP: 2})
	var peers []net.Conn
	accepted := make(chan net.Conn, 16)
	loop := make(chan struct{})
	go func() {
		defer close(loop)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(ip string) (ok, closed bool) {
		a, b := net.Pipe()
		peers = append(peers, b)
		inner.c <- addrConn{Conn: a, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
		select {
		case <-accepted:
			return true, false
		case <-time.After(200 * time.Millisecond):
			// Over the cap: Accept closed it and waits for the next one.
			_ = b.SetReadDeadline(time.Now().Add(time.Second))
			_, err := b.Read(make([]byte, 1))
			return false, err != nil
		}
	}
	for _, ip := range []string{"2001:db8::1", "2001:db8::ffff:2"} {
		if ok, _ := dial(ip); !ok {
			t.Fatalf("connection from %s refused under the cap", ip)
		}
	}
	if ok, closed := dial("2001:db8::abcd:3"); ok || !closed {
		t.Errorf("a third address of the same /64 was accepted (%v) or left open; want it closed at the cap", ok)
	}
	if n := l.Count("2001:db8::42"); n != 2 {
		t.Errorf("Count of the /64 = %d, want 2", n)
	}
	if ok, _ := dial("2001:db8:0:1::1"); !ok {
		t.Errorf("a connection from the next /64 was refused")
	}
	for _, ip := range []string{"::ffff:192.0.2.1", "192.0.2.1"} {
		if ok, _ := dial(ip); !ok {
			t.Errorf("connection from %s refused under the cap", ip)
		}
	}
	if n := l.Count("192.0.2.1"); n != 2 {
		t.Errorf("Count(192.0.2.1) = %d, want 2 (IPv4-mapped counts as IPv4)", n)
	}
	_ = l.Close()
	<-loop
	for _, p := range peers {
		p.Close()
	}
}
