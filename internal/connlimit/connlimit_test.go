package connlimit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/internal/poll"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until

// serve accepts from l until it closes, handing each conn to fn.
func serve(t *testing.T, l net.Listener, fn func(net.Conn)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fn(c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
}

func TestCapPerIP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Options{MaxPerIP: 3})
	held := make(chan net.Conn, 10)
	serve(t, l, func(c net.Conn) { held <- c })

	var clients []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		defer c.Close()
	}
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if n := l.Count("127.0.0.1"); n != 3 {
			return fmt.Errorf("Count(127.0.0.1) = %d, want 3", n)
		}
		return nil
	})
	// The two over the cap are closed by the server.
	closed := 0
	for _, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			closed++
		}
	}
	if closed != 2 {
		t.Errorf("%d connections closed, want the 2 over the cap", closed)
	}
	// Closing one frees a slot.
	(<-held).Close()
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if n := l.Count("127.0.0.1"); n != 2 {
			return fmt.Errorf("Count(127.0.0.1) = %d after a close, want 2", n)
		}
		return nil
	})
	for len(held) > 0 {
		(<-held).Close()
	}
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if n := l.Count("127.0.0.1"); n != 0 {
			return fmt.Errorf("Count(127.0.0.1) = %d after all closed, want 0", n)
		}
		return nil
	})
}

func TestHandshakeClamp(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Options{MaxPerIP: -1, HandshakeTimeout: 300 * time.Millisecond})
	got := make(chan error, 2)
	serve(t, l, func(c net.Conn) {
		defer c.Close()
		lc := c.(*Conn)
		// Someone (net/http, crypto/tls) tries to lift the deadline.
		_ = c.SetReadDeadline(time.Time{})
		_, err := c.Read(make([]byte, 1))
		got <- err
		if lc.Accepted().IsZero() || lc.HandshakeDeadline().Sub(lc.Accepted()) != 300*time.Millisecond {
			got <- fmt.Errorf("accepted %v, limit %v", lc.Accepted(), lc.HandshakeDeadline())
			return
		}
		lc.EndHandshake()
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		got <- err
	})
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := <-got; err == nil || !isTimeout(err) {
		t.Fatalf("silent read: %v, want the handshake deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("handshake deadline hit after %v, want about 300ms", d)
	}
	if err := <-got; err == nil || !isTimeout(err) {
		t.Errorf("read after EndHandshake: %v, want its own deadline", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestFromContextThroughTLS(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	lc := &Conn{Conn: a, accepted: time.Now()}
	ctx := ConnContext(context.Background(), tls.Server(lc, &tls.Config{}))
	got, ok := FromContext(ctx)
	if !ok || got != lc {
		t.Errorf("FromContext(tls over Conn) = %v, %v; want the Conn", got, ok)
	}
	if _, ok := FromContext(ConnContext(context.Background(), b)); ok {
		t.Errorf("FromContext(plain conn) found a Conn")
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Errorf("FromContext(empty) found a Conn")
	}
}

var _ io.Closer = (*Conn)(nil)

// TestNewConnDisplacesOldestInHandshake: silent sockets from one address
// cannot lock out a real client behind the same address; they give way,
// oldest first, while connections past their handshake are kept.
func TestNewConnDisplacesOldestInHandshake(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Options{MaxPerIP: 3, HandshakeTimeout: time.Minute})
	accepted := make(chan *Conn, 10)
	serve(t, l, func(c net.Conn) { accepted <- c.(*Conn) })

	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	established := dial()
	(<-accepted).EndHandshake() // past its handshake: never displaced
	silent1, silent2 := dial(), dial()
	<-accepted
	<-accepted
	real := dial()
	<-accepted
	if n := l.Count("127.0.0.1"); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	isClosed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err)
	}
	if !isClosed(silent1) {
		t.Errorf("the oldest silent connection was not displaced")
	}
	if isClosed(silent2) || isClosed(established) || isClosed(real) {
		t.Errorf("a connection other than the oldest silent one was closed")
	}
}
