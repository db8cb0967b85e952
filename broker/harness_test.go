package broker

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/goleak"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/connlimit"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/wire"
	"github.com/openmfd/mfd/internal/wsnet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until

// fakeAuth issues and accepts made-up tokens: the Authenticator seam.
type fakeAuth struct {
	ttl time.Duration

	mu       sync.Mutex
	tokens   map[string]authn.Identity
	refused  map[ids.Subject]bool
	n        int
	reissued int
}

func newFakeAuth(ttl time.Duration) *fakeAuth {
	return &fakeAuth{ttl: ttl, tokens: map[string]authn.Identity{}, refused: map[ids.Subject]bool{}}
}

// issue returns a fresh token for id; ttl 0 means the fakeAuth default,
// negative means no expiry (an integration).
func (f *fakeAuth) issue(id authn.Identity) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issueLocked(id)
}

func (f *fakeAuth) issueLocked(id authn.Identity) string {
	f.n++
	tok := fmt.Sprintf("tok-%s-%d", id.Sub, f.n)
	if id.Role != wire.RoleIntegration {
		id.IssuedAt = time.Now()
		id.ExpiresAt = id.IssuedAt.Add(f.ttl)
	}
	f.tokens[tok] = id
	return tok
}

func (f *fakeAuth) refuse(sub ids.Subject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused[sub] = true
}

func (f *fakeAuth) Authenticate(username, password string) (authn.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[password]
	if !ok || string(id.Sub) != username || (!id.ExpiresAt.IsZero() && time.Now().After(id.ExpiresAt)) {
		return authn.Identity{}, authn.ErrBadCredentials
	}
	if f.refused[id.Sub] {
		return authn.Identity{}, authn.ErrNotAuthorized
	}
	return id, nil
}

func (f *fakeAuth) Reissue(sub ids.Subject) (wire.TokenMsg, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.tokens {
		if id.Sub == sub && !f.refused[sub] && id.Role != wire.RoleIntegration {
			tok := f.issueLocked(id)
			f.reissued++
			return wire.TokenMsg{Token: tok, ExpiresAt: f.tokens[tok].ExpiresAt}, nil
		}
	}
	return wire.TokenMsg{}, authn.ErrNotAuthorized
}

// env is a real broker behind a real TLS server.
type env struct {
	t    *testing.T
	auth *fakeAuth
	b    *Broker
	srv  *httptest.Server
	ln   *connlimit.Listener
	logs *syncBuffer
}

// syncBuffer collects output that one goroutine writes while another reads.
type syncBuffer = syncbuf.Buffer

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	return newEnvWiring(t, mod, true)
}

