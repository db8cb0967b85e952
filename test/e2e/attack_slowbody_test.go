package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestSlowRequestBodyIsBounded: a request whose headers arrive in time is
// released from the 5 s handshake deadline, but its body may not then
// trickle in for ever: a body dripped a byte a second, on /authorise and on
// any other path, is cut off within connlimit.BodyTimeout (10 s). Without that bound one address
// holds its 32 connections indefinitely (and an IPv6 host, whose every
// address counts apart, holds as many as it likes). A ?wait= long poll,
// whose body arrives at once, still waits its full time.
func TestSlowRequestBodyIsBounded(t *testing.T) {
	s := startServer(t)
	var wg sync.WaitGroup
	longPoll := make(chan authResp, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		longPoll <- atkAuthoriseFrom(t, s, atkHTTPS(atkSrc()), uuid.NewString(), "long poll", "?wait=12", "")
	}()
	start := time.Now()
	for _, req := range []string{
		"POST /authorise HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
		"GET /info HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n",
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := atkDialTLS(s.addr, atkSrc(), nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, req, s.addr)
			go func() {
				for i := 0; i < 40; i++ {
					time.Sleep(time.Second)
					if _, err := c.Write([]byte{' '}); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(25 * time.Second))
			_, err = io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%q: a body dripped a byte a second still open after %v", firstLine(req), time.Since(start).Round(time.Second))
			} else {
				t.Logf("%q: closed after %v", firstLine(req), time.Since(start).Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
	r := <-longPoll
	if took := time.Since(start); r.Status != 202 || took < 11500*time.Millisecond {
		t.Errorf("a ?wait=12 long poll (longer than connlimit.BodyTimeout) answered %d after %v, want 202 after its full wait", r.Status, took)
	}
}
