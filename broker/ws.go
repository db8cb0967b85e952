package broker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openmfd/mfd/internal/connlimit"
	"github.com/openmfd/mfd/internal/origin"
	"github.com/openmfd/mfd/internal/wire"
	"github.com/openmfd/mfd/internal/wsnet"
)

// Subprotocol is the WebSocket subprotocol MQTT clients must ask for.
const Subprotocol = "mqtt"

// ConnContext records c and its accept time in ctx, so that the /mqtt
// handler can hold the connection to one deadline from accept to CONNECT.
// Install it as http.Server.ConnContext; with a connlimit.Listener the
// accept time is the listener's, otherwise the moment ConnContext runs.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	ctx = connlimit.ConnContext(ctx, c)
	if _, ok := connlimit.FromContext(ctx); ok {
		return ctx
	}
	return context.WithValue(ctx, acceptKey{}, time.Now())
}

type acceptKey struct{}

// acceptedAt returns when r's connection was accepted, or now.
func acceptedAt(r *http.Request) time.Time {
	if c, ok := connlimit.FromContext(r.Context()); ok {
		return c.Accepted()
	}
	if t, ok := r.Context().Value(acceptKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// RegisterRoutes adds the WebSocket endpoint, /mqtt, to mux. Serve mux
// with ConnContext installed.
func (b *Broker) RegisterRoutes(mux *http.ServeMux) { mux.Handle("/mqtt", b.Handler()) }

// Handler returns the /mqtt WebSocket endpoint: Origin checked (a foreign
// one gets 403), subprotocol mqtt required, then the connection is served
// by the broker until it ends. Safe for concurrent use.
func (b *Broker) Handler() http.Handler {
	up := &websocket.Upgrader{
		Subprotocols:    []string{Subprotocol},
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Origin is checked before Upgrade, with the JSON error body.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeError(w, status, "bad_request", reason.Error())
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := b.handshakeDeadline(acceptedAt(r))
		if !origin.Allowed(r, b.opts.AllowedOrigins) {
			writeError(w, http.StatusForbidden, "forbidden", "origin not allowed")
			return
		}
		if !websocket.IsWebSocketUpgrade(r) {
			writeError(w, http.StatusBadRequest, "bad_request", "websocket upgrade required")
			return
		}
		if !slices.Contains(websocket.Subprotocols(r), Subprotocol) {
			writeError(w, http.StatusBadRequest, "bad_request", "subprotocol mqtt required")
			return
		}
		b.mu.Lock()
		ok := b.started && !b.closed
		b.mu.Unlock()
		if !ok {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "broker not running")
			return
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, "timeout", "handshake took too long")
			return
		}
		if c, ok := connlimit.FromContext(r.Context()); ok {
			// From here the deadline below, not the listener's clamp,
			// holds the connection; mochi replaces it after CONNECT.
			c.EndHandshake()
		}
		u := *up
		u.HandshakeTimeout = remaining
		ws, err := u.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered
		}
		ws.SetReadLimit(2 * MaxPacketSize)
		conn := wsnet.New(ws)
		_ = conn.SetDeadline(deadline)
		_ = b.serveConn(ListenerWS, conn, nil)
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.ErrorInfo{Code: code, Message: msg}})
}
