package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// fakeAuthServer fakes /info and /authorise.
type fakeAuthServer struct {
	t        *testing.T
	srv      *httptest.Server
	id       ids.ServerID
	fp       string // reported in /info; "" means the real one
	caFP     string // reported in /info as the local CA's
	mu       sync.Mutex
	pending  int           // answer 202 this many more times
	deny     bool          // answer 403
	lifetime time.Duration // token lifetime
	requests []wire.AuthoriseRequest
	queries  []string
}

func newFakeAuthServer(t *testing.T, id ids.ServerID, cert *tls.Certificate) *fakeAuthServer {
	t.Helper()
	f := &fakeAuthServer{t: t, id: id, lifetime: 15 * time.Minute}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	if cert != nil {
		f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuthServer) realFingerprint() string {
	sum := sha256.Sum256(f.srv.Certificate().Raw)
	return hex.EncodeToString(sum[:])
}

func (f *fakeAuthServer) url() *url.URL {
	u, _ := url.Parse(f.srv.URL)
	return u
}

func (f *fakeAuthServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/info":
		fp := f.fp
		if fp == "" {
			fp = strings.ToUpper(f.realFingerprint()) // case must not matter
		}
		_ = json.NewEncoder(w).Encode(wire.Info{ServerID: f.id, Name: "srv", API: 1, TLSFingerprint: fp, CAFingerprint: f.caFP, MQTTPath: "/mqtt"})
	case "/authorise":
		var req wire.AuthoriseRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Role != wire.RoleAgent || req.HostID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, err := ids.ParseClientKey(req.ClientID); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.requests = append(f.requests, req)
		f.queries = append(f.queries, r.URL.RawQuery)
		switch {
		case f.deny:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.ErrorInfo{Code: "denied", Message: "the host denied this client"}})
		case f.pending > 0:
			f.pending--
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(wire.Pending{Status: "pending", PairingCode: "123456", RetryAfter: 0})
		default:
			_ = json.NewEncoder(w).Encode(wire.Authorised{
				Token: "tok-" + string(rune('a'+len(f.requests))), ExpiresAt: time.Now().Add(f.lifetime),
				Sub: "a-host1", Role: wire.RoleAgent, ServerID: f.id,
			})
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAuthServer) authoriseCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func selfSigned(t testing.TB) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "other"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestPairFirstContactThenAgain(t *testing.T) {
	dir := t.TempDir()
	srv := newFakeAuthServer(t, ids.NewServerID(), nil)
	srv.pending = 2
	var codes []string
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Name: "desk", Logger: testLogger(t),
		OnPairingCode: func(c string) { codes = append(codes, c) }})
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	defer p.CloseIdleConnections()
	if len(codes) != 1 || codes[0] != "123456" {
		t.Errorf("pairing codes shown = %v, want [123456] once", codes)
	}
	if p.Sub != "a-host1" || p.ServerID != srv.id || p.Fingerprint != srv.realFingerprint() {
		t.Errorf("pairing = sub %s server %s fp %s", p.Sub, p.ServerID, p.Fingerprint)
	}
	if n := srv.authoriseCount(); n != 3 {
		t.Errorf("%d /authorise requests, want 3 (two pending, one approved)", n)
	}
	// The first request is not held, so the code shows at once.
	if srv.queries[0] != "" || srv.queries[1] != "wait=30" || srv.requests[0].Name != "desk" || srv.requests[0].HostID != p.Host.String() {
		t.Errorf("first /authorise = %+v, queries %q", srv.requests[0], srv.queries)
	}
	co := p.ConnOptions()
	if want := "wss://" + srv.url().Host + "/mqtt"; co.Servers[0].String() != want || co.ClientID != "a-host1/agent" {
		t.Errorf("conn options = %v %s, want %s", co.Servers, co.ClientID, want)
	}
	user, pass, err := co.Credentials(t.Context())
	if user != "a-host1" || pass == "" || err != nil {
		t.Errorf("Credentials = %q, %q, %v", user, pass, err)
	}
	// The pinned TLS config works for other connections to the server
	// (the MQTT WebSocket) and only for it.
	conn, err := tls.Dial("tcp", srv.url().Host, co.TLSConfig)
	if err != nil {
		t.Errorf("dialling the server with the pinned config: %v", err)
	} else {
		conn.Close()
	}
	other := newFakeAuthServer(t, srv.id, selfSigned(t))
	if _, err := tls.Dial("tcp", other.url().Host, co.TLSConfig); !errors.Is(err, ErrCertChanged) {
		t.Errorf("dialling another server with the pinned config = %v, want ErrCertChanged", err)
	}

	st, err := os.Stat(filepath.Join(dir, clientKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("client key file: %v, mode %v; want 0600", err, st.Mode())
	}
	key, _ := os.ReadFile(filepath.Join(dir, clientKeyFile))
	if srv.requests[0].ClientID != strings.TrimSpace(string(key)) {
		t.Errorf("the client key sent is not the one kept")
	}

	// Again, from the same state dir: same host, approved straight away.
	p2, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Logger: testLogger(t),
		OnPairingCode: func(c string) { t.Errorf("pairing code shown again: %s", c) }})
	if err != nil {
		t.Fatalf("Pair again: %v", err)
	}
	defer p2.CloseIdleConnections()
	if p2.Host != p.Host || srv.requests[3].ClientID != srv.requests[0].ClientID {
		t.Errorf("second pairing used host %s (was %s) or another key", p2.Host, p.Host)
	}
}

