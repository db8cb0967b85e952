package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

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
