package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/wire"
)

// startMochi runs an in-process mochi broker that lets everyone in, with a
// TLS WebSocket listener; it returns the broker, the wss URL and a pool
// that trusts its certificate.
func startMochi(t testing.TB) (*mqtt.Server, *url.URL, *x509.CertPool) {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	addr := fmt.Sprintf("127.0.0.1:%d", freeport.Must(t))
	ws := listeners.NewWebsocket(listeners.Config{ID: "wss", Address: addr, TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}})
	if err := srv.AddListener(ws); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, &url.URL{Scheme: "wss", Host: addr, Path: "/mqtt"}, pool
}

// inbox collects what an inline subscription receives.
type inbox struct {
	mu  sync.Mutex
	got []packets.Packet
}

func (b *inbox) add(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	b.mu.Lock()
	b.got = append(b.got, pk)
	b.mu.Unlock()
}

func (b *inbox) find(topic string, fn func([]byte) bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pk := range b.got {
		if pk.TopicName == topic && fn(pk.Payload) {
			return true
		}
	}
	return false
}

func onlineIs(want bool) func([]byte) bool {
	return func(b []byte) bool {
		var s wire.Status
		return json.Unmarshal(b, &s) == nil && s.Online == want
	}
}

func TestAgentOverWSS(t *testing.T) {
	srv, wsURL, pool := startMochi(t)
	box := &inbox{}
	if err := srv.Subscribe(wire.Root+"/#", 1, box.add); err != nil {
		t.Fatal(err)
	}
	inj := &fakeInjector{}
	a, err := New(Options{Host: testHost, Injector: inj, Logger: testLogger(t), Conn: ConnOptions{
		Servers:     []*url.URL{wsURL},
		TLSConfig:   &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
		Credentials: func(context.Context) (string, string, error) { return "a-host", "pw", nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if !box.find(wire.StatusTopic(testHost), onlineIs(true)) {
			return fmt.Errorf("no online status yet")
		}
		return nil
	})
	// Commands may race the subscription; send until one is answered.
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if err := srv.Publish(wire.CmdTopic(testHost, subA), []byte(`{"id":"w1","op":"text.type","text":"hi"}`), false, 1); err != nil {
			return err
		}
		if !box.find(wire.ReplyTopic(subA), func(b []byte) bool { return string(b) == `{"id":"w1","ok":true}` }) {
			return fmt.Errorf("no reply yet")
		}
		return nil
	})
	if c := inj.Calls(); len(c) != 1 || c[0] != `type "hi"` {
		t.Errorf("calls = %v, want one type", c)
	}
	a.Close()
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !box.find(wire.StatusTopic(testHost), onlineIs(false)) {
			return fmt.Errorf("no offline status after Close")
		}
		return nil
	})
}

// fakeJWT is a token-shaped password whose exp the agent can read.
func fakeJWT(exp time.Time) string {
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"exp":%d}`, exp.Unix()))
	return "eyJhbGciOiJFUzI1NiJ9." + claims + ".c2ln"
}

func TestAgentInProcessDialAndPlannedReconnect(t *testing.T) {
	srv, _, _ := startMochi(t)
	box := &inbox{}
	if err := srv.Subscribe(wire.StatusTopic(testHost), 1, box.add); err != nil {
		t.Fatal(err)
	}
	var creds atomic.Int32
	a, err := New(Options{Host: testHost, Injector: &fakeInjector{}, Logger: testLogger(t), Conn: ConnOptions{
		Dial: func(ctx context.Context) (net.Conn, error) {
			c1, c2 := net.Pipe()
			go func() { _ = srv.EstablishConnection("pipe", c2) }()
			return c1, nil
		},
		Credentials: func(context.Context) (string, string, error) {
			creds.Add(1)
			// Close to expiry: the agent reconnects with a new one in a
			// second.
			return "a-host", fakeJWT(time.Now().Add(5 * time.Second)), nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Bare mochi does not answer MQTT 5 re-authentication: each renewal
	// gives up on it after 3 s and reconnects.
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if n := creds.Load(); n < 3 {
			return fmt.Errorf("%d connects", n)
		}
		return nil
	})
	// Planned reconnects end with DISCONNECT 0: no Will.
	if box.find(wire.StatusTopic(testHost), onlineIs(false)) {
		t.Errorf("a planned reconnect published the offline Will")
	}
}
