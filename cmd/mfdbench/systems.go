package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/x11"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/mosqtest"
	"github.com/openmfd/mfd/internal/wire"
	"github.com/openmfd/mfd/server"
)

var discard = slog.New(slog.DiscardHandler)

// panelCred is how one bench panel connects: its MQTT client identifier,
// username and password, and the subject whose cmd topic it publishes to.
type panelCred struct {
	Sub      ids.Subject `json:"sub"`
	ClientID string      `json:"client_id"`
	User     string      `json:"user"`
	Pass     string      `json:"pass"`
	key      string      // the client key, for POST /authorise
}

// system is one of the stacks under test: a broker, an agent for its own
// host, and the way a panel reaches the broker.
type system struct {
	name, desc string
	host       ids.HostID
	panels     []panelCred
	dial       func(ctx context.Context) (net.Conn, error)
	// atX is true when commands are observed at the X server, false when
	// the recording injector observes them.
	atX     bool
	rec     *recInjector
	ag      *agent.Agent
	inj     input.Injector
	cleanup []func()
}

func (s *system) close() {
	if s.ag != nil {
		s.ag.Close()
	}
	if s.inj != nil {
		s.inj.Close()
	}
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// connectPanel connects panel i and subscribes it to its reply topic.
func (s *system) connectPanel(ctx context.Context, i int, onPublish func(string, []byte, time.Time)) (*mqttClient, error) {
	p := s.panels[i]
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	c, err := mqttConnect(ctx, conn, p.ClientID, p.User, p.Pass, onPublish)
	if err != nil {
		return nil, fmt.Errorf("system %s panel %d: %w", s.name, i, err)
	}
	if err := c.subscribe(ctx, wire.ReplyTopic(p.Sub)); err != nil {
		c.close()
		return nil, fmt.Errorf("system %s panel %d: %w", s.name, i, err)
	}
	return c, nil
}

// mfdServer is `mfd serve` without its agent, started through
// server.Server as cmd/mfd starts it, with three bench settings: no
// per-address connection cap (every bench client comes from 127.0.0.1),
// no /authorise rate limit (so that /authorise throughput is measured,
// not the limiter) and room for 1,000 pending pairings.
type mfdServer struct {
	srv  *server.Server
	addr string
	cert tls.Certificate
	tc   *tls.Config // trusts the server's certificate
	http *http.Client
}

func startMFD(ctx context.Context, dir string, maxClients int) (*mfdServer, error) {
	srv, err := server.New(server.Options{
		StateDir:      dir,
		Listen:        "127.0.0.1:0",
		Version:       "bench",
		Logger:        discard,
		MaxConnsPerIP: -1,
		MaxClients:    maxClients,
		PairingRate:   1e9,
		PairingBurst:  1 << 30,
		MaxPending:    1000,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		srv.Close()
		return nil, err
	}
	cert := srv.Auth().Certificate()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return &mfdServer{
		srv: srv, addr: srv.Addr().String(), cert: cert, tc: tc,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 64}},
	}, nil
}

func (m *mfdServer) close() { _ = m.srv.Close() }

func (m *mfdServer) wsURL() string { return "wss://" + m.addr + "/mqtt" }

