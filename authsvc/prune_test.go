package authsvc

import (
	"slices"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func subs(list []ClientInfo) []ids.Subject {
	out := make([]ids.Subject, 0, len(list))
	for _, c := range list {
		out = append(out, c.Sub)
	}
	slices.Sort(out)
	return out
}

// TestPrune keeps what is in use and removes revoked, denied and
// long-unseen clients, from memory and from disk.
func TestPrune(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	_, revoked := env.pair(t, wire.RolePanel, ids.HostID{})
	if _, err := s.Revoke(string(revoked)); err != nil {
		t.Fatal(err)
	}
	res := s.authorise(authoriseReq{key: ids.NewClientKey(), name: "denied", role: wire.RolePanel}, "192.0.2.2")
	if _, err := s.Deny(res.entry.code); err != nil {
		t.Fatal(err)
	}
	_, stale := env.pair(t, wire.RolePanel, ids.HostID{})
	integ, _, err := s.AddIntegration("ha")
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(100 * 24 * time.Hour)
	freshKey, fresh := env.pair(t, wire.RolePanel, ids.HostID{})
	if r := s.authorise(authoriseReq{key: freshKey, name: "test panel", role: wire.RolePanel}, "192.0.2.1"); r.out != outApproved {
		t.Fatalf("fresh panel: outcome %d", r.out)
	}
	pending := s.authorise(authoriseReq{key: ids.NewClientKey(), name: "pending", role: wire.RolePanel}, "192.0.2.3")

	want := subs([]ClientInfo{{Sub: revoked}, {Sub: res.entry.sub}, {Sub: stale}})
	dry, err := s.Prune(90*24*time.Hour, true)
	if err != nil || !slices.Equal(subs(dry), want) {
		t.Fatalf("Prune(dry run) = %v, %v; want %v", subs(dry), err, want)
	}
	if n := len(s.List()); n != 6 {
		t.Errorf("a dry run removed something: %d clients left, want 6", n)
	}
	gone, err := s.Prune(90*24*time.Hour, false)
	if err != nil || !slices.Equal(subs(gone), want) {
		t.Fatalf("Prune = %v, %v; want %v", subs(gone), err, want)
	}
	left := subs(s.List())
	if !slices.Equal(left, subs([]ClientInfo{{Sub: integ}, {Sub: fresh}, {Sub: pending.entry.sub}})) {
		t.Errorf("left after prune: %v", left)
	}
	// On disk too: a restarted service has the same list.
	s.Close()
	env2 := newTestService(t, func(o *Options) { o.StateDir = env.dir })
	var stored []ids.Subject
	for _, c := range env2.svc.List() {
		stored = append(stored, c.Sub)
	}
	slices.Sort(stored)
	if !slices.Equal(stored, subs([]ClientInfo{{Sub: integ}, {Sub: fresh}})) {
		t.Errorf("stored after prune: %v", stored)
	}
}

// TestRenameIsStored: a panel that signs in with a new name is listed and
// kept under it.
func TestRenameIsStored(t *testing.T) {
	env := newTestService(t, nil)
	key, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	if r := env.svc.authorise(authoriseReq{key: key, name: "Kitchen tablet", role: wire.RolePanel}, "192.0.2.1"); r.out != outApproved || r.rec.Name != "Kitchen tablet" {
		t.Fatalf("authorise with a new name: outcome %d, name %q", r.out, r.rec.Name)
	}
	env.svc.Close()
	env2 := newTestService(t, func(o *Options) { o.StateDir = env.dir })
	for _, c := range env2.svc.List() {
		if c.Sub == sub && c.Name != "Kitchen tablet" {
			t.Errorf("stored name = %q, want Kitchen tablet", c.Name)
		}
	}
}
