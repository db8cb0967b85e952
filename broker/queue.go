package broker

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmfd/mfd/internal/ids"
)

// errSlowConsumer is what a write to a connection closed for not reading
// returns.
var errSlowConsumer = errors.New("slow consumer: closed for not reading")

// drainTimeout bounds how long a closing connection may take to write what
// it still holds (a DISCONNECT among it) before it is cut.
const drainTimeout = time.Second

// queueConn is every broker connection as mochi sees it. mochi queues up
// to MaximumClientWritesPending packets per connection and its writer
// blocks on a peer that stops reading, so a client with many connections
// that never read could make the broker hold gigabytes. Once its session
// is authenticated, a queueConn takes each write at once into its own
// buffer, counted against its client's MaxQueuedBytes (clientQueue), and
// writes it out from its own goroutine; mochi's queue then stays near
// empty. Before that (CONNACK refusals) writes go straight through.
type queueConn struct {
	net.Conn
	q atomic.Pointer[clientQueue] // set once, by attach

	mu      sync.Mutex
	cond    *sync.Cond
	bufs    [][]byte // one per write: what is held is what is counted
	closing bool     // Close was called: write out what is held, then close
	dead    bool     // closed for not reading: drop what is held
	done    chan struct{}
}

func newQueueConn(c net.Conn) *queueConn {
	qc := &queueConn{Conn: c, done: make(chan struct{})}
	qc.cond = sync.NewCond(&qc.mu)
	return qc
}

// Write queues p once the connection is attached to its client's queue.
func (c *queueConn) Write(p []byte) (int, error) {
	q := c.q.Load()
	if q == nil {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.mu.Unlock()
	if victim := q.reserve(c, len(p)); victim != nil {
		victim.kill()
		if victim == c {
			return 0, errSlowConsumer
		}
	}
	b := append([]byte(nil), p...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.dead {
		q.release(c, len(p))
		return 0, net.ErrClosed
	}
	c.bufs = append(c.bufs, b)
	c.cond.Signal()
	return len(p), nil
}

// flush writes out what is queued until the connection closes.
func (c *queueConn) flush(q *clientQueue) {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.bufs) == 0 && !c.closing && !c.dead {
			c.cond.Wait()
		}
		if len(c.bufs) == 0 || c.dead {
			c.mu.Unlock()
			_ = c.Conn.Close()
			return
		}
		bufs := c.bufs
		c.bufs = nil
		c.mu.Unlock()
		for i, b := range bufs {
			_, err := c.Conn.Write(b)
			q.release(c, len(b))
			bufs[i] = nil
			if err != nil {
				n := 0
				for _, rest := range bufs[i+1:] {
					n += len(rest)
				}
				q.release(c, n)
				c.mu.Lock()
				c.dead = true
				c.mu.Unlock()
				_ = c.Conn.Close()
				c.drop()
				return
			}
		}
	}
}

// drop releases whatever is still queued on a dead connection.
func (c *queueConn) drop() {
	c.mu.Lock()
	n := 0
	for _, b := range c.bufs {
		n += len(b)
	}
	c.bufs = nil
	c.mu.Unlock()
	c.q.Load().release(c, n)
}

// Close stops the connection. What is queued (a DISCONNECT, say) is still
// written, for at most drainTimeout; a read blocked in mochi returns at
// once.
func (c *queueConn) Close() error {
	if c.q.Load() == nil {
		return c.Conn.Close()
	}
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	c.cond.Signal()
	c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(time.Now())
	_ = c.Conn.SetWriteDeadline(time.Now().Add(drainTimeout))
	return nil
}

// kill closes a connection that does not read, dropping what it holds.
// The write its writer is blocked in stays counted until it returns.
func (c *queueConn) kill() {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	c.cond.Signal()
	c.mu.Unlock()
	c.drop()
	q := c.q.Load()
	q.log.Warn("mqtt connection closed: it stopped reading", "client", q.sub, "remote", c.RemoteAddr().String(), "held", q.markDead(c))
	// Closing also ends the write blocked in flush. It may itself wait
	// (a WebSocket tries a close frame for 100 ms), and kill runs in
	// another connection's writer, which must not stall meanwhile.
	go func() { _ = c.Conn.Close() }()
}

// wait returns once the connection's writer has finished: at most
// drainTimeout after Close, when the connection is cut (a write already
// blocked on a peer that does not read ignores a later deadline).
func (c *queueConn) wait() {
	if c.q.Load() == nil {
		return
	}
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.Conn.Close()
		<-c.done
	}
}

// clientQueue counts what all connections of one client hold unwritten.
// Its methods are safe for concurrent use.
type clientQueue struct {
	sub ids.Subject
	log *slog.Logger

	mu    sync.Mutex
	total int
	conns map[*queueConn]*held
}

// held is what one connection holds; a dead one is never a victim again
// but counts until its blocked write returns.
type held struct {
	n    int
	dead bool
}

// attach counts c against q and starts c's writer. It runs in OnConnect,
// before the CONNACK, when nothing else writes to c.
func (q *clientQueue) attach(c *queueConn) {
	q.mu.Lock()
	q.conns[c] = &held{}
	q.mu.Unlock()
	c.q.Store(q)
	go c.flush(q)
}

// detach forgets c, whose writer has finished, and reports whether q has
// no connections left.
func (q *clientQueue) detach(c *queueConn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if h := q.conns[c]; h != nil {
		q.total -= h.n
	}
	delete(q.conns, c)
	return len(q.conns) == 0
}

// reserve counts n more bytes for c. Over MaxQueuedBytes it returns the
// live connection holding the most, the one that stopped reading, for the
// caller to kill; the reservation stands unless that is c itself.
func (q *clientQueue) reserve(c *queueConn, n int) (victim *queueConn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total+n > MaxQueuedBytes {
		most := -1
		for k, h := range q.conns {
			if !h.dead && h.n > most {
				victim, most = k, h.n
			}
		}
		if victim == c || victim == nil {
			return c
		}
	}
	if h := q.conns[c]; h != nil {
		h.n += n
		q.total += n
	}
	return victim
}

// markDead excludes c from the victims and returns what it still holds.
func (q *clientQueue) markDead(c *queueConn) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	h := q.conns[c]
	if h == nil {
		return 0
	}
	h.dead = true
	return h.n
}

// release uncounts n bytes of c: written, or dropped.
func (q *clientQueue) release(c *queueConn, n int) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if h := q.conns[c]; h != nil {
		n = min(n, h.n)
		h.n -= n
		q.total -= n
	}
}
