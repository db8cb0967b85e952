package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/xtest"
)

// actionConfig is the host config of TestActionRunsBesideCommands: a macro
// of a few seconds, and one that waits on a program far longer than the
// test (a distinct duration, so that the test can find the program).
const actionConfig = `actions:
  - id: macro
    label: Macro
    steps:
      - {op: text.type, text: "m"}
      - {sleep: 3s}
      - {op: text.type, text: "z"}
  - id: stuck
    label: Stuck
    steps:
      - {op: text.type, text: "s"}
      - {exec: [sleep, "` + stuckSeconds + `"], wait: true}
      - {op: text.type, text: "z"}
`

const stuckSeconds = "59.25"

// timedReply is a reply with when it arrived.
type timedReply struct {
	reply
	at time.Time
}

// readReplies reads the panel's next n replies, keyed by their Correlation
// Data.
func (p *panel) readReplies(n int, timeout time.Duration) map[string]timedReply {
	p.t.Helper()
	out := map[string]timedReply{}
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		m, err := p.rc.readMessage(time.Until(deadline))
		if err != nil {
			p.t.Fatalf("after %d of %d replies (%v): %v", len(out), n, out, err)
		}
		var r reply
		if err := json.Unmarshal(m.payload, &r); err != nil {
			p.t.Fatalf("reply %q is not JSON: %v", m.payload, err)
		}
		out[string(m.props.correlation)] = timedReply{r, time.Now()}
	}
	return out
}

// stuckRunning reports whether the stuck action's program runs.
func stuckRunning() bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err == nil && string(b) == "sleep\x00"+stuckSeconds+"\x00" {
			return true
		}
	}
	return false
}

// TestActionRunsBesideCommands is issue 11's case 11 from a panel's side,
// against `mfd serve` on Xvfb: during a macro a key tap is typed and
// answered at once, the macro answers ok when it ends, a second run of it
// is busy, and action.cancel and release.all stop a running action (its
// program killed, its later steps never typed), each answered at once.
func TestActionRunsBesideCommands(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	config := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(config, []byte(actionConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, withAgent(display), withConfig(config))
	p := newPanel(t, s, "e2e panel")
	host := waitStatus(t, p.connect("/status"), "the local host online with x11", onlineX11).Host

	t.Run("a tap during a macro", func(t *testing.T) {
		p := p.on(t)
		start := time.Now()
		p.send(host, cmd("run-1", "action.run", "action", "macro"), "c-run-1")
		xev.Expect(t, `the macro's "m"`, xtest.KeyTap("0x6d")...)
		tapAt := time.Now()
		p.send(host, cmd("tap-1", "key.tap", "key", "x"), "c-tap-1")
		xev.Expect(t, "the tap's x, during the macro", xtest.KeyTap("0x78")...)
		p.send(host, cmd("run-2", "action.run", "action", "macro"), "c-run-2")
		rs := p.readReplies(2, 10*time.Second)
		tap, busy := rs["c-tap-1"], rs["c-run-2"]
		if !tap.OK || tap.ID != "tap-1" {
			t.Fatalf("replies %v: want the tap answered ok while the macro runs", rs)
		}
		if busy.OK || busy.Error == nil || busy.Error.Code != "busy" {
			t.Errorf("a second run of the running macro = %v, want busy", busy.reply)
		}
		run := p.readReplies(1, 10*time.Second)["c-run-1"]
		if !run.OK || run.ID != "run-1" {
			t.Errorf("the macro's reply = %v, want ok", run.reply)
		}
		xev.Expect(t, `the macro's "z", after the tap`, xtest.KeyTap("0x7a")...)
		t.Logf("key.tap answered %v after it was sent, during the macro; the macro answered after %v (busy %v after)",
			tap.at.Sub(tapAt).Round(time.Millisecond), run.at.Sub(start).Round(time.Millisecond),
			busy.at.Sub(tapAt).Round(time.Millisecond))
		if !tap.at.Before(run.at) {
			t.Errorf("the tap was answered at %v, the macro at %v: the tap waited for the macro", tap.at, run.at)
		}
	})

	for _, tc := range []struct {
		name, op, why string
		stop          map[string]any
	}{
		{"action.cancel", "action.cancel", "action.cancel from", cmd("stop-1", "action.cancel", "action", "stuck")},
		{"release.all", "release.all", "release.all", cmd("stop-2", "release.all")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := p.on(t)
			id := "stuck-" + tc.op
			p.send(host, cmd(id, "action.run", "action", "stuck"), "c-"+id)
			xev.Expect(t, `the stuck action's "s"`, xtest.KeyTap("0x73")...)
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if !stuckRunning() {
					return fmt.Errorf("no process sleep %s: the stuck action's program does not run", stuckSeconds)
				}
				return nil
			})
			sent := time.Now()
			p.send(host, tc.stop, "c-stop")
			rs := p.readReplies(2, 10*time.Second)
			stop, run := rs["c-stop"], rs["c-"+id]
			if !stop.OK {
				t.Errorf("%s = %v, want ok", tc.op, stop.reply)
			}
			if run.OK || run.Error == nil || run.Error.Code != "cancelled" || !strings.Contains(run.Error.Message, tc.why) {
				t.Errorf("the stuck action's reply = %v, want cancelled naming %q", run.reply, tc.why)
			}
			t.Logf("%s answered after %v; the stuck action answered cancelled after %v: %s",
				tc.op, stop.at.Sub(sent).Round(time.Millisecond), run.at.Sub(sent).Round(time.Millisecond), run.Error.Message)
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if stuckRunning() {
					return fmt.Errorf("sleep %s still runs after %s", stuckSeconds, tc.op)
				}
				return nil
			})
			// Had the step after the program run, its "z" would reach xev
			// before this tap's "y".
			p.do(host, cmd("after-"+tc.op, "key.tap", "key", "y"), "c-after")
			xev.Expect(t, `only "y" after the cancel: the action's "z" never typed`, xtest.KeyTap("0x79")...)
		})
	}
	if !s.alive() {
		t.Fatalf("mfd serve died:\n%s", s.out)
	}
}
