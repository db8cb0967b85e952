package authsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func post(h http.Handler, path, body, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Host = "mfd.test:6789"
	r.RemoteAddr = remote + ":40000"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func body(key, name, extra string) string {
	return fmt.Sprintf(`{"client_id":%q,"name":%q%s}`, key, name, extra)
}

// errorCode checks that w is a JSON error with the given status and
// returns its code.
func errorCode(t *testing.T, w *httptest.ResponseRecorder, status int) string {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e wire.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return e.Error.Code
}

func TestAuthoriseBadRequests(t *testing.T) {
	env := newTestService(t, nil)
	h := env.svc.Handler()
	key := ids.NewClientKey().Reveal()
	host := ids.NewHostID().String()
	tests := []struct{ name, body string }{
		{"garbage", `{"client_id":`},
		{"not an object", `[1,2]`},
		{"null", `null`},
		{"empty", ``},
		{"trailing data", body(key, "x", "") + `{}`},
		{"wrong type", `{"client_id":5,"name":"x"}`},
		{"missing client_id", `{"name":"x"}`},
		{"missing name", fmt.Sprintf(`{"client_id":%q}`, key)},
		{"name with control characters", body(key, "a\u0007b", "")},
		{"name too long", body(key, strings.Repeat("n", 65), "")},
		{"key not a UUID", body("not-a-uuid", "x", "")},
		{"key UUID v1", body("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "x", "")},
		{"key without dashes", body(strings.ReplaceAll(key, "-", ""), "x", "")},
		{"key in braces", body("{"+key[:34]+"}", "x", "")},
		{"bad role", body(key, "x", `,"role":"admin"`)},
		{"role integration", body(key, "x", `,"role":"integration"`)},
		{"agent without host", body(key, "x", `,"role":"agent"`)},
		{"agent bad host", body(key, "x", `,"role":"agent","host_id":"nope"`)},
		{"panel with host", body(key, "x", `,"host_id":"`+host+`"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(h, "/authorise", tt.body, "192.0.2.1", nil)
			if code := errorCode(t, w, http.StatusBadRequest); code != CodeBadRequest {
				t.Errorf("POST %s: code %q", tt.body, code)
			}
			if strings.Contains(w.Body.String(), key) {
				t.Errorf("error echoes the client key: %s", w.Body)
			}
		})
		env.clock.Advance(time.Second) // keep the rate limiter out of this test
	}
	if w := post(h, "/authorise?wait=soon", body(key, "x", ""), "192.0.2.2", nil); w.Code != http.StatusBadRequest {
		t.Errorf("bad wait: status %d", w.Code)
	}
}

func TestAuthoriseTooLarge(t *testing.T) {
	env := newTestService(t, nil)
	big := body(ids.NewClientKey().Reveal(), strings.Repeat("x", 100<<10), "")
	w := post(env.svc.Handler(), "/authorise", big, "192.0.2.1", nil)
	if code := errorCode(t, w, http.StatusRequestEntityTooLarge); code != CodeTooLarge {
		t.Errorf("code %q", code)
	}
}

func TestMethodsAndOrigin(t *testing.T) {
	env := newTestService(t, func(o *Options) { o.AllowedOrigins = []string{"https://panel.example"} })
	h := env.svc.Handler()
	for _, tt := range []struct{ method, path string }{
		{"GET", "/authorise"}, {"PUT", "/authorise"}, {"POST", "/info"}, {"DELETE", "/.well-known/jwks.json"},
	} {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if code := errorCode(t, w, http.StatusMethodNotAllowed); code != CodeMethodNotAllowed {
			t.Errorf("%s %s: code %q", tt.method, tt.path, code)
		}
	}
	key := ids.NewClientKey().Reveal()
	for _, o := range []string{"https://evil.example", "null", "http://mfd.test:6789", "https://mfd.test:6790"} {
		w := post(h, "/authorise", body(key, "x", ""), "192.0.2.1", map[string]string{"Origin": o})
		if code := errorCode(t, w, http.StatusForbidden); code != CodeForbiddenOrigin {
			t.Errorf("Origin %s: code %q", o, code)
		}
	}
	if n := len(env.svc.List()); n != 0 {
		t.Errorf("foreign origins made %d pending requests", n)
	}
	for i, o := range []string{"", "https://mfd.test:6789", "https://panel.example"} {
		w := post(h, "/authorise", body(ids.NewClientKey().Reveal(), "x", ""), fmt.Sprintf("192.0.2.%d", i+10), map[string]string{"Origin": o})
		if w.Code != http.StatusAccepted {
			t.Errorf("Origin %q: status %d, want 202; %s", o, w.Code, w.Body)
		}
	}
}

func TestAuthoriseFlood(t *testing.T) {
	env := newTestService(t, nil)
	h := env.svc.Handler()
	counts := map[int]int{}
	for range 1000 {
		w := post(h, "/authorise", body(ids.NewClientKey().Reveal(), "flood", ""), "203.0.113.5", nil)
		counts[w.Code]++
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if counts[http.StatusTooManyRequests] < 980 || counts[http.StatusAccepted] > DefaultMaxPendingPerAddr || len(counts) != 2 {
		t.Errorf("statuses %v, want at most %d x 202 and the rest 429", counts, DefaultMaxPendingPerAddr)
	}
	if n := len(env.svc.List()); n > DefaultMaxPendingPerAddr {
		t.Errorf("pending list grew to %d", n)
	}
	// Another address is not starved by the flood.
	if w := post(h, "/authorise", body(ids.NewClientKey().Reveal(), "me", ""), "192.0.2.1", nil); w.Code != http.StatusAccepted {
		t.Errorf("other address: status %d", w.Code)
	}
}

func TestAuthoriseFlow(t *testing.T) {
	env := newTestService(t, nil)
	h := env.svc.Handler()
	key := ids.NewClientKey().Reveal()
	host := ids.NewHostID()
	b := body(key, "desk", `,"role":"agent","host_id":"`+host.String()+`"`)
	w := post(h, "/authorise", b, "192.0.2.1", nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var p wire.Pending
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != "pending" || !isCode(p.PairingCode) || p.RetryAfter <= 0 {
		t.Fatalf("pending body %s: %v", w.Body, err)
	}
	if _, err := env.svc.Approve(p.PairingCode); err != nil {
		t.Fatal(err)
	}
	w = post(h, "/authorise", b, "192.0.2.1", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var a wire.Authorised
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if a.Role != wire.RoleAgent || a.ServerID != env.svc.ServerID() || a.Topics != wire.TopicsFor(wire.RoleAgent, a.Sub, host) || a.ExpiresAt.IsZero() {
		t.Errorf("approved body %s", w.Body)
	}
	if _, err := env.svc.Authenticate(string(a.Sub), a.Token); err != nil {
		t.Errorf("issued token does not authenticate: %v", err)
	}
	if _, err := env.svc.Revoke(string(a.Sub)); err != nil {
		t.Fatal(err)
	}
	if code := errorCode(t, post(h, "/authorise", b, "192.0.2.1", nil), http.StatusForbidden); code != CodeRevoked {
		t.Errorf("revoked: code %q", code)
	}
	dkey := ids.NewClientKey().Reveal()
	w = post(h, "/authorise", body(dkey, "x", ""), "192.0.2.2", nil)
	_ = json.Unmarshal(w.Body.Bytes(), &p)
	if _, err := env.svc.Deny(p.PairingCode); err != nil {
		t.Fatal(err)
	}
	if code := errorCode(t, post(h, "/authorise", body(dkey, "x", ""), "192.0.2.2", nil), http.StatusForbidden); code != CodeDenied {
		t.Errorf("denied: code %q", code)
	}
}

func TestInfoAndJWKS(t *testing.T) {
	env := newTestService(t, nil)
	h := env.svc.Handler()
	r := httptest.NewRequest("GET", "/info", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var info map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != 200 {
		t.Fatalf("/info %d %s", w.Code, w.Body)
	}
	want := map[string]any{
		"server_id": env.svc.ServerID().String(), "name": "testhost", "version": "0.0.0-test",
		"api": float64(1), "tls_fingerprint_sha256": env.svc.Fingerprint(), "mqtt_path": "/mqtt",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("/info %s = %v, want %v", k, info[k], v)
		}
	}
	r = httptest.NewRequest("GET", "/.well-known/jwks.json", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var set JWKS
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != env.svc.signer.kid || set.Keys[0].Alg != "ES256" {
		t.Errorf("jwks %d %s", w.Code, w.Body)
	}
}

func TestAuthoriseWait(t *testing.T) {
	env := newTestService(t, nil)
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	key := ids.NewClientKey().Reveal()

	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/authorise?wait=30", "application/json", strings.NewReader(body(key, "waiter", "")))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, b, err}
	}()
	var code string
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		for _, ci := range env.svc.List() {
			if ci.State == StatePending {
				code = ci.PairingCode
				return nil
			}
		}
		return errors.New("no pending request yet")
	})
	select {
	case r := <-done:
		t.Fatalf("?wait returned before a decision: %d %s", r.status, r.body)
	default:
	}
	if _, err := env.svc.Approve(code); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"token"`)) {
			t.Fatalf("?wait = %d %s %v, want 200 with a token", r.status, r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("?wait did not return after approval")
	}
}

func TestAuthoriseWaitClientGone(t *testing.T) {
	env := newTestService(t, nil)
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/authorise?wait=30", strings.NewReader(body(ids.NewClientKey().Reveal(), "gone", "")))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if len(env.svc.List()) == 0 {
			return errors.New("no pending request yet")
		}
		return nil
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("request = %v, want canceled", err)
	}
	// srv.Close waits for the handler: it must have returned.
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
}

func TestAuthoriseWaitTimesOut(t *testing.T) {
	env := newTestService(t, nil)
	start := time.Now()
	w := post(env.svc.Handler(), "/authorise?wait=1", body(ids.NewClientKey().Reveal(), "patient", ""), "192.0.2.1", nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("?wait=1 returned after %v", d)
	}
}

func TestAuthoriseWaitEndsOnShutdown(t *testing.T) {
	env := newTestService(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := env.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		done <- post(env.svc.Handler(), "/authorise?wait=30", body(ids.NewClientKey().Reveal(), "held", ""), "192.0.2.1", nil).Code
	}()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if len(env.svc.List()) == 0 {
			return errors.New("no pending request yet")
		}
		return nil
	})
	cancel()
	select {
	case code := <-done:
		if code != http.StatusAccepted {
			t.Errorf("held request answered %d, want 202", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held ?wait request outlived the service's context")
	}
}
