// Package connlimit wraps a net.Listener so that one remote address cannot
// hold more than a fixed number of connections, and so that every
// connection carries its accept time and, until its handshake ends, one deadline
// that covers everything before the application takes over (TLS
// handshake, HTTP headers, WebSocket upgrade, MQTT CONNECT).
package connlimit

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Listener caps concurrent connections per remote IPv4 address or IPv6 /64. When an address is at
// its cap, a new connection displaces that address's oldest connection
// still in its handshake (so silent sockets cannot lock a real client out
// from behind the same address); when every one of them is past its
// handshake, the new connection is closed at once, before any byte is read. The zero value is not
// usable; use New. Accept and Close are safe for concurrent use.
type Listener struct {
	net.Listener
	max     int
	timeout time.Duration
	now     func() time.Time

	mu    sync.Mutex
	conns map[string][]*Conn // open connections per address, oldest first
}

// DefaultMaxPerIP is the cap New applies when Options.MaxPerIP is zero.
const DefaultMaxPerIP = 32

// Options configure New. The zero value caps each address at
// DefaultMaxPerIP connections and sets no handshake deadline.
type Options struct {
	// MaxPerIP caps concurrent connections per remote IP; 0 means
	// DefaultMaxPerIP, negative means no cap.
	MaxPerIP int
	// HandshakeTimeout, when set, clamps every deadline of a connection to
	// accept + HandshakeTimeout until Conn.EndHandshake. Serving HTTP, wrap
	// the handler in EndHandshakeOnRequest, or every request dies at that
	// deadline.
	HandshakeTimeout time.Duration
}

// New wraps l in a Listener with the cap and handshake deadline of o.
func New(l net.Listener, o Options) *Listener {
	if o.MaxPerIP == 0 {
		o.MaxPerIP = DefaultMaxPerIP
	}
	return &Listener{Listener: l, max: o.MaxPerIP, timeout: o.HandshakeTimeout, now: time.Now, conns: map[string][]*Conn{}}
}

// Accept returns the next connection whose address is under the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		wc := l.wrap(c, ip)
		l.mu.Lock()
		var evict *Conn
		if open := l.conns[ip]; l.max > 0 && len(open) >= l.max {
			for _, o := range open {
				if !o.handshakeDone.Load() {
					evict = o
					break
				}
			}
			if evict == nil {
				l.mu.Unlock()
				_ = c.Close()
				continue
			}
			l.remove(ip, evict)
		}
		l.conns[ip] = append(l.conns[ip], wc)
		l.mu.Unlock()
		if evict != nil {
			_ = evict.Close()
		}
		return wc, nil
	}
}

// remove drops c from ip's list; l.mu must be held.
func (l *Listener) remove(ip string, c *Conn) {
	open := l.conns[ip]
	for i, o := range open {
		if o == c {
			open = append(open[:i:i], open[i+1:]...)
			break
		}
	}
	if len(open) == 0 {
		delete(l.conns, ip)
		return
	}
	l.conns[ip] = open
}

// Count reports how many connections from ip (for IPv6, from its /64) are
// open.
func (l *Listener) Count(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns[bucket(ip)])
}

func (l *Listener) wrap(c net.Conn, ip string) *Conn {
	now := l.now()
	wc := &Conn{Conn: c, accepted: now}
	wc.onClose = func() { l.forget(ip, wc) }
	if l.timeout > 0 {
		wc.limit = now.Add(l.timeout)
		_ = c.SetDeadline(wc.limit)
	} else {
		wc.handshakeDone.Store(true)
	}
	return wc
}

func (l *Listener) forget(ip string, c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(ip, c)
}

// hostOf returns the unit the cap counts: the IPv4 address, or the /64 of
// an IPv6 address, since one IPv6 host can pick any address in its /64
// (as authsvc counts pairing requests).
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return bucket(ta.IP.String())
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return bucket(h)
}

func bucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// Conn is a connection accepted by a Listener. Until EndHandshake is
// called, every deadline set on it is clamped to its handshake deadline, so that
// neither the TLS stack nor net/http can extend the time a silent client
// may hold it. Safe for concurrent use as a net.Conn.
type Conn struct {
	net.Conn
	accepted      time.Time
	limit         time.Time
	handshakeDone atomic.Bool
	once          sync.Once
	onClose       func()
}

// Accepted returns when the connection was accepted.
func (c *Conn) Accepted() time.Time { return c.accepted }

// HandshakeDeadline returns the deadline that holds the connection until
// EndHandshake (zero when there is none).
func (c *Conn) HandshakeDeadline() time.Time { return c.limit }

// EndHandshake ends the clamp: deadlines set from now on are taken as they
// are, and the connection can no longer be displaced by a newcomer from its
// address. The deadline in force stays until someone sets another.
func (c *Conn) EndHandshake() { c.handshakeDone.Store(true) }

func (c *Conn) clamp(t time.Time) time.Time {
	if c.handshakeDone.Load() || c.limit.IsZero() {
		return t
	}
	if t.IsZero() || t.After(c.limit) {
		return c.limit
	}
	return t
}

// SetDeadline sets both deadlines, clamped until EndHandshake.
func (c *Conn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

// SetReadDeadline sets the read deadline, clamped until EndHandshake.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

// SetWriteDeadline sets the write deadline, clamped until EndHandshake.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

// Close closes the connection and gives its slot back to its address.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}

type ctxKey struct{}

// ConnContext records c in ctx. Install it (or a function calling it) as
// http.Server.ConnContext so that handlers can find their connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the *Conn that ConnContext recorded, looking
// through wrappers such as *tls.Conn (http.Server.ServeTLS hands
// ConnContext the TLS connection, not the accepted one).
func FromContext(ctx context.Context) (*Conn, bool) {
	c, _ := ctx.Value(ctxKey{}).(net.Conn)
	for i := 0; c != nil && i < 8; i++ {
		if lc, ok := c.(*Conn); ok {
			return lc, true
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return nil, false
}

// BodyTimeout bounds how long, once EndHandshakeOnRequest has lifted the
// handshake deadline, a request's body may take to arrive: a body that
// trickles in a byte at a time would otherwise hold its connection, and its
// address's slot, for ever.
const BodyTimeout = 10 * time.Second

// EndHandshakeOnRequest wraps an HTTP handler so that, once a request's
// headers are in, its connection leaves the handshake deadline and may
// live as long as the http.Server's own timeouts allow (a long poll,
// keep-alive).
// Reading the request is still bounded: the read deadline becomes
// BodyTimeout from now. A handler that goes on waiting after it has read
// its body (a long poll, whose client may hang up meanwhile) clears it with
// http.ResponseController.SetReadDeadline(time.Time{}); handlers that must
// keep the handshake deadline (the MQTT WebSocket endpoint) set their own
// right after.
func EndHandshakeOnRequest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := FromContext(r.Context()); ok {
			if !c.handshakeDone.Load() {
				c.EndHandshake()
				// net/http already cleared its header deadline, which the
				// clamp turned into the handshake limit: clear the write
				// side for real.
				_ = c.Conn.SetWriteDeadline(time.Time{})
			}
			_ = c.Conn.SetReadDeadline(time.Now().Add(BodyTimeout))
		}
		h.ServeHTTP(w, r)
	})
}
