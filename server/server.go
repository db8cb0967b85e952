// Package server is `mfd serve` without its flags and without this host's
// agent: the auth service, the broker, one HTTPS listener whose mux
// carries the routes of the packages that own them (authsvc's API, the
// broker's /mqtt, the panel) behind the security headers and the
// per-address connection limits, and the admin channel. cmd/mfd and the
// bench start servers through it; nothing else wires these parts.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/broker"
	"github.com/openmfd/mfd/internal/connlimit"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/panel"
	"github.com/openmfd/mfd/server/admin"
)

// Options configure a Server. The zero value of each field but StateDir
// takes the default of the part it configures.
type Options struct {
	// StateDir holds the server's ID, keys, certificate, clients and admin
	// channel. Required.
	StateDir string
	// Listen is the HTTPS and MQTT-over-WebSocket address; empty means
	// "127.0.0.1:0", a free loopback port, which Addr tells.
	Listen string
	// MQTTTLSAddr and MQTTLocalAddr, when set, add the broker's MQTT over
	// TLS and plain loopback MQTT listeners.
	MQTTTLSAddr, MQTTLocalAddr string
	// Version is served in /info.
	Version string
	// Logger receives every part's logs, each with a "part" attribute;
	// nil discards them.
	Logger *slog.Logger
	// Notifier is told about each pairing request; authsvc.LogNotifier
	// when nil.
	Notifier authsvc.Notifier
	// AllowedOrigins are extra exact origins allowed besides the server's
	// own, for /authorise and the WebSocket.
	AllowedOrigins []string
	// TokenTTL is the lifetime of panel and agent tokens; 15 minutes when
	// zero.
	TokenTTL time.Duration
	// MaxConnsPerIP caps connections per remote address on every
	// listener; 32 when zero, negative means no cap (the bench, whose
	// clients all come from 127.0.0.1).
	MaxConnsPerIP int
	// MaxClients caps the MQTT clients connected at once; the broker's
	// default when zero.
	MaxClients int
	// PairingRate and PairingBurst are the per-address token bucket of
	// POST /authorise, and MaxPending bounds the pending pairing
	// requests; authsvc's defaults when zero.
	PairingRate  float64
	PairingBurst int
	MaxPending   int
}

// Server is one mfd server. Use New, then Start; Close stops it. Its
// methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	svc  *authsvc.Service
	br   *broker.Broker

	// input switches remote input on the server's own host, for the
	// admin channel; nil while no agent of this host runs here.
	input atomic.Pointer[InputSwitch]

	mu      sync.Mutex
	started bool
	closed  bool
	ln      net.Listener
	hs      *http.Server
	errc    chan error
	// The admin channel: its listener, what ends its connections and
	// closed when it has stopped serving.
	adminLn     net.Listener
	adminCancel context.CancelFunc
	adminDone   chan struct{}
}

// InputSwitch is the agent of the server's own host, as the admin
// channel's `mfd input on|off` needs it.
type InputSwitch interface {
	SetInput(on bool)
}

// New builds the server's parts: the auth service (which loads or makes
// the state in StateDir) and the broker. It opens no socket.
func New(o Options) (*Server, error) {
	if o.StateDir == "" {
		return nil, errors.New("server: no state dir")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, log: o.Logger, errc: make(chan error, 1)}
	svc, err := authsvc.New(authsvc.Options{
		StateDir:       o.StateDir,
		Version:        o.Version,
		Logger:         o.Logger.With("part", "auth"),
		Notifier:       o.Notifier,
		AllowedOrigins: o.AllowedOrigins,
		TokenTTL:       o.TokenTTL,
		Rate:           o.PairingRate,
		Burst:          o.PairingBurst,
		MaxPending:     o.MaxPending,
	})
	if err != nil {
		return nil, err
	}
	br, err := broker.New(broker.Options{
		Authenticator:  svc,
		Logger:         o.Logger.With("part", "broker"),
		AllowedOrigins: o.AllowedOrigins,
		TLSConfig:      svc.TLSConfig(),
		MQTTTLSAddr:    o.MQTTTLSAddr,
		MQTTLocalAddr:  o.MQTTLocalAddr,
		MaxConnsPerIP:  o.MaxConnsPerIP,
		MaxClients:     o.MaxClients,
	})
	if err != nil {
		svc.Close()
		return nil, err
	}
	// The service revokes through the broker, which needs the service to
	// authenticate: the one cycle of the graph, closed here.
	svc.SetRevoker(br)
	s.svc, s.br = svc, br
	return s, nil
}