// newEnvWiring starts an env; clamp false wires the HTTPS side the plain
// way (connlimit.New without a handshake deadline, no EndHandshakeOnRequest), where
// net/http's ReadHeaderTimeout bounds the TLS handshake and the /mqtt
// handler the rest.
func newEnvWiring(t *testing.T, mod func(*Options), clamp bool) *env {
	t.Helper()
	e := &env{t: t, auth: newFakeAuth(time.Hour), logs: &syncBuffer{}}
	opts := Options{
		Authenticator:    e.auth,
		Logger:           slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HandshakeTimeout: 2 * time.Second,
		Grace:            time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.b = b
	if err := b.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mqtt", b.Handler())
	mux.HandleFunc("/info", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") })
	// /hold answers after 1.5 handshake timeouts, like POST /authorise?wait=.
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(b.opts.HandshakeTimeout * 3 / 2):
			_, _ = io.WriteString(w, "held")
		case <-r.Context().Done():
		}
	})
	if clamp {
		e.srv = httptest.NewUnstartedServer(connlimit.EndHandshakeOnRequest(mux))
		e.ln = b.WrapListener(e.srv.Listener)
	} else {
		e.srv = httptest.NewUnstartedServer(mux)
		e.ln = connlimit.New(e.srv.Listener, connlimit.Options{MaxPerIP: b.opts.MaxConnsPerIP})
	}
	e.srv.Listener = e.ln
	e.srv.Config.ConnContext = ConnContext
	e.srv.Config.ReadHeaderTimeout = b.opts.HandshakeTimeout
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.srv.StartTLS()
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.srv.Close()
		if t.Failed() {
			t.Logf("broker log:\n%s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), "tok-") {
			t.Errorf("a token reached the log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *env) wsURL() string { return "wss" + strings.TrimPrefix(e.srv.URL, "https") + "/mqtt" }

func (e *env) tlsConfig() *tls.Config {
	return e.srv.Client().Transport.(*http.Transport).TLSClientConfig
}

// dialWS opens a WebSocket to /mqtt with the given subprotocols and
// headers; it returns the HTTP response on failure.
func (e *env) dialWS(protos []string, h http.Header) (net.Conn, *http.Response, error) {
	d := websocket.Dialer{TLSClientConfig: e.tlsConfig(), Subprotocols: protos, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(e.wsURL(), h)
	if err != nil {
		return nil, resp, err
	}
	return wsnet.New(ws), resp, nil
}

// client is a raw MQTT client for tests: it speaks packets through mochi's
// codec, so it can also speak malformed ones. A goroutine reads packets
// into a channel, so that waiting for one never puts a deadline on the
// connection (a timed-out WebSocket read breaks the connection).
type client struct {
	t    *testing.T
	c    net.Conn
	v    byte
	in   chan packets.Packet
	done chan struct{}
	err  error // set before done is closed
}

func (e *env) newClient(v byte) *client {
	e.t.Helper()
	c, resp, err := e.dialWS([]string{"mqtt"}, nil)
	if err != nil {
		e.t.Fatalf("dialling %s: %v (%v)", e.wsURL(), err, resp)
	}
	return wrapClient(e.t, c, v)
}

func wrapClient(t *testing.T, c net.Conn, v byte) *client {
	cl := &client{t: t, c: c, v: v, in: make(chan packets.Packet, 64), done: make(chan struct{})}
	go cl.readLoop()
	t.Cleanup(func() {
		_ = c.Close()
		<-cl.done
	})
	return cl
}

func (c *client) readLoop() {
	r := bufio.NewReader(c.c)
	defer close(c.done)
	for {
		pk, err := readPacket(r, c.v)
		if err != nil {
			c.err = err
			return
		}
		select {
		case c.in <- pk:
		case <-time.After(10 * time.Second):
			c.err = errors.New("test client: nobody reads the packets")
			return
		}
	}
}

var errTimeout = errors.New("no packet in time")

func (c *client) write(b []byte) {
	c.t.Helper()
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

func (c *client) send(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = c.v
	pk.Mods.AllowResponseInfo = true
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Auth:
		err = pk.AuthEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		c.t.Fatalf("cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		c.t.Fatalf("encoding: %v", err)
	}
	c.write(buf.Bytes())
}

// read returns the next packet, errTimeout when none comes within d, or
// the error that ended the connection.
func (c *client) read(d time.Duration) (packets.Packet, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case pk := <-c.in:
		return pk, nil
	case <-c.done:
		select {
		case pk := <-c.in:
			return pk, nil
		default:
		}
		if c.err == nil {
			return packets.Packet{}, io.EOF
		}
		return packets.Packet{}, c.err
	case <-timer.C:
		return packets.Packet{}, errTimeout
	}
}

func readPacket(r *bufio.Reader, v byte) (packets.Packet, error) {
	var pk packets.Packet
	hb, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = v
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Auth:
		err = pk.AuthDecode(body)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// expect reads packets until one of type typ arrives.
func (c *client) expect(typ byte, d time.Duration) packets.Packet {
	c.t.Helper()
	end := time.Now().Add(d)
	for {
		pk, err := c.read(time.Until(end))
		if err != nil {
			c.t.Fatalf("waiting for packet type %d: %v", typ, err)
		}
		if pk.FixedHeader.Type == typ {
			return pk
		}
	}
}

// closed reports whether the server closed the connection within d,
// skipping any packets it sent first (returned).
func (c *client) closed(d time.Duration) ([]packets.Packet, bool) {
	var got []packets.Packet
	end := time.Now().Add(d)
	for {
		pk, err := c.read(time.Until(end))
		if err == errTimeout {
			return got, false
		}
		if err != nil {
			return got, true
		}
		got = append(got, pk)
	}
}

type connectOpts struct {
	clientID string
	user     string
	pass     string
	noCreds  bool
	will     *packets.Packet // TopicName, Payload, Retain
	expiry   uint32
}

func (c *client) connect(o connectOpts) packets.Packet {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
	pk.Connect = packets.ConnectParams{
		ProtocolName:     []byte("MQTT"),
		Clean:            true,
		Keepalive:        30,
		ClientIdentifier: o.clientID,
	}
	if c.v == 3 {
		pk.Connect.ProtocolName = []byte("MQIsdp")
	}
	if c.v == 4 {
		pk.Connect.ProtocolName = []byte("MQTT")
	}
	if !o.noCreds {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(o.user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(o.pass)
	}
	if o.will != nil {
		pk.Connect.WillFlag = true
		pk.Connect.WillTopic = o.will.TopicName
		pk.Connect.WillPayload = o.will.Payload
		pk.Connect.WillRetain = o.will.FixedHeader.Retain
	}
	if o.expiry > 0 {
		pk.Properties.SessionExpiryInterval = o.expiry
		pk.Properties.SessionExpiryIntervalFlag = true
	}
	c.send(pk)
	return c.expect(packets.Connack, 5*time.Second)
}

// login connects as id with a fresh token and fails the test unless the
// CONNACK is a success.
func (e *env) login(id authn.Identity, clientID string, v byte) *client {
	e.t.Helper()
	c := e.newClient(v)
	ack := c.connect(connectOpts{clientID: clientID, user: string(id.Sub), pass: e.auth.issue(id)})
	if ack.ReasonCode != 0 {
		e.t.Fatalf("CONNACK for %s as %q = 0x%02x, want success", id.Sub, clientID, ack.ReasonCode)
	}
	return c
}

func (c *client) subscribe(pid uint16, filters ...string) []byte {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: pid}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
	}
	c.send(pk)
	ack := c.expect(packets.Suback, 5*time.Second)
	return ack.ReasonCodes
}

func (c *client) publish(pid uint16, topic string, payload []byte, qos byte, retain bool, props packets.Properties) {
	c.t.Helper()
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName:   topic,
		PacketID:    pid,
		Payload:     payload,
		Properties:  props,
	})
}

// nextPublish returns the next PUBLISH within d, or false.
func (c *client) nextPublish(d time.Duration) (packets.Packet, bool) {
	end := time.Now().Add(d)
	for {
		pk, err := c.read(time.Until(end))
		if err != nil {
			return pk, false
		}
		if pk.FixedHeader.Type == packets.Publish {
			return pk, true
		}
	}
}

func userProp(pk packets.Packet, key string) []string {
	var out []string
	for _, p := range pk.Properties.User {
		if p.Key == key {
			out = append(out, p.Val)
		}
	}
	return out
}