// authorise posts key to /authorise and returns the status and body.
func (m *mfdServer) authorise(ctx context.Context, key, name string) (int, []byte, error) {
	body, _ := json.Marshal(wire.AuthoriseRequest{ClientID: key, Name: name, Role: wire.RolePanel})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+m.addr+"/authorise", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// pairPanel pairs a new panel the way a browser does: POST /authorise,
// the user approves the code, POST /authorise again for the token.
func (m *mfdServer) pairPanel(ctx context.Context, name string) (panelCred, error) {
	key := uuid.NewString()
	st, b, err := m.authorise(ctx, key, name)
	if err != nil {
		return panelCred{}, err
	}
	if st != http.StatusAccepted {
		return panelCred{}, fmt.Errorf("authorise: HTTP %d: %s", st, b)
	}
	var p wire.Pending
	if err := json.Unmarshal(b, &p); err != nil {
		return panelCred{}, err
	}
	if _, err := m.srv.Auth().Approve(p.PairingCode); err != nil {
		return panelCred{}, err
	}
	st, b, err = m.authorise(ctx, key, name)
	if err != nil {
		return panelCred{}, err
	}
	if st != http.StatusOK {
		return panelCred{}, fmt.Errorf("authorise after approval: HTTP %d: %s", st, b)
	}
	var a wire.Authorised
	if err := json.Unmarshal(b, &a); err != nil {
		return panelCred{}, err
	}
	return panelCred{Sub: a.Sub, ClientID: string(a.Sub) + "/bench", User: string(a.Sub), Pass: a.Token, key: key}, nil
}

// localAgent starts the server's own agent for host as `mfd serve` does:
// over the in-process pipe, with tokens from Reissue.
func (m *mfdServer) localAgent(ctx context.Context, host ids.HostID, inj input.Injector) (*agent.Agent, error) {
	lc, err := m.srv.LocalConn(host, "bench")
	if err != nil {
		return nil, err
	}
	return startAgent(ctx, host, inj, agent.ConnOptions{ClientID: lc.ClientID, Dial: lc.Dial, Credentials: lc.Credentials})
}

// startAgent starts an agent and waits until it has subscribed (its
// status is retained on connect, which happens after it subscribed).
func startAgent(ctx context.Context, host ids.HostID, inj input.Injector, co agent.ConnOptions) (*agent.Agent, error) {
	ag, err := agent.New(agent.Options{
		Host: host, Name: "bench", Version: "bench", Injector: inj, Logger: discard, Conn: co,
		Config: &agent.Config{HomeAssistant: agent.HAConfig{Disabled: true}},
	})
	if err != nil {
		return nil, err
	}
	if err := ag.Start(ctx); err != nil {
		ag.Close()
		return nil, err
	}
	return ag, nil
}

// startSystems starts A and D (one mfd server, two hosts), B and C.
func (e *env) startSystems(ctx context.Context, nPanels int) error {
	mfd, err := startMFD(ctx, filepath.Join(e.dir, "mfd"), 0)
	if err != nil {
		return fmt.Errorf("starting mfd: %w", err)
	}
	e.mfd = mfd
	var creds []panelCred
	for i := range nPanels {
		c, err := mfd.pairPanel(ctx, fmt.Sprintf("bench panel %d", i))
		if err != nil {
			return fmt.Errorf("pairing panel %d: %w", i, err)
		}
		creds = append(creds, c)
	}
	dialMFD := func(ctx context.Context) (net.Conn, error) { return dialWS(ctx, mfd.wsURL(), mfd.tc) }

	// A: as shipped, XTest under Xvfb.
	a := &system{name: "A", desc: "mfd: authsvc + broker (our hook), WSS with tokens, our agent, XTest", host: ids.NewHostID(), panels: creds, dial: dialMFD, atX: true}
	if a.inj, err = x11.New(x11.Options{Display: e.display}); err != nil {
		return fmt.Errorf("A: %w", err)
	}
	if a.ag, err = mfd.localAgent(ctx, a.host, a.inj); err != nil {
		return fmt.Errorf("A: %w", err)
	}
	e.sys["A"] = a

	// D: the same server, another host whose agent records instead.
	// D's panels are A's subjects under other client identifiers, so that
	// both can be connected at once (the same identifier takes over).
	dCreds := make([]panelCred, len(creds))
	for i, c := range creds {
		c.ClientID = string(c.Sub) + "/bench-d"
		dCreds[i] = c
	}
	d := &system{name: "D", desc: "A with a recording injector: broker and transport alone", host: ids.NewHostID(), panels: dCreds, dial: dialMFD}
	d.rec = &recInjector{}
	d.inj = d.rec
	if d.ag, err = mfd.localAgent(ctx, d.host, d.inj); err != nil {
		return fmt.Errorf("D: %w", err)
	}
	e.sys["D"] = d

	if err := e.startBare(ctx, nPanels); err != nil {
		return fmt.Errorf("B: %w", err)
	}
	if err := e.startMosquitto(ctx, nPanels); err != nil {
		return fmt.Errorf("C: %w", err)
	}
	return nil
}

func anonPanels(prefix string, n int) []panelCred {
	var ps []panelCred
	for i := range n {
		sub := ids.Subject(fmt.Sprintf("%s%d", prefix, i))
		ps = append(ps, panelCred{Sub: sub, ClientID: string(sub) + "/bench"})
	}
	return ps
}

// startBare starts B: mochi with its allow-all hook and default
// capabilities, our WebSocket adapter on an HTTPS server with the same
// certificate, and the same agent over an in-process pipe.
func (e *env) startBare(ctx context.Context, nPanels int) error {
	srv := mqtt.New(&mqtt.Options{Logger: discard})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return err
	}
	if err := srv.Serve(); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mqtt", wsHandler(func(c net.Conn) { _ = srv.EstablishConnection("wss", c) }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{e.mfd.cert}}}
	go func() { _ = hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	wsURL := "wss://" + ln.Addr().String() + "/mqtt"
	b := &system{name: "B", desc: "bare mochi (allow-all hook), same WSS adapter, same agent, XTest", host: ids.NewHostID(),
		panels: anonPanels("pb", nPanels), atX: true,
		dial: func(ctx context.Context) (net.Conn, error) { return dialWS(ctx, wsURL, e.mfd.tc) }}
	b.cleanup = append(b.cleanup, func() { _ = hs.Close(); _ = srv.Close() })
	var err2 error
	if b.inj, err2 = x11.New(x11.Options{Display: e.display}); err2 != nil {
		return err2
	}
	b.ag, err = startAgent(ctx, b.host, b.inj, agent.ConnOptions{
		ClientID: "agent-b",
		Dial: func(context.Context) (net.Conn, error) {
			c1, c2 := net.Pipe()
			go func() { _ = srv.EstablishConnection("local", c2) }()
			return c1, nil
		},
	})
	if err != nil {
		return err
	}
	e.sys["B"] = b
	return nil
}

// startMosquitto starts C: Debian's Mosquitto with a plain TCP listener
// for the agent and a TLS one for the panels. Its WebSocket listener does
// not start in this sandbox (libwebsockets refuses), so the panels speak
// MQTT over TLS on TCP: the closest transport to WSS that it offers.
func (e *env) startMosquitto(ctx context.Context, nPanels int) error {
	dir := filepath.Join(e.dir, "mosquitto")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Chmod(e.dir, 0o755)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.mfd.cert.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(e.mfd.cert.PrivateKey)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// The key is a throwaway made for this run; Mosquitto drops root for
	// its own user, which must be able to read it.
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o644); err != nil {
		return err
	}
	m, err := mosqtest.Start(mosqtest.Options{Dir: dir, CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), MaxQueued: 100000})
	if err != nil {
		return err
	}
	e.pids = append(e.pids, m.Pid())
	stop := m.Kill
	tcpAddr, tlsAddr := m.Addr, m.TLSAddr
	c := &system{name: "C", desc: "Mosquitto " + mosquittoVersion() + ": agent on TCP, panels on TLS over TCP (no WSS), same agent, XTest",
		host: ids.NewHostID(), panels: anonPanels("pc", nPanels), atX: true,
		dial: func(ctx context.Context) (net.Conn, error) {
			d := tls.Dialer{Config: e.mfd.tc}
			return d.DialContext(ctx, "tcp", tlsAddr)
		}}
	c.cleanup = append(c.cleanup, stop)
	if c.inj, err = x11.New(x11.Options{Display: e.display}); err != nil {
		stop()
		return err
	}
	c.ag, err = startAgent(ctx, c.host, c.inj, agent.ConnOptions{
		ClientID: "agent-c",
		Servers:  []*url.URL{{Scheme: "mqtt", Host: tcpAddr}},
	})
	if err != nil {
		c.close()
		return err
	}
	e.sys["C"] = c
	return nil
}