func TestPairRefusesChangedServerID(t *testing.T) {
	dir := t.TempDir()
	srv := newFakeAuthServer(t, ids.NewServerID(), nil)
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p.CloseIdleConnections()
	// Same certificate (httptest's), new server ID.
	srv2 := newFakeAuthServer(t, ids.NewServerID(), nil)
	before := srv2.authoriseCount()
	_, err = Pair(t.Context(), PairOptions{Server: srv2.url(), StateDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrServerChanged) {
		t.Fatalf("Pair with a new server ID = %v, want ErrServerChanged", err)
	}
	if srv2.authoriseCount() != before {
		t.Errorf("the client key was sent to a server with another ID")
	}
}

func TestPairRefusesChangedCert(t *testing.T) {
	dir := t.TempDir()
	id := ids.NewServerID()
	srv := newFakeAuthServer(t, id, nil)
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p.CloseIdleConnections()
	// Same server ID, another certificate (reporting itself honestly).
	srv2 := newFakeAuthServer(t, id, selfSigned(t))
	_, err = Pair(t.Context(), PairOptions{Server: srv2.url(), StateDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrCertChanged) || errors.Is(err, ErrServerChanged) {
		t.Fatalf("Pair with a new certificate = %v, want ErrCertChanged only", err)
	}
	if srv2.authoriseCount() != 0 {
		t.Errorf("the client key was sent over an unpinned connection")
	}
}

// TestPairRefusesNewServer: a server reinstalled from scratch has a new
// certificate and a new ID; the error says both.
func TestPairRefusesNewServer(t *testing.T) {
	dir := t.TempDir()
	id := ids.NewServerID()
	srv := newFakeAuthServer(t, id, nil)
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p.CloseIdleConnections()
	id2 := ids.NewServerID()
	srv2 := newFakeAuthServer(t, id2, selfSigned(t))
	_, err = Pair(t.Context(), PairOptions{Server: srv2.url(), StateDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrCertChanged) || !errors.Is(err, ErrServerChanged) {
		t.Fatalf("Pair with a new certificate and ID = %v, want ErrCertChanged and ErrServerChanged", err)
	}
	if msg := err.Error(); !strings.Contains(msg, id.String()) || !strings.Contains(msg, id2.String()) {
		t.Errorf("Pair's error %q does not name the pinned and the new server ID", msg)
	}
	if srv2.authoriseCount() != 0 {
		t.Errorf("the client key was sent over an unpinned connection")
	}
}

func TestPairFirstContactMismatch(t *testing.T) {
	dir := t.TempDir()
	srv := newFakeAuthServer(t, ids.NewServerID(), nil)
	srv.fp = strings.Repeat("ab", 32) // /info disagrees with the handshake
	_, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrCertChanged) {
		t.Fatalf("Pair = %v, want ErrCertChanged", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pinFile)); err == nil {
		t.Errorf("a pin was saved although the fingerprints disagreed")
	}
	if srv.authoriseCount() != 0 {
		t.Errorf("the client key was sent")
	}
}

func TestPairDenied(t *testing.T) {
	srv := newFakeAuthServer(t, ids.NewServerID(), nil)
	srv.deny = true
	_, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: t.TempDir(), Logger: testLogger(t)})
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("Pair = %v, want ErrDenied", err)
	}
	srv.srv.CloseClientConnections()
}

