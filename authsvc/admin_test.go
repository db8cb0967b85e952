package authsvc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func startService(t *testing.T, env *testEnv) {
	t.Helper()
	if err := env.svc.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func TestAdminSocket(t *testing.T) {
	env := newTestService(t, nil)
	rv := &recordingRevoker{}
	env.svc.SetRevoker(rv)
	startService(t, env)

	checkAdminPrivate(t, env.dir)

	ac, err := DialAdmin(env.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	list, err := ac.List()
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want empty", list, err)
	}

	a := env.svc.authorise(panelReq(ids.NewClientKey(), "tablet A"), "192.0.2.1")
	b := env.svc.authorise(authoriseReq{key: ids.NewClientKey(), name: "desk B", role: wire.RoleAgent, host: ids.NewHostID()}, "192.0.2.2")
	list, err = ac.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v; want two pending", list, err)
	}
	for _, ci := range list {
		if ci.State != StatePending || ci.PairingCode == "" || ci.RemoteAddr == "" || ci.CreatedAt.IsZero() {
			t.Errorf("pending entry %+v lacks fields", ci)
		}
		if ci.Role == wire.RoleAgent && ci.Host == nil {
			t.Errorf("agent entry %+v lacks host", ci)
		}
	}

	// A code that no pending request holds: the two random ones cannot
	// take all three candidates.
	unused := "000000"
	for _, c := range []string{"000000", "000001", "000002"} {
		if c != a.entry.code && c != b.entry.code {
			unused = c
			break
		}
	}
	if _, err := ac.Approve(unused); err == nil || !strings.Contains(err.Error(), "no pending request with code "+unused) {
		t.Errorf("Approve(%s) = %v, want a clear not-found error", unused, err)
	}
	if _, err := ac.Approve(a.entry.code); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if _, err := ac.Deny(string(b.entry.sub)); err != nil {
		t.Fatalf("Deny: %v", err)
	}
	states := map[ids.Subject]State{}
	list, _ = ac.List()
	for _, ci := range list {
		states[ci.Sub] = ci.State
		if ci.PairingCode != "" {
			t.Errorf("decided client %s still shows a pairing code", ci.Sub)
		}
	}
	if states[a.entry.sub] != StateApproved || states[b.entry.sub] != StateDenied {
		t.Errorf("states %v after approve and deny", states)
	}

	tok := env.token(t, a.entry.sub)
	if _, err := ac.Revoke(string(a.entry.sub)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := rv.revoked(); len(got) != 1 || got[0] != string(a.entry.sub) {
		t.Errorf("revoker saw %v", got)
	}
	if _, err := env.svc.Authenticate(string(a.entry.sub), tok); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("Authenticate after revoke = %v", err)
	}
	if _, err := ac.Revoke("p-nosuchclient"); err == nil || !strings.Contains(err.Error(), "no client or pending request \"p-nosuchclient\"") {
		t.Errorf("Revoke(unknown) = %v", err)
	}

	sub, secret, err := ac.AddIntegration("Home Assistant")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := env.svc.Authenticate(string(sub), secret); err != nil || id.Role != wire.RoleIntegration {
		t.Errorf("Authenticate(integration) = %+v, %v", id, err)
	}
	if _, _, err := ac.AddIntegration(""); err == nil {
		t.Error("AddIntegration with an empty name succeeded")
	}
}

func TestAdminSocketRefusesSecondServer(t *testing.T) {
	env := newTestService(t, nil)
	startService(t, env)
	second, err := New(env.svc.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("second Start = %v, want another server is running", err)
	}
	// The first server still answers.
	if _, err := DialAdmin(env.dir); err != nil {
		t.Errorf("first server lost its socket: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	env := newTestService(t, nil)
	if err := env.svc.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if err := env.svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := env.svc.Start(context.Background()); err == nil {
		t.Error("Start after Close succeeded")
	}

	env2 := newTestService(t, nil)
	startService(t, env2)
	env2.svc.Close()
	env2.svc.Close()
	if _, err := DialAdmin(env2.dir); err == nil {
		t.Error("DialAdmin after Close succeeded")
	}
}

func TestClientInfoJSON(t *testing.T) {
	ci := ClientInfo{Sub: "p-x", Name: "n", Role: wire.RolePanel, State: StateApproved}
	b, err := json.Marshal(ci)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"sub", "name", "role", "state", "created_at", "last_seen"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q", b, k)
		}
	}
	if m["last_seen"] != nil {
		t.Errorf("never-seen last_seen = %v, want null", m["last_seen"])
	}
	if _, ok := m["pairing_code"]; ok {
		t.Errorf("%s has a pairing code", b)
	}
	var back ClientInfo
	if err := json.Unmarshal(b, &back); err != nil || !back.LastSeen.IsZero() || back.Sub != ci.Sub {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	ci.LastSeen = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _ = json.Marshal(ci)
	if !strings.Contains(string(b), `"last_seen":"2026-01-02T03:04:05Z"`) {
		t.Errorf("seen client JSON %s", b)
	}
}
