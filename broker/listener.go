package broker

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/openmfd/mfd/internal/connlimit"
)

// listener is a mochi Listener that accepts nothing itself: its
// connections arrive through serveConn (the WebSocket handler, Pipe). It
// exists so that mochi knows the ID and Close drops its clients.
type listener struct {
	id   string
	addr string
}

var _ listeners.Listener = (*listener)(nil)

func (l *listener) ID() string                  { return l.id }
func (l *listener) Address() string             { return l.addr }
func (l *listener) Protocol() string            { return "mqtt" }
func (l *listener) Init(*slog.Logger) error     { return nil }
func (l *listener) Serve(listeners.EstablishFn) {}
func (l *listener) Close(closeClients listeners.CloseFn) {
	closeClients(l.id)
}

// tcpListener serves MQTT on TCP, over TLS when tls is set: the
// --mqtt-tls and --mqtt-local listeners. Unlike mochi's own TCP listener it
// holds each connection to the handshake deadline from accept to CONNECT
// (the connlimit.Listener sets it) and caps connections per address.
type tcpListener struct {
	listener
	b   *Broker
	ln  *connlimit.Listener
	tls *tls.Config

	wg   sync.WaitGroup
	once sync.Once
}

// Serve accepts until the listener is closed.
// Its WaitGroup was incremented when the listener was made.
func (l *tcpListener) Serve(listeners.EstablishFn) {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		var hs func(net.Conn) (net.Conn, error)
		if l.tls != nil {
			hs = l.tlsHandshake
		}
		go func() { _ = l.b.serveConn(l.id, c, hs) }()
	}
}

func (l *tcpListener) tlsHandshake(c net.Conn) (net.Conn, error) {
	tc := tls.Server(c, l.tls)
	// The connlimit deadline (accept + HandshakeTimeout) is already set
	// and stays in force through CONNECT; mochi replaces it afterwards.
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	return tc, nil
}

// Close stops accepting, drops this listener's clients and waits for the
// accept loop.
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() {
		_ = l.ln.Close()
		closeClients(l.id)
		l.wg.Wait()
	})
}

// handshakeDeadline is when a connection accepted at t must have sent
// CONNECT.
func (b *Broker) handshakeDeadline(accepted time.Time) time.Time {
	return accepted.Add(b.opts.HandshakeTimeout)
}
