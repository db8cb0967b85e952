package e2e

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
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// caInfo is /info with the local CA's fingerprint.
type caInfo struct {
	Fingerprint   string `json:"tls_fingerprint_sha256"`
	CAFingerprint string `json:"tls_ca_fingerprint_sha256"`
}

func getCA(t *testing.T, s *server) (*x509.Certificate, *caAnswer) {
	t.Helper()
	resp, err := insecure.Get("https://" + s.addr + "/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &caAnswer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
	blk, _ := pem.Decode(b)
	if resp.StatusCode != 200 || blk == nil {
		return nil, r
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("GET /ca.crt: %v", err)
	}
	return ca, r
}

type caAnswer struct {
	status int
	ctype  string
	body   []byte
}

// TestLocalCAIsNameConstrained (issue 11, case 9): the self-signed
// certificate was an unconstrained CA valid for ten years, so a user who
// installed it to silence the warning trusted whoever held tls.pem for
// every site. A new state dir now gets a leaf signed by a local CA that
// may vouch only for the names and addresses the leaf serves: a browser
// that installed it (GET /ca.crt) accepts the server under those names,
// and refuses a certificate for any other name even when it is signed
// with the CA's own key. An agent pins that CA.
func TestLocalCAIsNameConstrained(t *testing.T) {
	s := startServer(t)
	ca, r := getCA(t, s)
	if ca == nil {
		t.Fatalf("GET /ca.crt: %d %q", r.status, r.body)
	}
	var inf caInfo
	resp, err := insecure.Get("https://" + s.addr + "/info")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&inf)
	resp.Body.Close()
	sum := sha256.Sum256(ca.Raw)
	caFP := hex.EncodeToString(sum[:])
	t.Logf("GET /ca.crt: %d %s; CA %q, valid to %s, DNS %v, IP %v; /info leaf %s…, CA %s…",
		r.status, r.ctype, ca.Subject.CommonName, ca.NotAfter.Format("2006-01-02"), ca.PermittedDNSDomains, ca.PermittedIPRanges, inf.Fingerprint[:16], inf.CAFingerprint[:16])
	if r.ctype != "application/x-x509-ca-cert" || inf.CAFingerprint != caFP || inf.Fingerprint == caFP {
		t.Errorf("content type %q, /info CA fingerprint %q (the served CA is %s, the leaf %s)", r.ctype, inf.CAFingerprint, caFP, inf.Fingerprint)
	}
	if !ca.IsCA || !ca.MaxPathLenZero || !ca.PermittedDNSDomainsCritical || len(ca.PermittedDNSDomains) == 0 || len(ca.PermittedIPRanges) == 0 {
		t.Errorf("the CA is not name-constrained: IsCA %v, path length 0 %v, critical %v, DNS %v, IP %v",
			ca.IsCA, ca.MaxPathLenZero, ca.PermittedDNSDomainsCritical, ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}

	// A device that installed the CA verifies the server normally.
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Errorf("TLS to the server as %s, trusting only the CA: %v", name, err)
			continue
		}
		leaf := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if leaf.IsCA {
			t.Errorf("the served certificate is itself a CA")
		}
		if days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24; days > 826 {
			t.Errorf("the leaf is valid for %.0f days; Apple platforms refuse over 825", days)
		}
	}
	if _, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: roots, ServerName: "example.com"}); err == nil {
		t.Errorf("the server's certificate verifies as example.com")
	}

	// Whoever holds the state dir holds the CA key: still nothing for
	// another name verifies under the CA.
	b, err := os.ReadFile(filepath.Join(s.stateDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest := pem.Decode(b)
	kb, _ := pem.Decode(rest)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com", "mail.google.com", "192.0.2.10"} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = []string{name}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := x509.ParseCertificate(der)
		_, err = forged.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		t.Logf("a certificate for %s signed with the CA's key: %v", name, err)
		if err == nil {
			t.Errorf("a certificate for %s signed with the local CA's key verifies under it", name)
		}
	}

	// mfd agent pins the CA, which the leaf renewed from it keeps.
	dir := t.TempDir()
	ag := startProc(t, []string{"DISPLAY="}, mfdBin, "agent", "--server", "https://"+s.addr, "--state-dir", dir, "--name", "pinner")
	code := ag.waitOutput(`pairing code (\d{6})`, 15*time.Second)[1]
	if out, err := s.cli("clients", "approve", code); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	ag.waitOutput(`agent for host ([0-9a-f-]{36}) running`, 15*time.Second)
	var pin struct {
		Fingerprint string `json:"tls_fingerprint_sha256"`
	}
	pb, err := os.ReadFile(filepath.Join(dir, "agent-server-pin.json"))
	if err != nil || json.Unmarshal(pb, &pin) != nil || pin.Fingerprint != caFP {
		t.Errorf("the agent pinned %q (%v), want the local CA %s", pin.Fingerprint, err, caFP)
	}
}

// TestExistingCertificateKept: a state dir made before the local CA keeps
// its self-signed certificate, which agents and panels pinned, and offers
// no CA to download.
func TestExistingCertificateKept(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mfd old"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	old := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
	if err := os.WriteFile(filepath.Join(dir, "tls.pem"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, withStateDir(dir))
	inf, err := s.info()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if inf.Fingerprint != hex.EncodeToString(sum[:]) {
		t.Errorf("the server presents %s, want the state dir's existing certificate %x", inf.Fingerprint, sum)
	}
	if ca, r := getCA(t, s); ca != nil || r.status != 404 {
		t.Errorf("GET /ca.crt on a state dir without a local CA: %d %q, want 404", r.status, r.body)
	}
}
