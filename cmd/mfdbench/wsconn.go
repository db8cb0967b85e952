package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openmfd/mfd/internal/wsnet"
)

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
	return wsnet.New(ws), nil
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
		serve(wsnet.New(ws))
	})
}
