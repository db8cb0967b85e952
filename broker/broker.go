// Package broker is mfd's embedded MQTT broker: mochi-mqtt behind one auth
// and ACL hook that applies the contract's topic table, served over our own
// WebSocket endpoint on the HTTPS port, over an in-process pipe for the
// host's own agent, and on the optional TLS and loopback TCP listeners.
// Whoever gets onto this broker types on the host, so every connection is
// authenticated with a token, bound to its subject, held to one handshake
// deadline, and ended when its token runs out or its client is revoked.
//
// Choices the contract leaves open:
//   - A client identifier that is neither sub nor sub/... gets CONNACK
//     0x85 (client identifier not valid; 0x02 for 3.1.1). An empty one is
//     replaced by sub/<random> and returned as the assigned identifier.
//   - A Will anywhere but an agent's own status topic, or a refusal from
//     the authenticator, gets 0x87 (0x05); a bad token 0x86 (0x04).
//   - Keepalive 0 or over 300 s becomes 60 s (announced as Server Keep
//     Alive to MQTT 5 clients). Sessions are kept at most 10 minutes after
//     a disconnect; nothing is delivered to a session while it is
//     disconnected (its token cannot be checked), so a reconnect resumes
//     its subscriptions, not a backlog. Non-retained messages expire after
//     at most 5 minutes; retained ones do not expire.
//   - A Response Topic, on any publish, must be the sender's own reply
//     topic or below it. Inbound topic aliases are off, shared
//     subscriptions and $-topics are refused.
//   - A refused QoS 1/2 publish gets a PUBACK/PUBREC 0x87 (MQTT 5); a
//     refused QoS 0 publish is dropped; a 3.1.1 client whose QoS 1/2
//     publish is refused is disconnected (3.1.1 has no negative PUBACK).
//   - Tokens rotate per session: each session asks for a fresh token at
//     2/3 of its own token's life.
//   - State is bounded per client (see the Max constants): subscriptions
//     (0x97 past the caps), topic levels and length, Correlation Data,
//     retained messages, and the bytes written to its connections and not
//     yet read (a connection that stops reading is closed). A DISCONNECT
//     cannot lengthen a session; a Will waits at most as long as its
//     session; revoking a client cancels its delayed Wills and clears the
//     retained messages only it could write. An agent's discovery documents
//     are only those agents publish (retained.go).
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/connlimit"
	"github.com/openmfd/mfd/internal/ids"
)

// Limits the broker applies whatever clients ask for.
const (
	// MaxPacketSize is the largest MQTT packet accepted, in bytes. A
	// header announcing more is refused before anything is allocated.
	MaxPacketSize = 16 << 10
	// MaxSessionExpiry caps how long a disconnected session is kept.
	MaxSessionExpiry = 10 * time.Minute
	// MaxMessageExpiry caps how long a non-retained message may wait.
	MaxMessageExpiry = 5 * time.Minute
	// MaxKeepalive is the largest keepalive accepted; 0 or more becomes
	// DefaultKeepalive.
	MaxKeepalive = 300 * time.Second
	// DefaultKeepalive is the keepalive given to clients that ask for none
	// or too much.
	DefaultKeepalive = 60 * time.Second
	// DefaultMaxClients is Options.MaxClients when it is zero.
	DefaultMaxClients = 4096

	// MaxTopicLevels caps the levels of every topic filter, topic name and
	// Response Topic: the deepest topic the ACL grants is
	// mfd/v1/clients/{sub}/reply/{a}/{b} (7); a deeper filter could match
	// nothing a client may read, yet mochi would build a node per level.
	MaxTopicLevels = 7
	// MaxTopicLen caps the length in bytes of every topic filter, topic
	// name and Response Topic: the longest topic of the tree (a reply
	// topic two levels deep, a discovery topic with a 64-character action
	// ID) is under 200 bytes.
	MaxTopicLen = 256
	// MaxSubscriptionsPerSession caps the subscriptions one session holds;
	// a SUBSCRIBE past it gets 0x97 (quota exceeded) for each filter over
	// the cap. Home Assistant subscribes to a few topics per entity, so an
	// integration with a few dozen hosts stays well under it.
	MaxSubscriptionsPerSession = 512
	// MaxSubscriptionsPerClient caps the subscriptions all sessions of one
	// client (subject) hold together, kept sessions included.
	MaxSubscriptionsPerClient = 2048
	// MaxCorrelationData caps the MQTT 5 Correlation Data of a publish, in
	// bytes; the agent echoes it in every reply. Panels send the command
	// ID (a few dozen bytes).
	MaxCorrelationData = 256
	// MaxQueuedBytes caps, per client (subject), the bytes the broker has
	// written to that client's connections and they have not yet taken:
	// a connection that stops reading is closed (a slow consumer, as NATS
	// does) once its client's connections together hold more. It leaves
	// room for a subscription's burst of retained messages (an agent may
	// keep 512 of up to 16 KiB).
	MaxQueuedBytes = 16 << 20
	// MaxRetainedPerClient caps the retained messages one client (an
	// agent: its host's topics and discovery documents) keeps on the
	// broker; a retained publish for a further topic is refused.
	MaxRetainedPerClient = 512
)

