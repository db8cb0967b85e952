package mosqtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// connack sends a bare MQTT 3.1.1 CONNECT as user and returns the
// CONNACK's return code (0 accepted, 5 not authorised).
func connack(t *testing.T, addr, user, pass string) byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return connackOn(t, c, user, pass)
}

func connackOn(t *testing.T, c net.Conn, user, pass string) byte {
	t.Helper()
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	var flags byte = 0x02 // clean session
	body := append(str("MQTT"), 4)
	payload := str("mosqtest")
	if user != "" {
		flags |= 0xC0
		payload = append(payload, str(user)...)
		payload = append(payload, str(pass)...)
	}
	body = append(body, flags, 0, 30)
	body = append(body, payload...)
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := bufio.NewReader(c).Read(ack); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if ack[0] != 0x20 {
		t.Fatalf("got % x, want a CONNACK", ack)
	}
	return ack[3]
}

func TestRunChecksPasswordsAndRestarts(t *testing.T) {
	b := Run(t, Options{Users: map[string]string{"alice": "secret"}})
	if got := connack(t, b.Addr, "alice", "secret"); got != 0 {
		t.Errorf("CONNECT as alice with her password: return code %d, want 0", got)
	}
	if got := connack(t, b.Addr, "alice", "wrong"); got == 0 {
		t.Errorf("CONNECT as alice with a wrong password was accepted")
	}
	if got := connack(t, b.Addr, "", ""); got == 0 {
		t.Errorf("anonymous CONNECT was accepted with users configured")
	}
	b.Kill()
	if c, err := net.Dial("tcp", b.Addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Kill", b.Addr)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := connack(t, b.Addr, "alice", "secret"); got != 0 {
		t.Errorf("after Restart, CONNECT as alice: return code %d, want 0", got)
	}
}

func TestRunWithoutUsersIsAnonymousAndServesTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	b := Run(t, Options{Dir: dir, CertFile: cert, KeyFile: key})
	if got := connack(t, b.Addr, "", ""); got != 0 {
		t.Errorf("anonymous CONNECT: return code %d, want 0", got)
	}
	if b.TLSAddr == "" {
		t.Fatal("TLSAddr is empty with a certificate configured")
	}
	c, err := tls.Dial("tcp", b.TLSAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", b.TLSAddr, err)
	}
	defer c.Close()
	if got := connackOn(t, c, "", ""); got != 0 {
		t.Errorf("anonymous CONNECT over TLS: return code %d, want 0", got)
	}
}

// writeCert writes a throwaway self-signed certificate and its key as PEM
// files in dir and returns their paths.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
