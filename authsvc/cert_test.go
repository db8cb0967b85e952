package authsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/atomicfile"
)

// loadCAKey reads the local CA's key from the state dir, as whoever holds
// the state dir could.
func loadCAKey(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		t.Fatal(err)
	}
	cb, rest := pem.Decode(b)
	kb, _ := pem.Decode(rest)
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return ca, k.(*ecdsa.PrivateKey)
}

// TestLocalCAIsNameConstrained: the certificate a new state dir gets is a
// leaf (not a CA) signed by a local CA that may vouch only for the names
// and addresses the leaf serves: a certificate for any other name, signed
// with the CA's own key, does not verify under it.
func TestLocalCAIsNameConstrained(t *testing.T) {
	env := newTestService(t, nil)
	leaf := env.svc.Certificate().Leaf
	ca, caKey := loadCAKey(t, env.dir)
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("leaf: IsCA %v, key usage %v; want a leaf that cannot sign", leaf.IsCA, leaf.KeyUsage)
	}
	if !ca.IsCA || !ca.MaxPathLenZero || !ca.PermittedDNSDomainsCritical || len(ca.PermittedDNSDomains) == 0 || len(ca.PermittedIPRanges) == 0 {
		t.Fatalf("CA: IsCA %v, MaxPathLenZero %v, critical %v, DNS %v, IP %v; want a path-length-0 CA with critical name constraints",
			ca.IsCA, ca.MaxPathLenZero, ca.PermittedDNSDomainsCritical, ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
	if got := env.svc.CAFingerprint(); got == "" || got == env.svc.Fingerprint() {
		t.Errorf("CAFingerprint() = %q, leaf %q", got, env.svc.Fingerprint())
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: env.clock.Now()}); err != nil {
			t.Errorf("leaf for %s does not verify under the CA: %v", name, err)
		}
	}

	// Whoever holds the CA key can mint nothing a device that installed
	// the CA would take for another site.
	for _, tc := range []struct {
		name string
		dns  []string
		ips  []net.IP
	}{
		{"example.com", []string{"example.com"}, nil},
		{"bank.example", []string{"bank.example"}, nil},
		{"10.9.9.9", nil, []net.IP{net.ParseIP("10.9.9.9")}},
		{"192.0.2.1", nil, []net.IP{net.ParseIP("192.0.2.1")}},
	} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: tc.name},
			NotBefore: env.clock.Now().Add(-time.Hour), NotAfter: env.clock.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: tc.dns, IPAddresses: tc.ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := x509.ParseCertificate(der)
		_, err = forged.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.name, CurrentTime: env.clock.Now()})
		if err == nil {
			t.Errorf("a certificate for %s signed with the local CA's key verifies under it", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// TestLeafRenewedFromCA: at start-up a leaf within 30 days of its end is
// renewed from the same CA; the CA (what agents pin) does not change.
func TestLeafRenewedFromCA(t *testing.T) {
	env := newTestService(t, nil)
	oldFP, caFP := env.svc.Fingerprint(), env.svc.CAFingerprint()
	env.svc.Close()
	env.clock.Advance(leafValidity - leafRenewBefore + time.Hour)
	s2, err := New(Options{StateDir: env.dir, Clock: env.clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Fingerprint() == oldFP {
		t.Error("the leaf was not renewed 30 days before its end")
	}
	if s2.CAFingerprint() != caFP {
		t.Errorf("the CA changed on renewal: %s, was %s", s2.CAFingerprint(), caFP)
	}
	if left := s2.Certificate().Leaf.NotAfter.Sub(env.clock.Now()); left < leafValidity-2*time.Hour {
		t.Errorf("renewed leaf has %v left", left)
	}
}

// TestExistingSelfSignedCertKept: a state dir from before the local CA
// keeps its self-signed certificate (agents and panels pin it) and offers
// no CA.
func TestExistingSelfSignedCertKept(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "mfd old"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kp, _ := keyPEM(key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, tlsFile), append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), kp...), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Certificate().Leaf.Raw; string(got) != string(der) {
		t.Error("an existing self-signed certificate was replaced")
	}
	if s.CAFingerprint() != "" || s.CACertificate() != nil {
		t.Error("a state dir without a local CA offers one")
	}
	if _, err := os.Stat(filepath.Join(dir, caFile)); err == nil {
		t.Errorf("%s made for a state dir that keeps its old certificate", caFile)
	}
}