// Listener IDs registered with mochi; Close drops every client of each.
const (
	ListenerWS    = "wss"
	ListenerLocal = "local"
	ListenerTLS   = "mqtt-tls"
	ListenerTCP   = "mqtt-local"
)

// ErrClosed is returned by calls on a broker that is closed or not started.
var ErrClosed = errors.New("broker closed")

// Options configure a Broker. Authenticator and Logger are required.
type Options struct {
	// Authenticator checks every CONNECT and reissues tokens for rotation.
	Authenticator authn.Authenticator
	// Logger receives the broker's and mochi's logs. Tokens never reach it.
	Logger *slog.Logger
	// Clock is read for token expiry and runs rotation, expiry and
	// delayed Wills; clock.Real when nil.
	Clock clock.Clock
	// AllowedOrigins are extra exact origins allowed on the WebSocket
	// upgrade besides the server's own.
	AllowedOrigins []string
	// TLSConfig is used by the MQTTTLSAddr listener.
	TLSConfig *tls.Config
	// MQTTTLSAddr, when set, serves MQTT over TLS on TCP there.
	MQTTTLSAddr string
	// MQTTLocalAddr, when set, serves plain MQTT there; it must be a
	// loopback address.
	MQTTLocalAddr string
	// Grace is how long a session outlives its token; default 30s.
	Grace time.Duration
	// HandshakeTimeout is the one deadline from accept to CONNECT
	// (TLS handshake, WebSocket upgrade, CONNECT); default 5s.
	HandshakeTimeout time.Duration
	// MaxConnsPerIP caps concurrent connections per remote address on the
	// broker's own TCP listeners; default 32, negative means no cap.
	MaxConnsPerIP int
	// MaxClients caps the clients connected at once, on every listener
	// together; default DefaultMaxClients. Over it, CONNECT gets 0x89
	// (server busy; 0x03 for 3.1.1).
	MaxClients int
}

// Broker is the embedded MQTT broker. Its methods are safe for concurrent
// use. Create it with New, then Start it; Close ends it.
type Broker struct {
	opts   Options
	log    *slog.Logger
	clock  clock.Clock
	server *mqtt.Server
	hook   *hook
	// willClient publishes the delayed Wills the hook holds.
	willClient *mqtt.Client

	mu        sync.Mutex
	started   bool
	closed    bool
	conns     map[net.Conn]struct{}
	connsWG   sync.WaitGroup
	listeners []net.Listener
	closeOnce sync.Once
	closeErr  error
}

// New validates opts and builds a broker; it opens no socket.
func New(opts Options) (*Broker, error) {
	if opts.Authenticator == nil {
		return nil, errors.New("creating broker: no authenticator")
	}
	if opts.Logger == nil {
		return nil, errors.New("creating broker: no logger")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 5 * time.Second
	}
	if opts.MaxConnsPerIP == 0 {
		opts.MaxConnsPerIP = connlimit.DefaultMaxPerIP
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.MQTTTLSAddr != "" && opts.TLSConfig == nil {
		return nil, errors.New("creating broker: mqtt-tls listener without a TLS config")
	}
	if opts.MQTTLocalAddr != "" {
		if err := checkLoopback(opts.MQTTLocalAddr); err != nil {
			return nil, fmt.Errorf("creating broker: %w", err)
		}
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = MaxPacketSize
	caps.MaximumSessionExpiryInterval = uint32(MaxSessionExpiry / time.Second)
	// Retained host status must not vanish after a day, so no global
	// message expiry: the hook caps non-retained messages itself.
	caps.MaximumMessageExpiryInterval = 0
	caps.SharedSubAvailable = 0
	caps.MinimumProtocolVersion = 4 // MQTT 3.1.1 and 5; not 3.1
	caps.MaximumClientWritesPending = 1024
	caps.ReceiveMaximum = 256
	caps.MaximumInflight = 1024
	// No inbound topic aliases: mochi checks the ACL on the topic name
	// before it resolves an alias.
	caps.TopicAliasMaximum = 0
	caps.MaximumClients = int64(opts.MaxClients)
	// mochi copies a publish's properties (our mfd-sub stamp among them)
	// into its PUBACK; strict clients such as MQTT.js refuse that.
	caps.Compatibilities.NoInheritedPropertiesOnAck = true

	mlog := slog.New(redactHandler{opts.Logger.Handler()}).With("component", "mochi")
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 mlog,
		InlineClient:           true,
		SysTopicResendInterval: 3600,
	})
	b := &Broker{
		opts:   opts,
		log:    opts.Logger,
		clock:  opts.Clock,
		server: srv,
		conns:  map[net.Conn]struct{}{},
	}
	b.hook = newHook(b)
	b.willClient = srv.NewClient(nil, ListenerLocal, willClientID, true)
	if err := srv.AddHook(b.hook, &hookOptions{broker: b}); err != nil {
		return nil, fmt.Errorf("adding auth hook: %w", err)
	}
	for _, id := range []string{ListenerWS, ListenerLocal} {
		if err := srv.AddListener(&listener{id: id}); err != nil {
			return nil, fmt.Errorf("adding %s listener: %w", id, err)
		}
	}
	return b, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("parsing mqtt-local address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("mqtt-local address %q is not loopback", addr)
	}
	return nil
}

