package e2e

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openmfd/mfd/internal/mosqtest"
)

// serverCertPEM fetches the root of the chain the server presents (its
// local CA; or the self-signed certificate of an older state dir), as a
// user would download /ca.crt, for mosquitto's --cafile.
func serverCertPEM(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := filepath.Join(t.TempDir(), "mfd.crt")
	chain := c.ConnectionState().PeerCertificates
	der := chain[len(chain)-1].Raw
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mosq runs a mosquitto client with TLS against the server's TCP listener.
func mosq(t *testing.T, s *server, ca, tool string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := strings.Cut(s.tlsAddr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := []string{"-h", host, "-p", port, "--cafile", ca, "--insecure", "-V", "mqttv5"}
	out, err := exec.CommandContext(ctx, tool, append(base, args...)...).CombinedOutput()
	return string(out), err
}

// TestMosquittoClientsOnTLSListener drives the server with Mosquitto's own
// command-line clients, which share no code with ours.
func TestMosquittoClientsOnTLSListener(t *testing.T) {
	mosqtest.RequireClients(t)
	s := startServer(t)
	ca := serverCertPEM(t, s.tlsAddr)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	host := uuid.NewString()

	// A subscribes to its own reply topic; B's publish there is refused, A's
	// own command to a host is accepted: nothing arrives, the wait times out.
	out, err := mosq(t, s, ca, "mosquitto_sub", "-u", a.Sub, "-P", a.Token, "-i", a.Sub, "-t", "mfd/v1/clients/"+a.Sub+"/reply", "-C", "1", "-W", "2")
	if err == nil || !strings.Contains(out, "Timed out") {
		t.Errorf("mosquitto_sub on own reply topic: %v %q; want a clean subscription that times out", err, out)
	}
	out, err = mosq(t, s, ca, "mosquitto_sub", "-u", a.Sub, "-P", a.Token, "-i", a.Sub, "-t", "#", "-C", "1", "-W", "2")
	if !strings.Contains(strings.ToLower(out), "denied") {
		t.Errorf("mosquitto_sub -t '#': %v %q; want the subscription denied", err, out)
	}
	out, err = mosq(t, s, ca, "mosquitto_sub", "-u", a.Sub, "-P", a.Token, "-i", b.Sub, "-t", "mfd/v1/hosts/+/status", "-C", "1", "-W", "2")
	if err == nil || !strings.Contains(strings.ToLower(out), "identifier") {
		t.Errorf("mosquitto_sub with B's client id: %v %q; want client identifier refused", err, out)
	}
	out, err = mosq(t, s, ca, "mosquitto_sub", "-u", a.Sub, "-P", "e30.e30.", "-i", a.Sub, "-t", "mfd/v1/hosts/+/status", "-C", "1", "-W", "2")
	if err == nil || !strings.Contains(strings.ToLower(out), "bad user name or password") {
		t.Errorf("mosquitto_sub with a forged token: %v %q; want bad user name or password", err, out)
	}
	out, err = mosq(t, s, ca, "mosquitto_pub", "-u", a.Sub, "-P", a.Token, "-i", a.Sub, "-q", "1", "-t", "mfd/v1/hosts/"+host+"/cmd/"+b.Sub, "-m", `{"id":"1","op":"release.all"}`)
	if !strings.Contains(strings.ToLower(out), "not authorized") {
		t.Errorf("mosquitto_pub into B's command topic: %v %q; want not authorized", err, out)
	}
	out, err = mosq(t, s, ca, "mosquitto_pub", "-u", a.Sub, "-P", a.Token, "-i", a.Sub, "-q", "1", "-t", "mfd/v1/hosts/"+host+"/cmd/"+a.Sub, "-m", `{"id":"1","op":"release.all"}`)
	if err != nil || out != "" {
		t.Errorf("mosquitto_pub into A's own command topic: %v %q; want silent success", err, out)
	}
}
