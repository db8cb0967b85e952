package authsvc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func panelReq(key ids.ClientKey, name string) authoriseReq {
	return authoriseReq{key: key, name: name, role: wire.RolePanel}
}

func TestPairingApprove(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	key := ids.NewClientKey()
	res := s.authorise(panelReq(key, "Kitchen tablet"), "192.0.2.7")
	if res.out != outPending || !isCode(res.entry.code) {
		t.Fatalf("first authorise = %d code %q, want pending with 6 digits", res.out, res.entry.code)
	}
	if n := env.notes.count(); n != 1 {
		t.Errorf("notifier called %d times, want 1", n)
	}
	if l := env.logs.String(); !strings.Contains(l, res.entry.code) || !strings.Contains(l, "Kitchen tablet") || !strings.Contains(l, "192.0.2.7") {
		t.Errorf("log lacks name, code or address:\n%s", l)
	}
	again := s.authorise(panelReq(key, "Kitchen tablet"), "192.0.2.8")
	if again.out != outPending || again.entry != res.entry {
		t.Errorf("re-post got %+v, want the same pending entry", again)
	}
	if n := env.notes.count(); n != 1 {
		t.Errorf("re-post notified again (%d)", n)
	}
	if _, err := s.Approve(res.entry.code); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	select {
	case <-res.entry.done:
	default:
		t.Error("approval did not wake waiters")
	}
	ok := s.authorise(panelReq(key, "Kitchen tablet"), "192.0.2.7")
	if ok.out != outApproved || ok.rec.Sub != res.entry.sub || ok.rec.Role != wire.RolePanel {
		t.Fatalf("after approval authorise = %d %+v", ok.out, ok.rec)
	}
	if _, err := s.Approve(res.entry.code); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no pending request with code "+res.entry.code) {
		t.Errorf("Approve(used code) = %v, want a not found error", err)
	}
}

func TestPairingApproveBySub(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	key := ids.NewClientKey()
	res := env.svc.authorise(authoriseReq{key: key, name: "desk", role: wire.RoleAgent, host: host}, "192.0.2.7")
	if !strings.HasPrefix(string(res.entry.sub), "a-") {
		t.Errorf("agent sub %q, want prefix a-", res.entry.sub)
	}
	if _, err := env.svc.Approve(string(res.entry.sub)); err != nil {
		t.Fatal(err)
	}
	ok := env.svc.authorise(authoriseReq{key: key, name: "desk", role: wire.RoleAgent, host: host}, "192.0.2.7")
	if ok.out != outApproved || ok.rec.host() != host {
		t.Fatalf("authorise = %d %+v, want approved on host %v", ok.out, ok.rec, host)
	}
	other := env.svc.authorise(authoriseReq{key: key, name: "desk", role: wire.RoleAgent, host: ids.NewHostID()}, "192.0.2.7")
	if other.out != outMismatch {
		t.Errorf("same key, other host = %d, want mismatch", other.out)
	}
	panel := env.svc.authorise(panelReq(key, "desk"), "192.0.2.7")
	if panel.out != outMismatch {
		t.Errorf("same key as panel = %d, want mismatch", panel.out)
	}
}

func TestPairingDenyAndRevoke(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	rv := &recordingRevoker{}
	s.SetRevoker(rv)

	denied := ids.NewClientKey()
	res := s.authorise(panelReq(denied, "intruder"), "192.0.2.9")
	if _, err := s.Deny(res.entry.code); err != nil {
		t.Fatal(err)
	}
	if got := s.authorise(panelReq(denied, "intruder"), "192.0.2.9"); got.out != outDenied {
		t.Errorf("denied client authorise = %d, want denied", got.out)
	}

	key, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	tok := env.token(t, sub)
	if _, err := s.Deny(string(sub)); err == nil {
		t.Error("Deny(approved) succeeded, want an error pointing at revoke")
	}
	if _, err := s.Revoke(string(sub)); err != nil {
		t.Fatal(err)
	}
	if got := rv.revoked(); len(got) != 1 || got[0] != string(sub) {
		t.Errorf("revoker saw %v, want [%s]", got, sub)
	}
	if got := s.authorise(panelReq(key, "x"), "192.0.2.1"); got.out != outRevoked {
		t.Errorf("revoked client authorise = %d, want revoked", got.out)
	}
	if _, err := s.Authenticate(string(sub), tok); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("Authenticate(revoked) = %v, want ErrNotAuthorized", err)
	}
	if _, err := s.Approve(string(sub)); err == nil {
		t.Error("Approve(revoked) succeeded")
	}
	if _, err := s.Revoke("p-nosuchclient"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
}

