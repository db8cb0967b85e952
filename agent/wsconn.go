package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openmfd/mfd/internal/wsnet"
)

// errMalformedPacket means bytes written to a wsConn do not start with a
// valid MQTT fixed header.
var errMalformedPacket = errors.New("malformed MQTT fixed header")

// wsConn is MQTT over a WebSocket as a net.Conn. paho writes each packet
// in three or four pieces (header byte, length, body, sometimes an empty
// slice); sent as they come, each piece is its own WebSocket frame, which
// doubles the round trips over TLS and stalls against brokers that handle
// frames one at a time. wsConn buffers writes until a whole MQTT packet is
// there and sends it as one binary frame. Reads concatenate frames.
//
// It implements sync.Locker, which paho's packet writer takes for the
// length of one packet, so packets from several goroutines never mix.
type wsConn struct {
	*wsnet.Conn // reads, close, addresses and deadlines

	pkt sync.Mutex // held by paho for one packet (Lock/Unlock)

	wmu  sync.Mutex // guards wbuf
	wbuf []byte
}

var (
	_ net.Conn    = (*wsConn)(nil)
	_ sync.Locker = (*wsConn)(nil)
)

// dialWebSocket opens an MQTT WebSocket (subprotocol "mqtt") to u, a ws://
// or wss:// URL.
func dialWebSocket(ctx context.Context, u *url.URL, tlsConf *tls.Config) (net.Conn, error) {
	d := websocket.Dialer{
		Proxy:            nil,
		TLSClientConfig:  tlsConf,
		HandshakeTimeout: 10 * time.Second,
		Subprotocols:     []string{"mqtt"},
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
	}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("opening websocket %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)
		}
		return nil, fmt.Errorf("opening websocket %s: %w", u.Redacted(), err)
	}
	return newWSConn(ws), nil
}

func newWSConn(ws *websocket.Conn) *wsConn { return &wsConn{Conn: wsnet.New(ws)} }

// Lock and Unlock make paho write a packet's pieces without interleaving.
func (c *wsConn) Lock()   { c.pkt.Lock() }
func (c *wsConn) Unlock() { c.pkt.Unlock() }

// Write buffers p and sends every complete MQTT packet in the buffer as one
// binary frame.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = append(c.wbuf, p...)
	for {
		n, err := mqttPacketLen(c.wbuf)
		if err != nil {
			c.wbuf = nil
			return 0, err
		}
		if n == 0 || n > len(c.wbuf) {
			return len(p), nil
		}
		if _, err := c.Conn.Write(c.wbuf[:n]); err != nil {
			c.wbuf = nil
			return 0, err
		}
		rest := copy(c.wbuf, c.wbuf[n:])
		c.wbuf = c.wbuf[:rest]
		if rest == 0 && cap(c.wbuf) > 64<<10 {
			c.wbuf = nil // do not keep a large publish's buffer forever
		}
	}
}

// mqttPacketLen returns the length of the MQTT packet at the start of b,
// or 0 if b is too short to tell. The remaining length is a variable byte
// integer of at most four bytes (MQTT 5, 1.5.5).
func mqttPacketLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	rem, mul := 0, 1
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return 0, nil
		}
		rem += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return 1 + i + rem, nil
		}
		mul *= 128
	}
	return 0, errMalformedPacket
}
