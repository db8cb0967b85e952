package authsvc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/wire"
)

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
	if err := env2.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := env2.svc.Close(); err != nil {
		t.Errorf("Close after Start: %v", err)
	}
	if err := env2.svc.Close(); err != nil {
		t.Errorf("second Close after Start: %v", err)
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
