package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/wire"
)

// started gives a test agent the context Start would, so that Reload and
// the probes can run.
func (ta *testAgent) started() *testAgent {
	ta.ctx, ta.cancel = context.WithCancel(context.Background())
	return ta
}

// lastActions returns the last actions payload the agent published.
func (ta *testAgent) lastActions() (wire.Actions, bool) {
	ps := ta.rec.on(wire.ActionsTopic(testHost))
	if len(ps) == 0 {
		return wire.Actions{}, false
	}
	var w wire.Actions
	if err := json.Unmarshal(ps[len(ps)-1].Payload, &w); err != nil {
		ta.t.Fatalf("actions payload %q: %v", ps[len(ps)-1].Payload, err)
	}
	return w, true
}

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(y))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return c
}

func TestReloadPublishesNewConfigAndKeepsItOnError(t *testing.T) {
	dir := t.TempDir()
	ta := newTestAgent(t, func(o *Options) {
		o.StateDir = dir
		o.Config = mustParse(t, "actions: [{id: old, steps: [{op: key.tap, key: a}]}]")
	}).started()
	node := "mfd-" + testHost.String()

	ta.Reload(mustParse(t, `
actions:
  - {id: mic, label: Mic, icon: "mdi:microphone", color: "#c62828", steps: [{op: key.tap, key: m}], state: {exec: ["false"], every: 1h}}
  - {id: b, steps: [{op: key.tap, key: b}]}
pages: [{name: Main, buttons: [mic]}, {name: More, buttons: [b, mic]}]
`))
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		w, ok := ta.lastActions()
		if !ok || len(w.Actions) != 2 || len(w.Pages) != 2 || !w.Actions[0].Toggle || w.Actions[0].Color != "#c62828" {
			return fmt.Errorf("actions after reload = %+v", w)
		}
		if len(ta.rec.on("homeassistant/binary_sensor/"+node+"/mic/config")) == 0 {
			return errors.New("no binary_sensor discovery for the toggle")
		}
		if len(ta.rec.on(wire.StateTopic(testHost, "mic"))) == 0 {
			return errors.New("no state published for the toggle")
		}
		return nil
	})
	if st := ta.rec.on(wire.StateTopic(testHost, "mic")); string(st[0].Payload) != "OFF" || !st[0].Retain {
		t.Errorf("state of mic = %q retained %v, want OFF retained (probe exits 1)", st[0].Payload, st[0].Retain)
	}
	if _, ok := ta.config().action("old"); ok {
		t.Errorf("the old config's action is still in force")
	}

	// A broken edit: the agent keeps the config in force and says why.
	ta.ConfigError(errors.New(`line 3: unknown field "lable" (did you mean "label"?)`))
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		w, _ := ta.lastActions()
		if !strings.Contains(w.ConfigError, `did you mean "label"`) || len(w.Actions) != 2 {
			return fmt.Errorf("actions after a broken edit = %+v", w)
		}
		return nil
	})

	// The next good edit clears the error; mic is no toggle any more, so
	// its retained state and its binary sensor are removed.
	ta.Reload(mustParse(t, "actions: [{id: mic, steps: [{op: key.tap, key: m}]}]"))
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		w, _ := ta.lastActions()
		if w.ConfigError != "" || len(w.Actions) != 1 || w.Actions[0].Toggle || w.Pages != nil {
			return fmt.Errorf("actions after the fix = %+v", w)
		}
		st := ta.rec.on(wire.StateTopic(testHost, "mic"))
		if last := st[len(st)-1]; len(last.Payload) != 0 || !last.Retain {
			return fmt.Errorf("state of mic = %q, want cleared", last.Payload)
		}
		bs := ta.rec.on("homeassistant/binary_sensor/" + node + "/mic/config")
		if len(bs[len(bs)-1].Payload) != 0 {
			return errors.New("the binary sensor was not removed")
		}
		return nil
	})
}

// TestStateProbeFollowsTheHost flips a file on the host that the probe
// tests, and expects the retained state to follow after each press.
func TestStateProbeFollowsTheHost(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "on")
	cfg := mustParse(t, fmt.Sprintf(`actions: [{id: t, steps: [{op: key.tap, key: a}], state: {exec: [test, -e, %q], every: 24h}}]`, flag))
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg; o.Clock = clock.Real{} }).started()
	ta.startProbes()
	state := func(want string) {
		t.Helper()
		checkFor(t, 5*time.Second, time.Millisecond, func() error {
			st := ta.rec.on(wire.StateTopic(testHost, "t"))
			if len(st) == 0 || string(st[len(st)-1].Payload) != want {
				return fmt.Errorf("state topic = %v, want last %s", st, want)
			}
			return nil
		})
	}
	state("OFF")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ta.send(subA, `{"id":"1","op":"action.run","action":"t"}`)
	state("ON")
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	ta.send(subA, `{"id":"2","op":"action.run","action":"t"}`)
	state("OFF")
	if n := len(ta.rec.on(wire.StateTopic(testHost, "t"))); n != 3 {
		t.Errorf("%d state publishes, want 3: only changes are sent", n)
	}
}

func TestStateProbeRunsEvery(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "on")
	cfg := mustParse(t, fmt.Sprintf(`actions: [{id: t, steps: [{op: key.tap, key: a}], state: {exec: [test, -e, %q], every: 500ms}}]`, flag))
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg; o.Clock = clock.Real{} }).started()
	ta.startProbes()
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		st := ta.rec.on(wire.StateTopic(testHost, "t"))
		if len(st) == 0 || string(st[len(st)-1].Payload) != "ON" {
			return fmt.Errorf("state topic = %v, want ON without a press", st)
		}
		return nil
	})
}

func TestRunProbeExec(t *testing.T) {
	ctx := t.Context()
	if on, err := runProbeExec(ctx, []string{"true"}); !on || err != nil {
		t.Errorf("true = %v, %v; want on", on, err)
	}
	if on, err := runProbeExec(ctx, []string{"false"}); on || err != nil {
		t.Errorf("false = %v, %v; want off", on, err)
	}
	if _, err := runProbeExec(ctx, []string{"/nonexistent/mfd-probe"}); err == nil {
		t.Errorf("a program that cannot start is an error, not off")
	}
}
