package authsvc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// TestHostBoundToFirstAgent: in a store written before the binding (two
// approved agents for one host ID), only the first approved keeps working:
// the other's tokens are refused and none is issued to it; the list flags
// it. The server's own agent for that host revokes the squatter.
func TestHostBoundToFirstAgent(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	_, first := env.pair(t, wire.RoleAgent, host)
	tok := env.token(t, first)
	env.clock.Advance(time.Minute)
	// What an old store may hold: a second approved agent for the host.
	env.svc.mu.Lock()
	h := host
	env.svc.store.add(&record{Sub: "a-squatter", KeyHash: "x", Name: "rogue", Role: wire.RoleAgent, Host: &h,
		State: StateApproved, CreatedAt: env.clock.Now(), DecidedAt: env.clock.Now()})
	env.svc.mu.Unlock()
	second := ids.Subject("a-squatter")
	if _, err := env.svc.Reissue(second); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("Reissue for the second agent of a host = %v, want ErrNotAuthorized", err)
	}
	if _, err := env.svc.Authenticate(string(first), tok); err != nil {
		t.Errorf("the first agent's token: %v", err)
	}
	for _, ci := range env.svc.List() {
		if ci.Sub == second && (ci.HostTakenBy != first || ci.HostShort != host.Short()) {
			t.Errorf("list shows the second agent as %+v, want taken by %s", ci, first)
		}
	}

	// The server's own agent for the host wins over both.
	rv := &recordingRevoker{}
	env.svc.SetRevoker(rv)
	local, err := env.svc.LocalAgent(host, "desk")
	if err != nil {
		t.Fatal(err)
	}
	if got := rv.revoked(); len(got) != 2 {
		t.Errorf("the local agent revoked %v, want both agents that claimed its host", got)
	}
	if _, err := env.svc.Authenticate(string(first), tok); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("the remote agent's token after the local agent took its host = %v", err)
	}
	if _, err := env.svc.Reissue(local); err != nil {
		t.Errorf("Reissue for the local agent: %v", err)
	}
	res := env.svc.authorise(authoriseReq{key: ids.NewClientKey(), name: "rogue", role: wire.RoleAgent, host: host}, "192.0.2.9")
	if res.out != outHostTaken {
		t.Errorf("a new agent for the local host = %d, want host taken", res.out)
	}
}

// TestPairingTextNamesTheHost: the notification of an agent's request
// names the host and its short ID.
func TestPairingTextNamesTheHost(t *testing.T) {
	host := ids.NewHostID()
	got := pairingText(PairingRequest{Name: "desk", Role: wire.RoleAgent, Host: host, Code: "123456", RemoteAddr: "192.0.2.1"})
	if !strings.Contains(got, "host desk, ID "+host.Short()) || !strings.Contains(got, "123456") {
		t.Errorf("pairingText = %q, want the host's name and short ID and the code", got)
	}
}
