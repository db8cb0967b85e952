package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func byID(rs []wire.Reply) map[string]wire.Reply {
	m := map[string]wire.Reply{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

// advanceAsleep waits until n timers are armed (an action's sleep step
// among them), then moves the clock by d.
func (ta *testAgent) advanceAsleep(n int, d time.Duration) {
	ta.t.Helper()
	checkFor(ta.t, 5*time.Second, time.Millisecond, func() error {
		if got := ta.clk.Pending(); got < n {
			return fmt.Errorf("%d timers armed, want %d", got, n)
		}
		return nil
	})
	ta.clk.Advance(d)
}

// noMoreReplies checks, once the worker is idle, that sub has had
// exactly n replies.
func (ta *testAgent) noMoreReplies(sub ids.Subject, n int) {
	ta.t.Helper()
	ta.sync()
	if got := len(ta.rec.on(wire.ReplyTopic(sub))); got != n {
		ta.t.Errorf("%d replies to %s, want %d", got, sub, n)
	}
}

// wantCallsInAnyOrder is wantCalls for runs whose steps interleave.
func (ta *testAgent) wantCallsInAnyOrder(want ...string) {
	ta.t.Helper()
	want = slices.Sorted(slices.Values(want))
	checkFor(ta.t, 5*time.Second, time.Millisecond, func() error {
		got := slices.Sorted(slices.Values(ta.inj.Calls()))
		if !slices.Equal(got, want) {
			return fmt.Errorf("injector calls (sorted):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
}

func actionConfig(t *testing.T, extra string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(`
actions:
  - id: long
    steps:
      - {op: text.type, text: "a"}
      - {sleep: 10s}
      - {op: text.type, text: "b"}
  - id: twice
    overlap: true
    steps:
      - {sleep: 10s}
      - {op: key.tap, key: t}
  - id: hold
    steps:
      - {op: key.down, key: shift}
      - {op: mouse.down, button: left}
      - {sleep: 10s}
      - {op: key.up, key: shift}
      - {op: mouse.up, button: left}
` + extra))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

// TestActionDoesNotBlock: while an action sleeps, other commands run and
// are answered at once; the action answers when it ends.
func TestActionDoesNotBlock(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") })
	ta.send(subA, `{"id":"run","op":"action.run","action":"long"}`)
	ta.wantCalls(`type "a"`)
	ta.send(subB, `{"id":"k","op":"key.tap","key":"x"}`)
	if r := ta.replies(subB, 1); !r[0].OK {
		t.Errorf("key.tap during the action = %+v, want ok", r[0])
	}
	ta.wantCalls(`type "a"`, "tap x []")
	ta.noMoreReplies(subA, 0)
	ta.advanceAsleep(1, 10*time.Second)
	ta.wantCalls(`type "a"`, "tap x []", `type "b"`)
	if r := ta.replies(subA, 1); !r[0].OK || r[0].ID != "run" {
		t.Errorf("action reply = %+v, want ok for run", r[0])
	}
	if n := len(ta.rec.on(wire.EventsTopic(testHost))); n != 1 {
		t.Errorf("%d press events, want 1", n)
	}
}

// TestActionBusyUnlessOverlap: a second run of a running action is
// answered busy, unless its config says overlap: true.
func TestActionBusyUnlessOverlap(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") })
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	ta.wantCalls(`type "a"`)
	ta.send(subB, `{"id":"2","op":"action.run","action":"long"}`)
	if r := ta.replies(subB, 1); codeOf(r[0]) != wire.CodeBusy || !strings.Contains(r[0].Error.Message, "already running") {
		t.Errorf("second run = %+v, want busy", r[0])
	}
	ta.send(subA, `{"id":"3","op":"action.run","action":"twice"}`)
	ta.send(subB, `{"id":"4","op":"action.run","action":"twice"}`)
	ta.advanceAsleep(3, 10*time.Second)
	rs := byID(ta.replies(subA, 2))
	if !rs["1"].OK || !rs["3"].OK {
		t.Errorf("replies to A = %+v, want long and twice ok", rs)
	}
	if rs := ta.replies(subB, 2); !rs[1].OK {
		t.Errorf("overlapping run = %+v, want ok", rs[1])
	}
	calls := strings.Join(ta.inj.Calls(), "|")
	if strings.Count(calls, "tap t") != 2 || strings.Count(calls, `type "b"`) != 1 {
		t.Errorf("calls %s: want twice's tap twice and long's b once", calls)
	}
	// Once it ended, it runs again.
	ta.send(subB, `{"id":"5","op":"action.run","action":"long"}`)
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n := strings.Count(strings.Join(ta.inj.Calls(), "|"), `type "a"`); n != 2 {
			return fmt.Errorf("long typed a %d times, want 2", n)
		}
		return nil
	})
}

// TestActionRepeatedIDWhileRunning: a redelivered action.run is not run
// again; both are answered when the one run ends.
func TestActionRepeatedIDWhileRunning(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") })
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	ta.noMoreReplies(subA, 0)
	ta.advanceAsleep(1, 10*time.Second)
	rs := ta.replies(subA, 2)
	if !rs[0].OK || rs[0] != rs[1] {
		t.Errorf("replies = %+v, want ok twice", rs)
	}
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	if rs := ta.replies(subA, 3); rs[2] != rs[0] {
		t.Errorf("a repeat after the end = %+v, want the same answer", rs[2])
	}
	ta.wantCalls(`type "a"`, `type "b"`)
}

// TestActionCancel: action.cancel stops the run before its next step,
// releases what it holds and answers it cancelled; the cancel is ok.
func TestActionCancel(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") })
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	ta.send(subA, `{"id":"2","op":"action.run","action":"hold"}`)
	ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1")
	ta.send(subB, `{"id":"c1","op":"action.cancel","action":"hold"}`)
	r := ta.replies(subA, 1)[0]
	if r.ID != "2" || codeOf(r) != wire.CodeCancelled || !strings.Contains(r.Error.Message, "action.cancel from p-bob") {
		t.Errorf("cancelled run = %+v, want cancelled by p-bob", r)
	}
	if r := ta.replies(subB, 1)[0]; !r.OK {
		t.Errorf("action.cancel = %+v, want ok", r)
	}
	ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1", "up shift", "bup 1")

	// The other action runs on; cancelling it stops its later steps.
	ta.send(subB, `{"id":"c2","op":"action.cancel","action":"long"}`)
	ta.send(subB, `{"id":"c3","op":"action.cancel","action":"nope"}`)
	rs := byID(ta.replies(subA, 2))
	if codeOf(rs["1"]) != wire.CodeCancelled || !strings.Contains(rs["1"].Error.Message, "step 2 of 3") {
		t.Errorf("long = %+v, want cancelled at step 2", rs["1"])
	}
	if r := byID(ta.replies(subB, 3))["c3"]; codeOf(r) != wire.CodeUnknownAction {
		t.Errorf("cancel of an unknown action = %+v, want unknown_action", r)
	}
	ta.clk.Advance(time.Minute)
	ta.sync()
	ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1", "up shift", "bup 1")
	if n := len(ta.rec.on(wire.EventsTopic(testHost))); n != 0 {
		t.Errorf("%d press events for cancelled runs, want 0", n)
	}
}

// TestActionAcrossReload: a run finishes with the config it started with,
// and can still be cancelled after a reload dropped its action.
func TestActionAcrossReload(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") }).started()
	ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
	ta.send(subA, `{"id":"2","op":"action.run","action":"hold"}`)
	ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1")
	ta.Reload(mustParse(t, "actions: [{id: other, steps: [{op: key.tap, key: o}]}]"))

	ta.send(subB, `{"id":"c1","op":"action.cancel","action":"hold"}`)
	if r := ta.replies(subB, 1)[0]; !r.OK {
		t.Errorf("action.cancel of a run whose action the reload dropped = %+v, want ok", r)
	}
	if r := ta.replies(subA, 1)[0]; r.ID != "2" || codeOf(r) != wire.CodeCancelled {
		t.Errorf("hold = %+v, want cancelled", r)
	}
	ta.advanceAsleep(1, 10*time.Second)
	rs := byID(ta.replies(subA, 2))
	if !rs["1"].OK {
		t.Errorf("long = %+v, want ok: it finishes with the config it started with", rs["1"])
	}
	ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1", "up shift", "bup 1", `type "b"`)

	// Nothing of it runs now: the dropped action is unknown.
	ta.send(subB, `{"id":"c2","op":"action.cancel","action":"hold"}`)
	ta.send(subB, `{"id":"3","op":"action.run","action":"long"}`)
	rs = byID(ta.replies(subB, 3))
	if codeOf(rs["c2"]) != wire.CodeUnknownAction || codeOf(rs["3"]) != wire.CodeUnknownAction {
		t.Errorf("cancel and run of a dropped action = %+v, %+v, want unknown_action", rs["c2"], rs["3"])
	}
}

// TestActionCancelledByReleaseAllInputOffAndClose: release.all, remote
// input switched off and Close each cancel every running action.
func TestActionCancelledByReleaseAllInputOffAndClose(t *testing.T) {
	for _, tc := range []struct {
		name, why string
		stop      func(ta *testAgent)
	}{
		{"release.all", "release.all", func(ta *testAgent) { ta.send(subB, `{"id":"r","op":"release.all"}`) }},
		{"input off", "remote input was switched off", func(ta *testAgent) { ta.SetInput(false) }},
		{"close", "the agent is closing", func(ta *testAgent) { ta.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestAgent(t, func(o *Options) { o.Config = actionConfig(t, "") })
			ta.send(subA, `{"id":"1","op":"action.run","action":"long"}`)
			ta.send(subA, `{"id":"2","op":"action.run","action":"hold"}`)
			ta.wantCallsInAnyOrder(`type "a"`, "down shift", "bdown 1")
			tc.stop(ta)
			rs := byID(ta.replies(subA, 2))
			for _, id := range []string{"1", "2"} {
				if codeOf(rs[id]) != wire.CodeCancelled || !strings.Contains(rs[id].Error.Message, tc.why) {
					t.Errorf("run %s = %+v, want cancelled: %s", id, rs[id], tc.why)
				}
			}
			ta.clk.Advance(time.Minute)
			calls := ta.inj.Calls()
			if strings.Contains(strings.Join(calls, "|"), `type "b"`) || !strings.Contains(strings.Join(calls, "|"), "up shift") {
				t.Errorf("calls %v: want shift released and no b typed", calls)
			}
		})
	}
}

// TestActionWaitedExec: a waited exec step fails the action with the
// program's exit status; cancelling kills the program and its children;
// a missing program says so.
func TestActionWaitedExec(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ta := newTestAgent(t, func(o *Options) {
		o.Config = actionConfig(t, `
  - id: fails
    steps:
      - {exec: [/bin/sh, -c, "exit 3"], wait: true}
      - {op: key.tap, key: z}
  - id: script
    steps:
      - {exec: [/bin/sh, -c, 'sleep 30 & echo $! > "$0"; wait', `+pidFile+`], wait: true}
      - {op: key.tap, key: z}
  - id: missing
    steps:
      - {exec: [no-such-program-mfd], wait: true}
`)
	})
	ta.send(subA, `{"id":"1","op":"action.run","action":"fails"}`)
	if r := ta.replies(subA, 1)[0]; codeOf(r) != wire.CodeInternal || !strings.Contains(r.Error.Message, "exit status 3") ||
		!strings.Contains(r.Error.Message, `action "fails" step 1`) {
		t.Errorf("fails = %+v, want internal with exit status 3 at step 1", r)
	}
	ta.send(subA, `{"id":"2","op":"action.run","action":"missing"}`)
	if r := ta.replies(subA, 2)[1]; codeOf(r) != wire.CodeInternal || !strings.Contains(r.Error.Message, "executable file not found") {
		t.Errorf("missing = %+v, want internal saying the program was not found", r)
	}

	ta.send(subA, `{"id":"3","op":"action.run","action":"script"}`)
	var pid int
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return fmt.Errorf("pid file: %q, %v", b, err)
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	ta.send(subB, `{"id":"c","op":"action.cancel","action":"script"}`)
	if r := ta.replies(subA, 3)[2]; codeOf(r) != wire.CodeCancelled {
		t.Errorf("script = %+v, want cancelled", r)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		// The grandchild is reaped by init, or by nobody in a container:
		// gone or a zombie both mean killed.
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && !strings.Contains(string(b), ") Z ") {
			if syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("the script's child %d still runs after the cancel", pid)
			}
		}
		return nil
	})
	ta.sync()
	if calls := ta.inj.Calls(); len(calls) != 0 {
		t.Errorf("calls %v: no step after a failed, missing or cancelled program may run", calls)
	}
}
