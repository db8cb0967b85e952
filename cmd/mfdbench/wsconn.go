package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is a WebSocket as a net.Conn: reads run across binary messages,
// each Write is one binary message. It is broker/ws.go's adapter, copied so
// that system B (bare mochi) serves WebSockets exactly as our broker does,
// and used by the bench's panels, which write each MQTT packet with one
// Write (one frame, as MQTT.js in the browser does).
type wsConn struct {
	ws *websocket.Conn

	rmu sync.Mutex
	r   io.Reader

	wmu sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, errors.New("websocket: text message on an mqtt connection")
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

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error                       { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *wsConn) SetDeadline(t time.Time) error {
	_ = c.ws.SetWriteDeadline(t)
	return c.ws.SetReadDeadline(t)
}

// dialWS opens an MQTT WebSocket to url (subprotocol mqtt).
func dialWS(ctx context.Context, url string, tc *tls.Config) (net.Conn, error) {
	d := websocket.Dialer{
		TLSClientConfig:  tc,
		HandshakeTimeout: 10 * time.Second,
		Subprotocols:     []string{"mqtt"},
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
	}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dialing %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dialing %s: %w", url, err)
	}
	return &wsConn{ws: ws}, nil
}

// wsHandler upgrades to an MQTT WebSocket, with broker.Handler's buffer
// sizes and read limit, and hands the connection to serve.
func wsHandler(serve func(net.Conn)) http.Handler {
	up := &websocket.Upgrader{
		Subprotocols:    []string{"mqtt"},
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(websocket.Subprotocols(r), "mqtt") {
			http.Error(w, "subprotocol mqtt required", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ws.SetReadLimit(32 << 10)
		serve(&wsConn{ws: ws})
	})
}
