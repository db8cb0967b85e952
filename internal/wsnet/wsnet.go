// Package wsnet adapts a WebSocket carrying MQTT to a net.Conn: reads run
// across binary frames, and each Write is one binary frame. The broker's
// /mqtt endpoint, the agent's dialer and the benchmark's panels all use it,
// so they frame MQTT the same way.
package wsnet

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrTextFrame is returned by Read when the peer sends a text frame: MQTT
// over WebSocket uses binary frames only.
var ErrTextFrame = errors.New("websocket: text frame on an mqtt connection")

// Conn is a WebSocket as a net.Conn. The zero value is not usable; use New.
// Read and Write may be called from different goroutines at once; each is
// serialised with itself.
type Conn struct {
	ws *websocket.Conn

	rmu sync.Mutex
	r   io.Reader

	wmu sync.Mutex
	// gorilla's write deadline may not be set while a write is under way,
	// so SetWriteDeadline records it and Write applies it.
	wdl atomic.Pointer[time.Time]

	closeOnce sync.Once
	closeErr  error
}

var _ net.Conn = (*Conn)(nil)

// New wraps ws.
func New(ws *websocket.Conn) *Conn { return &Conn{ws: ws} }

// Read reads from the current binary frame, moving on to the next as each
// ends. A close frame from the peer reads as io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, ErrTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write sends p as one binary frame.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var dl time.Time
	if t := c.wdl.Load(); t != nil {
		dl = *t
	}
	_ = c.ws.SetWriteDeadline(dl)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a close frame when it can within 100 ms, then closes the
// connection. It is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(100*time.Millisecond))
		c.closeErr = c.ws.Close()
	})
	return c.closeErr
}

func (c *Conn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets the read deadline and the deadline of later writes.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.SetWriteDeadline(t)
	return c.ws.SetReadDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline applies to the writes that start after it.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(&t)
	return nil
}