// Start opens the admin channel, starts the auth service, the broker and
// its MQTT listeners and serves HTTPS on Listen. It fails if another server
// is live on the state dir. On error, Close releases whatever started.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errors.New("starting server: closed")
	case s.started:
		s.mu.Unlock()
		return errors.New("starting server: already started")
	}
	s.started = true
	s.mu.Unlock()

	// The admin channel first: holding it makes this the only server on
	// the state dir before anything there is touched.
	aln, err := admin.Listen(s.opts.StateDir)
	if err != nil {
		return fmt.Errorf("opening the admin channel: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.mu.Lock()
	s.adminLn, s.adminCancel, s.adminDone = aln, cancel, done
	closed := s.closed
	s.mu.Unlock()
	if closed {
		cancel()
		_ = aln.Close()
		return errors.New("starting server: closed")
	}
	go func() {
		defer close(done)
		admin.Serve(actx, aln, adminHandler{s.svc, s}, s.log.With("part", "admin"))
	}()
	s.log.Info("admin channel open", "addr", aln.Addr().String())

	if err := s.svc.Start(ctx); err != nil {
		return err
	}
	if err := s.br.Start(ctx); err != nil {
		return err
	}
	addr := s.opts.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	s.svc.RegisterRoutes(mux)
	s.br.RegisterRoutes(mux)
	panel.RegisterRoutes(mux)
	tc := s.svc.TLSConfig()
	hs := &http.Server{
		// One deadline from accept covers the TLS handshake, the HTTP
		// headers, the WebSocket upgrade and MQTT CONNECT (the broker's
		// listener limits); EndHandshakeOnRequest lifts it for plain HTTP
		// requests once their headers are in.
		Handler:           connlimit.EndHandshakeOnRequest(securityHeaders(mux)),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       broker.ConnContext,
		ErrorLog:          slog.NewLogLogger(s.log.With("part", "http").Handler(), slog.LevelDebug),
		TLSConfig:         tc,
	}
	limited := s.br.WrapListener(ln)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("starting server: closed")
	}
	s.ln, s.hs = limited, hs
	s.mu.Unlock()
	go func() {
		err := hs.Serve(tls.NewListener(limited, tc))
		if !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("serving https: %w", err)
		}
	}()
	return nil
}

// Addr returns the address the HTTPS listener is bound to, or nil before
// Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Err returns a channel that receives the error that stopped the HTTPS
// listener, if it stops before Close.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops serving HTTPS (letting requests in flight finish for up to
// three seconds), then the broker, then the auth service, then the admin
// channel. It is safe to call more than once and after a failed or partial
// Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	hs, aln, acancel, adone := s.hs, s.adminLn, s.adminCancel, s.adminDone
	s.mu.Unlock()
	s.input.Store(nil)
	if hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = hs.Shutdown(ctx)
		cancel()
	}
	err := errors.Join(s.br.Close(), s.svc.Close())
	// The admin channel last: until the state is saved, no other server
	// may take the state dir.
	if aln != nil {
		acancel()
		_ = aln.Close()
		<-adone
	}
	return err
}

// Auth returns the auth service: approving clients, the certificate, the
// server ID.
func (s *Server) Auth() *authsvc.Service { return s.svc }

// Broker returns the broker.
func (s *Server) Broker() *broker.Broker { return s.br }

// LocalConn is how an agent in the server's process reaches its broker:
// an in-process pipe and tokens reissued on every connect, under the
// subject the auth service keeps for host. The fields fit
// agent.ConnOptions.
type LocalConn struct {
	ClientID    string
	Dial        func(context.Context) (net.Conn, error)
	Credentials func(context.Context) (user, pass string, err error)
}

// LocalConn registers host, named name, as this server's own agent and
// returns how that agent connects.
func (s *Server) LocalConn(host ids.HostID, name string) (LocalConn, error) {
	sub, err := s.svc.LocalAgent(host, name)
	if err != nil {
		return LocalConn{}, err
	}
	return LocalConn{
		ClientID: string(sub),
		Dial:     func(context.Context) (net.Conn, error) { return s.br.Pipe() },
		Credentials: func(context.Context) (string, string, error) {
			tok, err := s.svc.Reissue(sub)
			if err != nil {
				return "", "", err
			}
			return string(sub), tok.Token, nil
		},
	}, nil
}

// SetInputSwitch tells the admin channel which agent switches remote input
// on this host; nil when none runs (--no-agent, or it stopped).
func (s *Server) SetInputSwitch(sw InputSwitch) {
	if sw == nil {
		s.input.Store(nil)
		return
	}
	s.input.Store(&sw)
}

// adminHandler answers the admin channel: clients from the auth service,
// figures from the server, remote input from this host's agent.
type adminHandler struct {
	*authsvc.Service
	s *Server
}

func (h adminHandler) Stats() admin.Stats     { return h.s.Stats() }
func (h adminHandler) SetInput(on bool) error { return h.s.setInput(on) }

func (s *Server) setInput(on bool) error {
	sw := s.input.Load()
	if sw == nil {
		return errors.New("this server runs no agent of its own (--no-agent, or it failed to start)")
	}
	(*sw).SetInput(on)
	return nil
}

// securityHeaders sets the headers every response of ours carries: the page
// may not be framed and loads nothing from another origin.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