// Start opens the extra TCP listeners and starts the broker. The WebSocket
// handler and Pipe work from then on.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.started {
		b.mu.Unlock()
		return errors.New("starting broker: already started")
	}
	b.mu.Unlock()

	type extra struct {
		id, addr string
		tls      *tls.Config
	}
	var extras []extra
	if b.opts.MQTTTLSAddr != "" {
		extras = append(extras, extra{ListenerTLS, b.opts.MQTTTLSAddr, b.opts.TLSConfig})
	}
	if b.opts.MQTTLocalAddr != "" {
		extras = append(extras, extra{ListenerTCP, b.opts.MQTTLocalAddr, nil})
	}
	var lc net.ListenConfig
	var opened []*tcpListener
	for _, e := range extras {
		nl, err := lc.Listen(ctx, "tcp", e.addr)
		if err != nil {
			for _, o := range opened {
				_ = o.ln.Close()
			}
			return fmt.Errorf("listening on %s %s: %w", e.id, e.addr, err)
		}
		tl := &tcpListener{
			listener: listener{id: e.id, addr: nl.Addr().String()},
			b:        b,
			ln:       connlimit.New(nl, b.limits()),
			tls:      e.tls,
		}
		tl.wg.Add(1) // done when Serve returns
		opened = append(opened, tl)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		for _, o := range opened {
			_ = o.ln.Close()
		}
		return ErrClosed
	}
	for _, o := range opened {
		if err := b.server.AddListener(o); err != nil {
			b.mu.Unlock()
			for _, o := range opened {
				_ = o.ln.Close()
			}
			return fmt.Errorf("adding %s listener: %w", o.id, err)
		}
		b.listeners = append(b.listeners, o.ln)
	}
	b.started = true
	b.mu.Unlock()

	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("starting mqtt server: %w", err)
	}
	for _, o := range opened {
		b.log.Info("mqtt listener started", "listener", o.id, "addr", o.addr)
	}
	return nil
}

// WrapListener wraps the HTTPS listener that serves Handler with the same
// per-address cap and handshake deadline as the broker's own listeners.
// Serve it with an http.Server whose ConnContext is ConnContext and whose
// handler is wrapped in connlimit.EndHandshakeOnRequest.
func (b *Broker) WrapListener(ln net.Listener) *connlimit.Listener {
	return connlimit.New(ln, b.limits())
}

// Addr returns the address the listener with the given ID is bound to
// (ListenerTLS or ListenerTCP), or "" if there is none.
func (b *Broker) Addr(id string) string {
	l, ok := b.server.Listeners.Get(id)
	if !ok {
		return ""
	}
	return l.Address()
}

