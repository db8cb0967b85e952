package authsvc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func TestPersistence(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	approvedKey, approved := env.pair(t, wire.RolePanel, ids.HostID{})
	revokedKey, revoked := env.pair(t, wire.RolePanel, ids.HostID{})
	if _, err := s.Revoke(string(revoked)); err != nil {
		t.Fatal(err)
	}
	deniedKey := ids.NewClientKey()
	d := s.authorise(panelReq(deniedKey, "no"), "192.0.2.3")
	if _, err := s.Deny(d.entry.code); err != nil {
		t.Fatal(err)
	}
	pendingKey := ids.NewClientKey()
	s.authorise(panelReq(pendingKey, "later"), "192.0.2.4")
	isub, secret, err := s.AddIntegration("ha")
	if err != nil {
		t.Fatal(err)
	}
	tok := env.token(t, approved)
	if _, err := s.Authenticate(string(approved), tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := New(s.opts)
	if err != nil {
		t.Fatalf("New on the same dir: %v", err)
	}
	defer s2.Close()
	if s2.ServerID() != s.ServerID() {
		t.Errorf("server ID changed: %v -> %v", s.ServerID(), s2.ServerID())
	}
	if s2.Fingerprint() != s.Fingerprint() {
		t.Error("certificate changed")
	}
	if s2.signer.kid != s.signer.kid || !s2.signer.priv.Equal(s.signer.priv) {
		t.Error("signing key changed")
	}
	if _, err := s2.Authenticate(string(approved), tok); err != nil {
		t.Errorf("old token after restart: %v", err)
	}
	if r := s2.authorise(panelReq(approvedKey, "x"), "192.0.2.1"); r.out != outApproved || r.rec.Sub != approved {
		t.Errorf("approved client after restart: %d %s", r.out, r.rec.Sub)
	}
	if r := s2.authorise(panelReq(revokedKey, "x"), "192.0.2.1"); r.out != outRevoked {
		t.Errorf("revoked client after restart: %d", r.out)
	}
	if r := s2.authorise(panelReq(deniedKey, "x"), "192.0.2.1"); r.out != outDenied {
		t.Errorf("denied client after restart: %d", r.out)
	}
	if _, err := s2.Authenticate(string(isub), secret); err != nil {
		t.Errorf("integration after restart: %v", err)
	}
	var seen bool
	for _, ci := range s2.List() {
		if ci.Sub == approved && !ci.LastSeen.IsZero() {
			seen = true
		}
	}
	if !seen {
		t.Error("last_seen not saved on Close")
	}
	if _, err := s2.Authenticate(string(revoked), env.token(t, approved)); !errors.Is(err, authn.ErrBadCredentials) {
		t.Errorf("token for another sub after restart = %v", err)
	}
}

func TestStateFileModes(t *testing.T) {
	env := newTestService(t, nil)
	env.pair(t, wire.RolePanel, ids.HostID{})
	for _, f := range []string{serverIDFile, tlsFile, caFile, signingFile, clientsFile} {
		fi, err := os.Stat(filepath.Join(env.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	leaf := env.svc.Certificate().Leaf
	names := strings.Join(leaf.DNSNames, ",")
	if !strings.Contains(names, "localhost") {
		t.Errorf("certificate names %v lack localhost", leaf.DNSNames)
	}
	var v4, v6 bool
	for _, ip := range leaf.IPAddresses {
		v4 = v4 || ip.String() == "127.0.0.1"
		v6 = v6 || ip.String() == "::1"
	}
	if !v4 || !v6 {
		t.Errorf("certificate addresses %v lack loopback", leaf.IPAddresses)
	}
	// Apple platforms refuse a server certificate valid for over 825
	// days, even under a CA the user installed.
	if days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24; days < 800 || days > 826 {
		t.Errorf("certificate valid for %.0f days, want about 825", days)
	}
}

func TestCorruptState(t *testing.T) {
	tests := []struct {
		file string
		data string
	}{
		{clientsFile, `{"version":1,"clients":[{"sub":"p-x"`},
		{clientsFile, "garbage"},
		{clientsFile, ""},
		{clientsFile, `{"version":2,"clients":[]}`},
		{clientsFile, `{"version":1,"clients":[{"sub":"a/b","role":"panel","state":"approved","key_hash":"x"}]}`},
		{serverIDFile, "not a uuid"},
		{tlsFile, "-----BEGIN CERTIFICATE-----\nAAAA\n"},
		{signingFile, "junk"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := newTestService(t, nil)
			env.pair(t, wire.RolePanel, ids.HostID{})
			env.svc.Close()
			path := filepath.Join(env.dir, tt.file)
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(env.svc.opts)
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("New with %s = %q: %v, want ErrCorruptState", tt.file, tt.data, err)
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name %s", err, tt.file)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.data {
				t.Errorf("%s was rewritten", tt.file)
			}
		})
	}
}

func TestTruncatedStoreIsAnError(t *testing.T) {
	env := newTestService(t, nil)
	for range 3 {
		env.pair(t, wire.RolePanel, ids.HostID{})
	}
	env.svc.Close()
	path := filepath.Join(env.dir, clientsFile)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, len(full) / 3, len(full) / 2, len(full) - 3} {
		if err := os.WriteFile(path, full[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(env.svc.opts); !errors.Is(err, ErrCorruptState) {
			t.Errorf("New with the store cut at %d of %d bytes = %v, want ErrCorruptState", n, len(full), err)
		}
	}
}

func TestMissingServerIDWithClients(t *testing.T) {
	env := newTestService(t, nil)
	env.pair(t, wire.RolePanel, ids.HostID{})
	env.svc.Close()
	os.Remove(filepath.Join(env.dir, serverIDFile))
	if _, err := New(env.svc.opts); !errors.Is(err, ErrCorruptState) {
		t.Errorf("New without server_id = %v, want ErrCorruptState", err)
	}
}

// TestClientKeyNeverStored pairs, approves, authenticates, denies and
// revokes with known keys, then looks for them in every file under the
// state dir and in the log.
func TestClientKeyNeverStored(t *testing.T) {
	env := newTestService(t, nil)
	startService(t, env)
	h := env.svc.Handler()
	var keys []string
	for i, role := range []string{"", `,"role":"agent","host_id":"` + ids.NewHostID().String() + `"`} {
		key := ids.NewClientKey().Reveal()
		keys = append(keys, key)
		b := body(key, "leaky", role)
		w := post(h, "/authorise", b, "192.0.2.1", nil)
		if w.Code != 202 {
			t.Fatalf("status %d", w.Code)
		}
		list := env.svc.List()
		if _, err := env.svc.Approve(list[len(list)-1].PairingCode); err != nil {
			t.Fatal(err)
		}
		w = post(h, "/authorise", b, "192.0.2.1", nil)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if i == 0 {
			if _, err := env.svc.Revoke(string(env.svc.List()[0].Sub)); err != nil {
				t.Fatal(err)
			}
			post(h, "/authorise", b, "192.0.2.1", nil)
		}
	}
	dkey := ids.NewClientKey().Reveal()
	keys = append(keys, dkey)
	post(h, "/authorise", body(dkey, "denied", ""), "192.0.2.2", nil)
	for _, ci := range env.svc.List() {
		if ci.State == StatePending {
			if _, err := env.svc.Deny(ci.PairingCode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := env.svc.Close(); err != nil {
		t.Fatal(err)
	}

	var files int
	err := filepath.WalkDir(env.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, k := range keys {
			for _, form := range []string{k, strings.ToUpper(k), strings.ReplaceAll(k, "-", "")} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("client key found in %s", path)
				}
			}
		}
		return nil
	})
	if err != nil || files < 4 {
		t.Fatalf("walked %d files: %v", files, err)
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "leaky") {
		t.Fatalf("log capture is empty or missing the requests:\n%s", logs)
	}
	for _, k := range keys {
		if strings.Contains(logs, k) || strings.Contains(logs, strings.ReplaceAll(k, "-", "")) {
			t.Errorf("client key found in the log")
		}
	}
}

// TestJanitorFlushesLastSeenByTheServiceClock: last-seen times reach the
// state file once the service's clock, not the wall clock, is a minute
// past the last flush.
func TestJanitorFlushesLastSeenByTheServiceClock(t *testing.T) {
	env := newTestService(t, nil)
	if err := env.svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	if _, err := env.svc.Authenticate(string(sub), env.token(t, sub)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(env.dir, clientsFile)
	if b, err := os.ReadFile(path); err != nil || bytes.Contains(b, []byte("last_seen")) {
		t.Fatalf("%s before a minute has passed: %v\n%s", clientsFile, err, b)
	}
	env.clock.Advance(2 * time.Minute)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("last_seen")) {
			return fmt.Errorf("%s has no last_seen two minutes (by the service's clock) after the client was seen:\n%s", clientsFile, b)
		}
		return nil
	})
}