func TestPairRenewsToken(t *testing.T) {
	srv := newFakeAuthServer(t, ids.NewServerID(), nil)
	srv.lifetime = time.Minute // within the renewal margin
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	_, first, _ := p.Credentials(t.Context())
	srv.mu.Lock()
	srv.lifetime = 15 * time.Minute
	srv.mu.Unlock()
	_, second, err := p.Credentials(t.Context())
	if err != nil || second == first {
		t.Errorf("Credentials near expiry = %q (was %q), %v; want a new token", second, first, err)
	}
	_, third, _ := p.Credentials(t.Context())
	if third != second {
		t.Errorf("Credentials with a fresh token asked again: %q then %q", second, third)
	}
	srv.mu.Lock()
	srv.deny = true
	srv.lifetime = time.Minute
	srv.mu.Unlock()
	p.mu.Lock()
	p.token.ExpiresAt = time.Now()
	p.mu.Unlock()
	if _, _, err := p.Credentials(t.Context()); !errors.Is(err, ErrDenied) {
		t.Errorf("Credentials after revocation = %v, want ErrDenied", err)
	}
}

func TestPairBadOptions(t *testing.T) {
	u, _ := url.Parse("http://example.org")
	if _, err := Pair(t.Context(), PairOptions{Server: u, StateDir: t.TempDir()}); err == nil {
		t.Errorf("Pair(http://) = nil error")
	}
	u, _ = url.Parse("https://example.org")
	if _, err := Pair(t.Context(), PairOptions{Server: u}); err == nil {
		t.Errorf("Pair(no state dir) = nil error")
	}
}

// caSigned returns a CA and a function that signs a fresh leaf with it,
// as the server's local CA does.
func caSigned(t testing.TB) (ca *x509.Certificate, leaf func() *tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(der)
	serial := int64(100)
	return ca, func() *tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serial++
		lt := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		ld, err := x509.CreateCertificate(rand.Reader, lt, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Certificate{Certificate: [][]byte{ld, ca.Raw}, PrivateKey: key}
	}
}

// TestPairPinsLocalCA: a server whose certificate is signed by its local
// CA is pinned by that CA, so a renewed leaf from the same CA is still
// the server, while a leaf from another CA (or self-signed) is not.
func TestPairPinsLocalCA(t *testing.T) {
	dir := t.TempDir()
	ca, leaf := caSigned(t)
	sum := sha256.Sum256(ca.Raw)
	caFP := hex.EncodeToString(sum[:])
	srv := newFakeAuthServer(t, ids.NewServerID(), leaf())
	srv.caFP = caFP
	p, err := Pair(t.Context(), PairOptions{Server: srv.url(), StateDir: dir, Name: "desk", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	defer p.CloseIdleConnections()
	if p.Fingerprint != caFP {
		t.Fatalf("pinned %s, want the CA %s (the leaf is %s)", p.Fingerprint, caFP, srv.realFingerprint())
	}
	co := p.ConnOptions()
	renewed := newFakeAuthServer(t, srv.id, leaf())
	if c, err := tls.Dial("tcp", renewed.url().Host, co.TLSConfig); err != nil {
		t.Errorf("a renewed leaf from the pinned CA = %v, want accepted", err)
	} else {
		c.Close()
	}
	_, otherLeaf := caSigned(t)
	for name, cert := range map[string]*tls.Certificate{"another CA": otherLeaf(), "self-signed": selfSigned(t)} {
		other := newFakeAuthServer(t, srv.id, cert)
		if _, err := tls.Dial("tcp", other.url().Host, co.TLSConfig); !errors.Is(err, ErrCertChanged) {
			t.Errorf("%s with the pinned config = %v, want ErrCertChanged", name, err)
		}
	}
}