// Close stops the broker: every client on every listener is disconnected,
// the listeners close, and Close waits for every connection's goroutine.
// It is idempotent and safe after a failed or missing Start.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		started := b.started
		b.mu.Unlock()

		b.hook.stopTimers()
		// Say goodbye to established clients, then wake every connection
		// still in its handshake, and wait for all of them, before mochi's
		// Close: its Clients.GetByListener takes a read lock twice and
		// deadlocks against a concurrent Clients.Delete.
		for _, cl := range b.server.Clients.GetAll() {
			if !cl.Net.Inline && !cl.Closed() {
				b.disconnect(cl, packets.ErrServerShuttingDown)
			}
		}
		b.mu.Lock()
		for c := range b.conns {
			_ = c.Close()
		}
		b.mu.Unlock()
		b.connsWG.Wait()
		// Nothing is kept across a restart; emptying the client list also
		// leaves mochi's expiry loop nothing to delete while Close reads it.
		for id, cl := range b.server.Clients.GetAll() {
			if !cl.Net.Inline {
				b.server.Clients.Delete(id)
			}
		}
		if started {
			b.closeErr = b.server.Close()
		}
		for _, l := range b.listeners {
			_ = l.Close()
		}
		b.hook.stopTimers()
	})
	return b.closeErr
}

// serveConn hands c to mochi on the given listener and returns when the
// connection ends. handshake, when set, runs first (a TLS handshake) and
// returns the conn to serve. A panic inside mochi (a malformed packet it
// does not survive) closes only this connection and leaves no ghost client.
func (b *Broker) serveConn(listenerID string, c net.Conn, handshake func(net.Conn) (net.Conn, error)) (err error) {
	b.mu.Lock()
	if b.closed || !b.started {
		b.mu.Unlock()
		_ = c.Close()
		return ErrClosed
	}
	b.conns[c] = struct{}{}
	b.connsWG.Add(1)
	b.mu.Unlock()

	served := c
	var qc *queueConn
	defer func() {
		r := recover()
		if r != nil {
			b.log.Warn("mqtt connection panicked; closed", "listener", listenerID, "remote", c.RemoteAddr().String(), "panic", fmt.Sprint(r))
			err = fmt.Errorf("serving mqtt connection: recovered from panic: %v", r)
		}
		if qc != nil {
			// Let its writer hand over what is queued (a DISCONNECT)
			// before the socket goes.
			_ = qc.Close()
			qc.wait()
			b.hook.connEnded(qc, r != nil)
		}
		_ = served.Close()
		_ = c.Close()
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		b.connsWG.Done()
	}()
	if handshake != nil {
		served, err = handshake(c)
		if err != nil {
			served = c
			return err
		}
	}
	if lc, ok := c.(*connlimit.Conn); ok {
		// The handshake deadline set at accept stays in force through
		// CONNECT; from then on mochi sets deadlines from the keepalive.
		lc.EndHandshake()
	}
	qc = newQueueConn(served)
	return b.server.EstablishConnection(listenerID, qc)
}

// Pipe returns an in-process connection into the broker, on the local
// listener: the host's own agent speaks MQTT over it without TCP, and
// still authenticates with a token like everyone else.
func (b *Broker) Pipe() (net.Conn, error) {
	b.mu.Lock()
	ok := b.started && !b.closed
	b.mu.Unlock()
	if !ok {
		return nil, ErrClosed
	}
	client, server := net.Pipe()
	_ = server.SetDeadline(time.Now().Add(b.opts.HandshakeTimeout))
	go func() { _ = b.serveConn(ListenerLocal, server, nil) }()
	return client, nil
}

// Publish sends a message from the server itself (through mochi's inline
// client, which no ACL applies to), at QoS 0.
func (b *Broker) Publish(topic string, payload []byte, retain bool) error {
	b.mu.Lock()
	ok := b.started && !b.closed
	b.mu.Unlock()
	if !ok {
		return ErrClosed
	}
	if !validTopic(topic) {
		return fmt.Errorf("publishing to %q: invalid topic", topic)
	}
	if err := b.server.Publish(topic, payload, retain, 0); err != nil {
		return fmt.Errorf("publishing to %q: %w", topic, err)
	}
	return nil
}

// Revoke ends every live session of sub at once (DISCONNECT 0x98 for MQTT
// 5, a closed connection for 3.1.1), stops any further delivery to them,
// and drops any session state kept for sub, so a reconnect inherits
// nothing. It implements authn.Revoker.
func (b *Broker) Revoke(sub ids.Subject) {
	b.hook.revoke(sub)
}

var _ authn.Revoker = (*Broker)(nil)

// disconnect ends cl with code: a DISCONNECT packet for MQTT 5 (3.1.1 has
// no server DISCONNECT), then the connection is closed.
func (b *Broker) disconnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion == 5 {
		_ = b.server.DisconnectClient(cl, code)
		return
	}
	cl.Stop(code)
}

// limits are the per-address cap and handshake deadline of every listener
// the broker's clients arrive on.
func (b *Broker) limits() connlimit.Options {
	return connlimit.Options{MaxPerIP: b.opts.MaxConnsPerIP, HandshakeTimeout: b.opts.HandshakeTimeout}
}
