package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/xtest"
)

// The input-safety paths that neither the agent's unit tests (agent
// rules_test.go, x11_test.go) nor the X11 e2e tests of agent_test.go walk
// end to end: a held key released when its client is revoked, when the
// agent shuts down, when the agent loses its server, and by the lease when
// nobody repeats it; a stale command never runs. Each runs against a real
// `mfd serve`, a real `mfd agent --server` on Xvfb and xev reading the
// keys back.

// atkInputRig is a server, a remote agent on its own Xvfb with xev
// focused, and a commander panel.
type atkInputRig struct {
	s     *server
	agent *proc
	xev   *xtest.Xev
	host  string
	panel authResp
	cmdr  *atkCommander
}

func atkNewInputRig(t *testing.T) *atkInputRig {
	t.Helper()
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	s := startServer(t)
	ag, host := atkRemoteAgent(t, s, t.TempDir(), "DISPLAY="+display)
	_, p := s.pair("input panel", "", nil)
	r := &atkInputRig{s: s, agent: ag, xev: xev, host: host, panel: p}
	r.cmdr = atkNewCommander(t, s, p, host, "/input")
	return r
}

// do sends cmd and fails unless its reply is ok.
func (r *atkInputRig) do(t *testing.T, id, cmd string) {
	t.Helper()
	if err := r.cmdr.send(cmd); err != nil {
		t.Fatalf("sending %s: %v", cmd, err)
	}
	rep, err := r.cmdr.reply(10 * time.Second)
	if err != nil || !rep.OK || rep.ID != id {
		t.Fatalf("command %s: reply %+v %v, want ok", cmd, rep, err)
	}
}

// holdB presses b and keeps its lease alive by repeating the key.down
// every 500 ms, as a panel does, until stop is closed; it returns once xev
// has seen the press.
func (r *atkInputRig) holdB(t *testing.T, id string) (stop chan struct{}) {
	t.Helper()
	cmd := fmt.Sprintf(`{"id":%q,"op":"key.down","key":"b"}`, id)
	r.do(t, id, cmd)
	r.xev.Expect(t, "key.down b", xtest.KeyPress("0x62"))
	stop = make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if r.cmdr.send(cmd) != nil {
				return
			}
		}
	}()
	return stop
}

// released waits for b's KeyRelease and checks it came within limit of
// since, well before the 3 s lease would have ended it.
func (r *atkInputRig) released(t *testing.T, what string, since time.Time, limit time.Duration) {
	t.Helper()
	r.xev.Expect(t, what, xtest.KeyRelease("0x62"))
	took := time.Since(since)
	t.Logf("%s: KeyRelease %v later", what, took.Round(time.Millisecond))
	if took > limit {
		t.Errorf("%s: b released %v later, want within %v (the lease alone takes 3 s)", what, took, limit)
	}
}

func TestHeldKeyReleasedOnRevocation(t *testing.T) {
	r := atkNewInputRig(t)
	stop := r.holdB(t, "hold-rev")
	defer close(stop)
	time.Sleep(1200 * time.Millisecond) // past two repeats: the lease is alive
	if ev := r.xev.Pending(); len(ev) != 0 {
		t.Fatalf("while held, xev saw %v", ev)
	}
	start := time.Now()
	if out, err := r.s.cli("clients", "revoke", r.panel.Sub); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	r.released(t, "b held by a revoked panel", start, 1500*time.Millisecond)
}

func TestHeldKeyReleasedOnAgentShutdown(t *testing.T) {
	r := atkNewInputRig(t)
	stop := r.holdB(t, "hold-shutdown")
	defer close(stop)
	time.Sleep(1200 * time.Millisecond)
	if ev := r.xev.Pending(); len(ev) != 0 {
		t.Fatalf("while held, xev saw %v", ev)
	}
	start := time.Now()
	r.agent.stop() // SIGINT, as systemd or Ctrl-C stops it
	r.released(t, "b held when the agent shut down", start, 1500*time.Millisecond)
}

