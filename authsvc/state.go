package authsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openmfd/mfd/internal/atomicfile"
	"github.com/openmfd/mfd/internal/ids"
)

// Files in the state dir. Each is written whole with atomicfile, so a crash
// leaves either the old or the new content.
const (
	serverIDFile = "server_id"
	tlsFile      = "tls.pem" // certificate and key in one file: never a mismatched pair
	signingFile  = "signing.pem"
	clientsFile  = "clients.json"
	adminSocket  = "admin.sock"
)

// ErrCorruptState is wrapped by New when a state file exists but cannot be
// read. The service refuses to start rather than silently replace it.
var ErrCorruptState = errors.New("corrupt state file")

func ensureStateDir(dir string) error {
	if dir == "" {
		return errors.New("no state dir given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("tightening mode of %s: %w", dir, err)
		}
	}
	return nil
}

// removeTempFiles removes what a crash between atomicfile's create and
// rename leaves behind; the real files are intact. Only the server that
// holds the admin socket may call it, or it could pull a temp file from
// under a live server's write.
func removeTempFiles(dir string) {
	for _, f := range []string{serverIDFile, tlsFile, signingFile, clientsFile} {
		tmp, _ := filepath.Glob(filepath.Join(dir, "."+f+".tmp*"))
		for _, p := range tmp {
			os.Remove(p)
		}
	}
}

// readState reads a state file; missing reports (nil, false, nil).
func readState(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func loadServerID(dir string, mustExist bool) (ids.ServerID, error) {
	path := filepath.Join(dir, serverIDFile)
	b, ok, err := readState(path)
	if err != nil {
		return ids.ServerID{}, err
	}
	if ok {
		id, err := ids.ParseServerID(strings.TrimSpace(string(b)))
		if err != nil {
			return ids.ServerID{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
		}
		return id, nil
	}
	if mustExist {
		// Clients exist, so a server ID was made before: a new one would
		// silently change the identity clients pinned.
		return ids.ServerID{}, fmt.Errorf("%w: %s is missing but %s exists", ErrCorruptState, path, clientsFile)
	}
	id := ids.NewServerID()
	if err := atomicfile.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		return ids.ServerID{}, err
	}
	return id, nil
}

// loadOrCreateTLS returns the certificate from certFile/keyFile when given,
// else the self-signed one in the state dir, made on first start.
func loadOrCreateTLS(dir, certFile, keyFile, hostname string, now time.Time) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("both a certificate and a key file must be given")
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, err
		}
		return withLeaf(c)
	}
	path := filepath.Join(dir, tlsFile)
	b, ok, err := readState(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	if ok {
		c, err := tls.X509KeyPair(b, b)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
		}
		return withLeaf(c)
	}
	pemData, err := selfSigned(hostname, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.WriteFile(path, pemData, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return tls.Certificate{}, err
	}
	return withLeaf(c)
}

func withLeaf(c tls.Certificate) (tls.Certificate, error) {
	if c.Leaf != nil {
		return c, nil
	}
	if len(c.Certificate) == 0 {
		return c, errors.New("no certificate")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return c, err
	}
	c.Leaf = leaf
	return c, nil
}

// selfSigned makes a P-256 certificate for the hostname, localhost and
// every local address, valid for about ten years, as PEM of the
// certificate followed by the key.
func selfSigned(hostname string, now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	dns := []string{"localhost"}
	if hostname != "" && hostname != "localhost" && net.ParseIP(hostname) == nil {
		dns = append([]string{hostname}, dns...)
		if !strings.Contains(hostname, ".") {
			dns = append(dns, hostname+".local") // how mDNS peers on the LAN reach it
		}
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !containsIP(ips, n.IP) {
				ips = append(ips, n.IP)
			}
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mfd " + hostname, Organization: []string{"mfd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // some browsers only accept a self-signed leaf that may sign itself
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return out, nil
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, x := range list {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

// signingKey is the ES256 key that signs tokens, with its key ID.
type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func loadOrCreateSigningKey(dir string) (signingKey, error) {
	path := filepath.Join(dir, signingFile)
	b, ok, err := readState(path)
	if err != nil {
		return signingKey{}, err
	}
	if !ok {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return signingKey{}, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return signingKey{}, err
		}
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
			return signingKey{}, err
		}
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return signingKey{}, fmt.Errorf("%w: %s: no PRIVATE KEY block", ErrCorruptState, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return signingKey{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return signingKey{}, fmt.Errorf("%w: %s: not a P-256 key", ErrCorruptState, path)
	}
	kid, err := keyID(&priv.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{priv: priv, kid: kid}, nil
}

// keyID is the base64url SHA-256 of the public key's SPKI, cut to 16
// characters (96 bits): stable, and unique among the few keys a server has.
func keyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])[:16], nil
}