func TestPairingExpiry(t *testing.T) {
	env := newTestService(t, func(o *Options) { o.PendingTTL = time.Minute })
	s := env.svc
	key := ids.NewClientKey()
	first := s.authorise(panelReq(key, "slow"), "192.0.2.7")
	env.clock.Advance(59 * time.Second)
	if again := s.authorise(panelReq(key, "slow"), "192.0.2.7"); again.entry != first.entry {
		t.Fatal("entry expired early")
	}
	env.clock.Advance(time.Second)
	if _, err := s.Approve(first.entry.code); !errors.Is(err, ErrNotFound) {
		t.Errorf("Approve(expired code) = %v, want ErrNotFound", err)
	}
	select {
	case <-first.entry.done:
	default:
		t.Error("expiry did not wake waiters")
	}
	fresh := s.authorise(panelReq(key, "slow"), "192.0.2.7")
	if fresh.out != outPending || fresh.entry == first.entry || fresh.entry.sub == first.entry.sub {
		t.Errorf("after expiry got %+v, want a fresh pending entry", fresh.entry)
	}
	if len(s.List()) != 1 {
		t.Errorf("List has %d entries, want 1", len(s.List()))
	}
}

func TestPairingBounded(t *testing.T) {
	env := newTestService(t, func(o *Options) { o.MaxPending = 6; o.MaxPendingPerAddr = 2 })
	s := env.svc
	for i := range 3 {
		addr := fmt.Sprintf("192.0.2.%d", i+1)
		for j := range 2 {
			if r := s.authorise(panelReq(ids.NewClientKey(), "c"), addr); r.out != outPending {
				t.Fatalf("request %d from %s = %d, want pending", j, addr, r.out)
			}
		}
		if r := s.authorise(panelReq(ids.NewClientKey(), "c"), addr); r.out != outFull {
			t.Errorf("third request from %s = %d, want full", addr, r.out)
		}
	}
	// The list is full; an address with nothing pending takes the place
	// of the newest request of an address holding two, once.
	if r := s.authorise(panelReq(ids.NewClientKey(), "c"), "198.51.100.1"); r.out != outPending {
		t.Errorf("request from a new address into a full list = %d, want pending (room made)", r.out)
	}
	if r := s.authorise(panelReq(ids.NewClientKey(), "c"), "198.51.100.1"); r.out != outFull {
		t.Errorf("second request from that address into a full list = %d, want full", r.out)
	}
	for i := range 2 {
		if r := s.authorise(panelReq(ids.NewClientKey(), "c"), fmt.Sprintf("203.0.113.%d", i+1)); r.out != outPending {
			t.Errorf("request %d from another new address = %d, want pending", i, r.out)
		}
	}
	// Now every address holds one: nobody's place can be taken.
	if r := s.authorise(panelReq(ids.NewClientKey(), "c"), "198.51.100.9"); r.out != outFull {
		t.Errorf("request beyond MaxPending with one per address = %d, want full", r.out)
	}
	if n := len(s.List()); n != 6 {
		t.Errorf("pending list has %d entries, want 6", n)
	}
	env.clock.Advance(DefaultPendingTTL)
	if r := s.authorise(panelReq(ids.NewClientKey(), "c"), "198.51.100.1"); r.out != outPending {
		t.Errorf("after expiry = %d, want pending", r.out)
	}
}