func TestHeldKeyReleasedWhenAgentLosesServer(t *testing.T) {
	r := atkNewInputRig(t)
	stop := r.holdB(t, "hold-loss")
	defer close(stop)
	time.Sleep(1200 * time.Millisecond)
	if ev := r.xev.Pending(); len(ev) != 0 {
		t.Fatalf("while held, xev saw %v", ev)
	}
	start := time.Now()
	r.s.kill9()
	r.released(t, "b held when the server died", start, 1500*time.Millisecond)
}

func TestHeldKeyReleasedByLease(t *testing.T) {
	r := atkNewInputRig(t)
	r.do(t, "hold-lease", `{"id":"hold-lease","op":"key.down","key":"b"}`)
	start := time.Now()
	r.xev.Expect(t, "key.down b", xtest.KeyPress("0x62"))
	r.xev.Expect(t, "b released by the lease", xtest.KeyRelease("0x62"))
	if took := time.Since(start); took < 2500*time.Millisecond || took > 4500*time.Millisecond {
		t.Errorf("b, held and not repeated, released %v later, want about 3 s", took)
	}
}

// TestStaleCommandNeverRuns: a command stamped 11 s ago is answered
// expired and types nothing; a fresh one after it types.
func TestStaleCommandNeverRuns(t *testing.T) {
	r := atkNewInputRig(t)
	old := time.Now().Add(-11 * time.Second).UnixMilli()
	if err := r.cmdr.send(fmt.Sprintf(`{"id":"stale","op":"text.type","text":"x","ts":%d}`, old)); err != nil {
		t.Fatal(err)
	}
	rep, err := r.cmdr.reply(10 * time.Second)
	if err != nil || rep.OK || rep.Error == nil || rep.Error.Code != "expired" {
		t.Errorf("a command sent 11 s ago: reply %+v %v, want expired", rep, err)
	}
	r.do(t, "fresh", fmt.Sprintf(`{"id":"fresh","op":"text.type","text":"y","ts":%d}`, time.Now().UnixMilli()))
	r.xev.Expect(t, "only the fresh command's y", xtest.KeyTap("0x79")...)
}

// TestHeldKeyReleasedOnTokenExpiry: a panel holds b, repeating it, and
// never renews its token (MFD_TOKEN_TTL=30s, the shortest). At expiry plus
// the 30 s grace the server closes its session (DISCONNECT 0xA0), and the
// key is released at once, not when the lease would run out. The agent's
// own 30 s tokens are renewed in band meanwhile (every 20 s), which keeps
// what is held: b is still down 2 s before the panel's session ends.
func TestHeldKeyReleasedOnTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a token's lifetime plus grace (60 s); skipped with -short")
	}
	t.Setenv("MFD_TOKEN_TTL", "30s")
	r := atkNewInputRig(t)
	closeAt := r.panel.ExpiresAt.Add(30 * time.Second)
	stop := r.holdB(t, "hold-expiry")
	defer close(stop)
	time.Sleep(time.Until(closeAt.Add(-2 * time.Second)))
	if ev := r.xev.Pending(); len(ev) != 0 {
		t.Fatalf("2 s before the session should end, xev saw %v; want b still held\nagent:\n%s", ev, r.agent.out)
	}
	reason, err := r.cmdr.waitDisconnect(15 * time.Second)
	closed := time.Now()
	if err != nil || reason != 0xa0 {
		t.Fatalf("the panel's session at token expiry: DISCONNECT %#x %v, want 0xa0", reason, err)
	}
	r.released(t, "b held by a panel whose token expired", closed, 1500*time.Millisecond)
	if !strings.Contains(r.agent.out.String(), "renewed the token in band") {
		t.Errorf("the agent never renewed its 30 s token in band:\n%s", r.agent.out)
	}
}
