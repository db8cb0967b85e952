package authsvc

import (
	"bytes"
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
	"github.com/openmfd/mfd/internal/privdir"
)

// Files in the state dir. Each is written whole with atomicfile, so a crash
// leaves either the old or the new content.
const (
	serverIDFile = "server_id"
	tlsFile      = "tls.pem" // certificate (chain) and key in one file: never a mismatched pair
	caFile       = "ca.pem"  // the local CA's certificate and key, to renew the leaf
	signingFile  = "signing.pem"
	clientsFile  = "clients.json"
)

// ErrCorruptState is wrapped by New when a state file exists but cannot be
// read. The service refuses to start rather than silently replace it.
var ErrCorruptState = errors.New("corrupt state file")

func ensureStateDir(dir string) error {
	if dir == "" {
		return errors.New("no state dir given")
	}
	return privdir.Make(dir)
}

// removeTempFiles removes what a crash between atomicfile's create and
// rename leaves behind; the real files are intact. Only the server that
// holds the state dir (its admin channel) may call it, or it could pull a
// temp file from under a live server's write.
func removeTempFiles(dir string) {
	for _, f := range []string{serverIDFile, tlsFile, caFile, signingFile, clientsFile} {
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

// Certificate validity. The leaf stays within the 825 days Apple platforms
// accept even under a CA the user installed; it is renewed from the local
// CA at start-up when it has less than leafRenewBefore left.
const (
	caValidity      = 10 * 365 * 24 * time.Hour
	leafValidity    = 825 * 24 * time.Hour
	leafRenewBefore = 30 * 24 * time.Hour
)

// serverCert is the TLS certificate the server presents, and the local CA
// that signed it when the server made it itself (nil for a configured
// certificate, or a state dir from before the local CA, whose
// self-signed certificate is kept because agents and panels pin it).
type serverCert struct {
	tls tls.Certificate
	ca  *x509.Certificate
}

// loadOrCreateTLS returns the certificate from certFile/keyFile when given,
// else the one in the state dir, made on first start: a leaf signed by a
// local CA constrained to the names and addresses the leaf serves.
func loadOrCreateTLS(dir, certFile, keyFile, hostname string, now time.Time) (serverCert, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return serverCert{}, errors.New("both a certificate and a key file must be given")
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return serverCert{}, err
		}
		c, err = withLeaf(c)
		return serverCert{tls: c}, err
	}
	path := filepath.Join(dir, tlsFile)
	b, ok, err := readState(path)
	if err != nil {
		return serverCert{}, err
	}
	if !ok {
		return createTLS(dir, hostname, now)
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		return serverCert{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	if c, err = withLeaf(c); err != nil {
		return serverCert{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	if len(c.Certificate) < 2 {
		return serverCert{tls: c}, nil // self-signed, from before the local CA
	}
	ca, err := x509.ParseCertificate(c.Certificate[len(c.Certificate)-1])
	if err != nil {
		return serverCert{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	sc := serverCert{tls: c, ca: ca}
	if now.Add(leafRenewBefore).Before(c.Leaf.NotAfter) {
		return sc, nil
	}
	return renewLeaf(dir, sc, now)
}

// createTLS makes the local CA and its leaf and saves both.
func createTLS(dir, hostname string, now time.Time) (serverCert, error) {
	dns, ips := servedNames(hostname)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return serverCert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "mfd local CA " + hostname, Organization: []string{"mfd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs leaves, never another CA
		// Installing the CA on a tablet trusts it for these names and
		// addresses only (and, for a DNS name, the names below it).
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         dns,
		PermittedIPRanges:           hostRanges(ips),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return serverCert{}, fmt.Errorf("creating CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return serverCert{}, err
	}
	keyPEM, err := keyPEM(caKey)
	if err != nil {
		return serverCert{}, err
	}
	caPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM...)
	if err := atomicfile.WriteFile(filepath.Join(dir, caFile), caPEM, 0o600); err != nil {
		return serverCert{}, err
	}
	return issueLeaf(dir, ca, caKey, dns, ips, now)
}

// renewLeaf issues a fresh leaf from the local CA for the names the old
// one served.
func renewLeaf(dir string, old serverCert, now time.Time) (serverCert, error) {
	path := filepath.Join(dir, caFile)
	b, ok, err := readState(path)
	if err != nil || !ok {
		// Without the CA's key the old leaf is all there is.
		return old, nil
	}
	blk, rest := pem.Decode(b)
	kb, _ := pem.Decode(rest)
	if blk == nil || kb == nil || kb.Type != "PRIVATE KEY" || !bytes.Equal(blk.Bytes, old.ca.Raw) {
		return serverCert{}, fmt.Errorf("%w: %s: not the CA of %s", ErrCorruptState, path, tlsFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	key, ok := k.(*ecdsa.PrivateKey)
	if err != nil || !ok {
		return serverCert{}, fmt.Errorf("%w: %s: no ECDSA key", ErrCorruptState, path)
	}
	return issueLeaf(dir, old.ca, key, old.tls.Leaf.DNSNames, old.tls.Leaf.IPAddresses, now)
}

// issueLeaf signs a server certificate for dns and ips with the CA and
// saves it, chain and key, as tls.pem.
func issueLeaf(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dns []string, ips []net.IP, now time.Time) (serverCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return serverCert{}, err
	}
	name := "localhost"
	if len(dns) > 0 {
		name = dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "mfd " + name, Organization: []string{"mfd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(leafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return serverCert{}, fmt.Errorf("creating certificate: %w", err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return serverCert{}, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	out = append(out, kp...)
	if err := atomicfile.WriteFile(filepath.Join(dir, tlsFile), out, 0o600); err != nil {
		return serverCert{}, err
	}
	c, err := tls.X509KeyPair(out, out)
	if err != nil {
		return serverCert{}, err
	}
	c, err = withLeaf(c)
	return serverCert{tls: c, ca: ca}, err
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

// servedNames returns the names a certificate of this host serves: the
// hostname (and hostname.local, how mDNS peers on the LAN reach it),
// localhost, and every local address.
func servedNames(hostname string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	if hostname != "" && hostname != "localhost" && net.ParseIP(hostname) == nil {
		dns = append([]string{hostname}, dns...)
		if !strings.Contains(hostname, ".") {
			dns = append(dns, hostname+".local")
		}
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !containsIP(ips, n.IP) {
				ip := n.IP
				if v4 := ip.To4(); v4 != nil {
					ip = v4
				}
				ips = append(ips, ip)
			}
		}
	}
	return dns, ips
}

// hostRanges turns addresses into single-address ranges for a name
// constraint.
func hostRanges(ips []net.IP) []*net.IPNet {
	out := make([]*net.IPNet, 0, len(ips))
	for _, ip := range ips {
		bits := 8 * len(ip)
		out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return out
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("reading random: %v", err))
	}
	return n
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
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