// TestDeniedAddressWaits: the address of a denied request may not file
// another for DenyCooldown; other addresses may.
func TestDeniedAddressWaits(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	r := s.authorise(panelReq(ids.NewClientKey(), "flood"), "192.0.2.1")
	if r.out != outPending {
		t.Fatalf("first request = %d, want pending", r.out)
	}
	if _, err := s.Deny(r.entry.code); err != nil {
		t.Fatal(err)
	}
	if r := s.authorise(panelReq(ids.NewClientKey(), "again"), "192.0.2.1"); r.out != outCoolingDown || r.wait != DefaultDenyCooldown {
		t.Errorf("request right after a deny = %d (wait %v), want cooling down for %v", r.out, r.wait, DefaultDenyCooldown)
	}
	if r := s.authorise(panelReq(ids.NewClientKey(), "other"), "192.0.2.2"); r.out != outPending {
		t.Errorf("another address = %d, want pending", r.out)
	}
	env.clock.Advance(DefaultDenyCooldown)
	if r := s.authorise(panelReq(ids.NewClientKey(), "later"), "192.0.2.1"); r.out != outPending {
		t.Errorf("after the cooldown = %d, want pending", r.out)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	env := newTestService(t, func(o *Options) { o.Rate = 1; o.Burst = 5 })
	s := env.svc
	for i := range 5 {
		if !s.allow("192.0.2.1") {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	if s.allow("192.0.2.1") {
		t.Error("request beyond the burst allowed")
	}
	if !s.allow("192.0.2.2") {
		t.Error("another address was limited")
	}
	env.clock.Advance(time.Second)
	if !s.allow("192.0.2.1") {
		t.Error("bucket did not refill")
	}
}

func TestRacingCodes(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	var entries []*pendingEntry
	for i := range 8 {
		r := s.authorise(panelReq(ids.NewClientKey(), fmt.Sprintf("racer %d", i)), fmt.Sprintf("192.0.2.%d", i))
		entries = append(entries, r.entry)
	}
	codes := map[string]bool{}
	for _, e := range entries {
		if codes[e.code] {
			t.Fatalf("code %s given twice", e.code)
		}
		codes[e.code] = true
	}
	// Approve half concurrently, by code; the others must stay pending.
	var wg sync.WaitGroup
	for _, e := range entries[:4] {
		wg.Go(func() {
			if _, err := s.Approve(e.code); err != nil {
				t.Errorf("Approve(%s): %v", e.code, err)
			}
		})
	}
	wg.Wait()
	states := map[ids.Subject]State{}
	for _, ci := range s.List() {
		states[ci.Sub] = ci.State
	}
	for i, e := range entries {
		want := StatePending
		if i < 4 {
			want = StateApproved
		}
		if states[e.sub] != want {
			t.Errorf("racer %d is %q, want %q", i, states[e.sub], want)
		}
	}
}

func TestLocalAgent(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	sub, err := env.svc.LocalAgent(host, "this desk")
	if err != nil {
		t.Fatal(err)
	}
	again, err := env.svc.LocalAgent(host, "this desk")
	if err != nil || again != sub {
		t.Fatalf("LocalAgent again = %s, %v; want %s", again, err, sub)
	}
	tok := env.token(t, sub)
	id, err := env.svc.Authenticate(string(sub), tok)
	if err != nil || id.Role != wire.RoleAgent || id.Host != host {
		t.Errorf("Authenticate(local agent) = %+v, %v", id, err)
	}
	env.svc.Close()
	s2, err := New(env.svc.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.LocalAgent(host, "this desk"); err != nil || got != sub {
		t.Errorf("LocalAgent after restart = %s, %v; want %s", got, err, sub)
	}
}

func TestAddrBucket(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		if got := addrBucket(tt.in); got != tt.want {
			t.Errorf("addrBucket(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
