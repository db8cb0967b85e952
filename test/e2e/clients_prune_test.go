package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClientsPruneAndRename drives `mfd clients` from outside: a panel
// that signs in under a new name is listed under it, and `prune` removes
// the revoked client (a dry run first only says so) while an approved one
// in use stays. The revoked client's key then asks as a new device.
func TestClientsPruneAndRename(t *testing.T) {
	s := startServer(t)
	keepKey, keep := s.pair("Chrome on Linux", "panel", nil)
	goneKey, gone := s.pair("Old phone", "panel", nil)

	if a := s.authorise(keepKey, "Kitchen tablet", "panel", nil); a.Status != 200 {
		t.Fatalf("signing in with a new name = %d %s", a.Status, a.Raw)
	}
	names := map[string]string{}
	for _, r := range s.list() {
		names[r.Sub] = r.Name
	}
	if names[keep.Sub] != "Kitchen tablet" {
		t.Errorf("mfd clients list names %s %q, want the new name Kitchen tablet", keep.Sub, names[keep.Sub])
	}

	if out, err := s.cli("clients", "revoke", gone.Sub); err != nil {
		t.Fatalf("mfd clients revoke: %v\n%s", err, out)
	}
	out, err := s.cli("clients", "prune", "--dry-run")
	if err != nil || !strings.Contains(out, "would remove "+gone.Sub) || !strings.Contains(out, "would remove 1 clients") {
		t.Fatalf("mfd clients prune --dry-run: %v\n%s", err, out)
	}
	if len(s.list()) != 2 {
		t.Fatalf("a dry run removed something: %+v", s.list())
	}
	out, err = s.cli("clients", "prune", "--json")
	if err != nil {
		t.Fatalf("mfd clients prune --json: %v\n%s", err, out)
	}
	var removed []clientRow
	if err := json.Unmarshal([]byte(out), &removed); err != nil || len(removed) != 1 || removed[0].Sub != gone.Sub || removed[0].State != "revoked" {
		t.Fatalf("mfd clients prune --json = %s (%v), want only the revoked %s", out, err, gone.Sub)
	}
	for _, r := range s.list() {
		if r.Sub == gone.Sub {
			t.Errorf("the pruned client is still listed: %+v", r)
		}
	}
	if a := s.authorise(keepKey, "Kitchen tablet", "panel", nil); a.Status != 200 {
		t.Errorf("the approved panel after prune = %d, want 200", a.Status)
	}
	// A pruned key is a stranger now: it waits for approval, it is not
	// let in.
	if a := s.authorise(goneKey, "Old phone", "panel", nil); a.Status != 202 {
		t.Errorf("the pruned client's key = %d %s, want 202 pending", a.Status, a.Raw)
	}
	if out, err := s.cli("clients", "prune", "--older-than", "0s"); err == nil {
		t.Errorf("prune --older-than 0s = %q, want a usage error", out)
	}
}
