package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/wire"
	"github.com/openmfd/mfd/server/admin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a server on a free loopback port until the test ends.
func start(t *testing.T, o Options) *Server {
	t.Helper()
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// client trusts s's certificate.
func client(t *testing.T, s *Server) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.Auth().Certificate().Leaf)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestRoutesAndHeaders: one HTTPS port carries the auth service's API, the
// broker's WebSocket endpoint and the panel, every response with the
// security headers.
func TestRoutesAndHeaders(t *testing.T) {
	s := start(t, Options{Version: "1.2.3-test"})
	c := client(t, s)
	base := "https://" + s.Addr().String()

	resp, body := get(t, c, base+"/info")
	var info wire.Info
	if err := json.Unmarshal([]byte(body), &info); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET /info = %d %q (%v), want 200 and the server's info", resp.StatusCode, body, err)
	}
	if info.ServerID != s.Auth().ServerID() || info.Version != "1.2.3-test" || info.MQTTPath != "/mqtt" {
		t.Errorf("GET /info = %+v, want server ID %v, version 1.2.3-test, mqtt_path /mqtt", info, s.Auth().ServerID())
	}
	if resp, _ := get(t, c, base+"/.well-known/jwks.json"); resp.StatusCode != 200 {
		t.Errorf("GET /.well-known/jwks.json = %d, want 200", resp.StatusCode)
	}
	if resp, body := get(t, c, base+"/mqtt"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "websocket") {
		t.Errorf("GET /mqtt without an upgrade = %d %q, want the broker's 400", resp.StatusCode, body)
	}
	resp, body = get(t, c, base+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Errorf("GET / = %d, want the panel's index.html", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "frame-ancestors 'none'",
	} {
		if got := resp.Header.Get(k); !strings.Contains(got, want) {
			t.Errorf("GET / header %s = %q, want it to hold %q", k, got, want)
		}
	}
}

// TestCloseIsIdempotentAndSafeAfterPartialStart: Close before Start, after a
// Start that failed half way (another server holds the state dir) and twice
// after a full start, leaving no goroutine behind (goleak) and the port
// closed.
func TestCloseIsIdempotentAndSafeAfterPartialStart(t *testing.T) {
	dir := t.TempDir()
	never, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if err := never.Start(t.Context()); err == nil {
		t.Error("Start after Close succeeded")
	}

	first := start(t, Options{StateDir: dir})
	second, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("second Start on a live state dir = %v, want another server is running", err)
	}
	if err := second.Close(); err != nil {
		t.Errorf("Close after a failed Start: %v", err)
	}

	addr := first.Addr().String()
	if err := first.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	if resp, err := c.Get("https://" + addr + "/info"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /info after Close answered %d", resp.StatusCode)
	}
}

// TestLocalAgentAndInputSwitch: an agent started on LocalConn connects over
// the in-process pipe with reissued tokens and shows up online; the admin
// channel's input switch reaches it once it is set and says so when none is.
func TestLocalAgentAndInputSwitch(t *testing.T) {
	s := start(t, Options{})
	ac, err := admin.Dial(s.opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.SetInput(false); err == nil || !strings.Contains(err.Error(), "no agent of its own") {
		t.Errorf("mfd input off with no agent of this host = %v, want no agent of its own", err)
	}
	host := ids.NewHostID()
	lc, err := s.LocalConn(host, "test host")
	if err != nil {
		t.Fatal(err)
	}
	inj := input.Unavailable()
	ag, err := agent.New(agent.Options{
		Host: host, Name: "test host", Injector: inj, StateDir: t.TempDir(),
		Config: &agent.Config{HomeAssistant: agent.HAConfig{Disabled: true}},
		Conn:   agent.ConnOptions{ClientID: lc.ClientID, Dial: lc.Dial, Credentials: lc.Credentials},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := ag.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := s.Broker().ClientCount(); n != 1 {
			return errors.New("the local agent is not connected")
		}
		return nil
	})
	s.SetInputSwitch(ag)
	if err := ac.SetInput(false); err != nil {
		t.Fatalf("mfd input off with the agent set: %v", err)
	}
	poll.Until(t, 10*time.Second, 10*time.Millisecond, func() error {
		if ag.InputOn() {
			return errors.New("the agent's remote input is still on after mfd input off")
		}
		return nil
	})
	if st, err := ac.Stats(); err != nil || st.MQTTClients != 1 || st.Goroutines == 0 || st.HeapAlloc == 0 {
		t.Errorf("mfd stats = %+v, %v; want one MQTT client, some goroutines and heap", st, err)
	}
	s.SetInputSwitch(nil)
	if err := ac.SetInput(true); err == nil {
		t.Error("mfd input on after SetInputSwitch(nil) succeeded")
	}
}

// TestAdminChannelDecidesPairings: a pairing request made over HTTPS is
// listed, approved, revoked and denied through the admin channel, and the
// decisions hold where a client meets them: /authorise answers and the
// token stops authenticating.
func TestAdminChannelDecidesPairings(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s)
	ac, err := admin.Dial(s.opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	authorise := func(key ids.ClientKey, name string) (int, []byte) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"client_id": key.Reveal(), "name": name})
		resp, err := c.Post("https://"+s.Addr().String()+"/authorise", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	a, b := ids.NewClientKey(), ids.NewClientKey()
	if st, body := authorise(a, "tablet A"); st != http.StatusAccepted {
		t.Fatalf("first /authorise = %d %s, want 202", st, body)
	}
	if st, body := authorise(b, "tablet B"); st != http.StatusAccepted {
		t.Fatalf("first /authorise = %d %s, want 202", st, body)
	}
	list, err := ac.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("mfd clients list = %+v, %v; want the two pending requests", list, err)
	}
	codes := map[string]string{}
	for _, ci := range list {
		codes[ci.Name] = ci.PairingCode
	}
	if _, err := ac.Approve(codes["tablet A"]); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Deny(codes["tablet B"]); err != nil {
		t.Fatal(err)
	}
	st, body := authorise(a, "tablet A")
	var got wire.Authorised
	if err := json.Unmarshal(body, &got); st != http.StatusOK || err != nil {
		t.Fatalf("/authorise after approval = %d %s", st, body)
	}
	if _, err := s.Auth().Authenticate(string(got.Sub), got.Token); err != nil {
		t.Fatalf("the approved token does not authenticate: %v", err)
	}
	if st, _ := authorise(b, "tablet B"); st != http.StatusForbidden {
		t.Errorf("/authorise after deny = %d, want 403", st)
	}
	if _, err := ac.Revoke(string(got.Sub)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Auth().Authenticate(string(got.Sub), got.Token); err == nil {
		t.Error("the token still authenticates after mfd clients revoke")
	}
}