func mosquittoVersion() string {
	bin, _, err := mosqtest.Find()
	if err != nil {
		return ""
	}
	out, _ := exec.Command(bin, "-h").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(line); len(f) >= 3 {
		return f[2]
	}
	return ""
}

// recInjector is D's injector: it injects nothing and tells the bench
// when a tap reaches it, after an optional delay (the self-test's).
type recInjector struct {
	delay time.Duration
	// delayKey, when set, picks the keys that are delayed; nil delays all.
	delayKey func(key string) bool
	mu       sync.Mutex
	onTap    func(key string, at time.Time)
}

var _ input.Injector = (*recInjector)(nil)

func (r *recInjector) setOnTap(f func(string, time.Time)) {
	r.mu.Lock()
	r.onTap = f
	r.mu.Unlock()
}

func (r *recInjector) Tap(key string, _ []string) error {
	if r.delay > 0 && (r.delayKey == nil || r.delayKey(key)) {
		// Spin rather than sleep: a sleep overshoots by up to a timer
		// tick, and the self-test wants the delay to be exactly itself.
		for t0 := time.Now(); time.Since(t0) < r.delay; {
		}
	}
	at := time.Now()
	r.mu.Lock()
	f := r.onTap
	r.mu.Unlock()
	if f != nil {
		f(key, at)
	}
	return nil
}

func (r *recInjector) Backend() string { return "x11" }
func (r *recInjector) Caps() input.Caps {
	return input.Caps{Unicode: true, PointerAbs: true, Scroll: true}
}
func (r *recInjector) Screen() (int, int)            { return 1280, 1024 }
func (r *recInjector) KeyDown(string) error          { return nil }
func (r *recInjector) KeyUp(string) error            { return nil }
func (r *recInjector) Type(string) error             { return nil }
func (r *recInjector) Move(int, int, bool) error     { return nil }
func (r *recInjector) ButtonDown(input.Button) error { return nil }
func (r *recInjector) ButtonUp(input.Button) error   { return nil }
func (r *recInjector) Click(input.Button, int) error { return nil }
func (r *recInjector) Scroll(int, int) error         { return nil }
func (r *recInjector) Close() error                  { return nil }

var errTimeout = errors.New("timed out")
