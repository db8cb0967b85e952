package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// echoServer is a bare WebSocket echo over TLS on loopback: the transport
// half of the floor, with no MQTT and no broker.
type echoServer struct {
	srv *http.Server
	url string
}

func startEcho(cert tls.Certificate) (*echoServer, error) {
	up := &websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, p, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	return &echoServer{srv: srv, url: "wss://" + ln.Addr().String() + "/"}, nil
}

func (e *echoServer) close() { _ = e.srv.Close() }

// floorResult holds the floor's parts and their sum, sample by sample.
type floorResult struct {
	halfRTT *hist // half a WSS round trip
	xtest   *hist // XTest press sent to KeyPress seen by another client
	sum     *hist // the two above, taken at the same tick
}

// runFloor measures, on the sparse schedule, half a WSS echo round trip
// (a 64-byte binary message, the size of a key.tap PUBLISH) and, right
// after it, an XTest key press from one X client to another.
func (e *env) runFloor(ctx context.Context, spec loadSpec, tc *tls.Config) (*floorResult, error) {
	d := websocket.Dialer{TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.DialContext(ctx, e.echo.url, nil)
	if err != nil {
		return nil, fmt.Errorf("dialing the echo server: %w", err)
	}
	defer ws.Close()
	msg := make([]byte, 64)
	got := make(chan time.Time, 4)
	e.w.setOnKey(func(kc byte, _ uint16, at time.Time) {
		select {
		case got <- at:
		default:
		}
	})
	defer e.w.setOnKey(e.onLoadKey)
	res := &floorResult{halfRTT: newHist(), xtest: newHist(), sum: newHist()}
	// One untimed exchange of each first, like the warm-up of the systems.
	if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return nil, err
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		return nil, err
	}
	base := time.Now().Add(20 * time.Millisecond)
	for i, at := range spec.intended {
		waitUntil(base.Add(at), true)
		t0 := time.Now()
		if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return nil, err
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			return nil, err
		}
		half := time.Since(t0) / 2
		res.halfRTT.record(half)

		for len(got) > 0 {
			<-got
		}
		kc := e.kc[i%len(keyNames)]
		t1 := time.Now()
		if err := e.w.fakeTap(kc); err != nil {
			return nil, err
		}
		select {
		case seen := <-got:
			x := seen.Sub(t1)
			res.xtest.record(x)
			res.sum.record(half + x)
		case <-time.After(time.Second):
			res.xtest.drop(1)
			res.sum.drop(1)
		}
	}
	return res, nil
}
