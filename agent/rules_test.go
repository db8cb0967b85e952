package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/wire"
)

func TestEveryOpInjects(t *testing.T) {
	ta := newTestAgent(t, nil)
	cmds := []string{
		`{"id":"1","op":"key.tap","key":"a","mods":["ctrl","cmd"]}`,
		`{"id":"2","op":"text.type","text":"é€😀\n"}`,
		`{"id":"3","op":"mouse.move","x":100,"y":200}`,
		`{"id":"4","op":"mouse.move","x":-1,"y":2,"rel":true}`,
		`{"id":"5","op":"mouse.click","button":"right","count":2}`,
		`{"id":"6","op":"mouse.scroll","dx":0,"dy":3}`,
		`{"id":"7","op":"key.down","key":"shift"}`,
		`{"id":"8","op":"key.up","key":"shift"}`,
		`{"id":"9","op":"mouse.down","button":"middle"}`,
		`{"id":"10","op":"mouse.up","button":"middle"}`,
	}
	for _, c := range cmds {
		ta.send(subA, c)
	}
	rs := ta.replies(subA, len(cmds))
	for i, r := range rs {
		if !r.OK || r.ID != fmt.Sprint(i+1) {
			t.Errorf("reply %d = %+v, want ok with id %d", i, r, i+1)
		}
	}
	ta.wantCalls(
		"tap a [ctrl super]",
		`type "é€😀\n"`,
		"move 100,200 rel=false",
		"move -1,2 rel=true",
		"click 2 x2",
		"scroll 0,3",
		"down shift",
		"up shift",
		"bdown 3",
		"bup 3",
	)
}

func TestDedup(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"same","op":"text.type","text":"hi"}`)
	ta.send(subA, `{"id":"same","op":"text.type","text":"hi"}`)
	// The same id from another client is another command.
	ta.send(subB, `{"id":"same","op":"text.type","text":"hi"}`)
	rs := ta.replies(subA, 2)
	if rs[0] != rs[1] || !rs[0].OK {
		t.Errorf("replies to a repeated id = %+v, %+v; want two identical ok replies", rs[0], rs[1])
	}
	ta.replies(subB, 1)
	ta.wantCalls(`type "hi"`, `type "hi"`)

	// After 60 s the id may be used again.
	ta.clk.Advance(61 * time.Second)
	ta.send(subA, `{"id":"same","op":"text.type","text":"hi"}`)
	ta.replies(subA, 3)
	ta.wantCalls(`type "hi"`, `type "hi"`, `type "hi"`)
}

func TestDedupRemembersFailure(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"x","op":"action.run","action":"missing"}`)
	ta.send(subA, `{"id":"x","op":"action.run","action":"missing"}`)
	rs := ta.replies(subA, 2)
	for _, r := range rs {
		if codeOf(r) != wire.CodeUnknownAction {
			t.Errorf("reply = %+v, want unknown_action", r)
		}
	}
}

func TestExpiry(t *testing.T) {
	ta := newTestAgent(t, nil)
	// ts more than 10 s ago.
	old := ta.clk.Now().Add(-11 * time.Second).UnixMilli()
	ta.send(subA, fmt.Sprintf(`{"id":"old","op":"key.tap","key":"a","ts":%d}`, old))
	fresh := ta.clk.Now().Add(-2 * time.Second).UnixMilli()
	ta.send(subA, fmt.Sprintf(`{"id":"fresh","op":"key.tap","key":"b","ts":%d}`, fresh))
	rs := ta.replies(subA, 2)
	if codeOf(rs[0]) != wire.CodeExpired || !rs[1].OK {
		t.Errorf("replies = %+v, %+v; want expired then ok", rs[0], rs[1])
	}

	// A command that waits in the queue past its Message Expiry is
	// dropped: hold the worker in a Type until the clock has moved.
	ta.inj.gate = make(chan struct{})
	ta.send(subA, `{"id":"slow","op":"text.type","text":"x"}`)
	exp := uint32(2)
	ta.onPublish(&paho.Publish{Topic: wire.CmdTopic(testHost, subA), Payload: []byte(`{"id":"late","op":"key.tap","key":"c"}`),
		Properties: &paho.PublishProperties{MessageExpiry: &exp}})
	noExp := `{"id":"late2","op":"key.tap","key":"d"}`
	ta.send(subA, noExp)
	ta.clk.Advance(3 * time.Second)
	close(ta.inj.gate)
	rs = ta.replies(subA, 5)
	if !rs[2].OK || codeOf(rs[3]) != wire.CodeExpired || !rs[4].OK {
		t.Errorf("replies = %+v; want slow ok, late expired, late2 ok", rs[2:])
	}
	ta.wantCalls("tap b []", `type "x"`, "tap d []")
}

func TestLeaseReleasedAfter3s(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.send(subA, `{"id":"2","op":"mouse.down"}`)
	ta.replies(subA, 2)
	ta.clk.Advance(2 * time.Second)
	// A repeated down refreshes the lease without pressing again.
	ta.send(subA, `{"id":"3","op":"key.down","key":"a"}`)
	ta.replies(subA, 3)
	ta.wantCalls("down a", "bdown 1")
	ta.clk.Advance(1500 * time.Millisecond) // button lease (3 s) ran out, key's not
	ta.wantCalls("down a", "bdown 1", "bup 1")
	ta.clk.Advance(1000 * time.Millisecond)
	ta.sync()
	ta.wantCalls("down a", "bdown 1", "bup 1")
	ta.clk.Advance(600 * time.Millisecond) // 5.1 s: 3 s after the repeat
	ta.wantCalls("down a", "bdown 1", "bup 1", "up a")
}

func TestLeaseRefreshedByRepeatedID(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.replies(subA, 1)
	ta.clk.Advance(2 * time.Second)
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.replies(subA, 2)
	ta.clk.Advance(2 * time.Second)
	ta.sync()
	ta.wantCalls("down a")
	ta.clk.Advance(1100 * time.Millisecond)
	ta.wantCalls("down a", "up a")
}

func TestPresenceReleases(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"1","op":"key.down","key":"shift"}`)
	ta.send(subB, `{"id":"1","op":"key.down","key":"b"}`)
	ta.send(subB, `{"id":"2","op":"key.down","key":"shift"}`)
	ta.replies(subA, 1)
	ta.replies(subB, 2)
	// Alice leaves: shift is still held by Bob.
	ta.onPublish(&paho.Publish{Topic: wire.PresenceTopic(subA), Payload: []byte(`{"online":false}`)})
	ta.sync()
	ta.wantCalls("down shift", "down b")
	ta.onPublish(&paho.Publish{Topic: wire.PresenceTopic(subB), Payload: []byte(`{"online":true}`)})
	ta.sync()
	ta.wantCalls("down shift", "down b")
	ta.onPublish(&paho.Publish{Topic: wire.PresenceTopic(subB), Payload: []byte(`{"online":false}`)})
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		c := ta.inj.Calls()
		if len(c) != 4 || !(c[2] == "up b" && c[3] == "up shift" || c[2] == "up shift" && c[3] == "up b") {
			return fmt.Errorf("calls %v, want down shift, down b, then both up", c)
		}
		return nil
	})
}

func TestReleaseAll(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.send(subB, `{"id":"1","op":"mouse.down","button":"right"}`)
	ta.send(subA, `{"id":"2","op":"release.all"}`)
	rs := ta.replies(subA, 2)
	if !rs[1].OK {
		t.Errorf("release.all = %+v", rs[1])
	}
	c := ta.inj.Calls()
	if len(c) != 4 || !strings.Contains(strings.Join(c[2:], " "), "up a") || !strings.Contains(strings.Join(c[2:], " "), "bup 2") {
		t.Errorf("calls %v, want both released", c)
	}
}

func TestConnectionLossAndCloseRelease(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.replies(subA, 1)
	ta.onConnectionDown()
	ta.wantCalls("down a", "up a")
	ta.send(subA, `{"id":"2","op":"key.down","key":"b"}`)
	ta.replies(subA, 2)
	ta.Close()
	ta.wantCalls("down a", "up a", "down b", "up b")
	ta.Close() // idempotent
}

func TestRateLimit(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.RateLimit, o.RateBurst = 10, 5 })
	for i := range 8 {
		ta.send(subA, fmt.Sprintf(`{"id":"%d","op":"key.tap","key":"a"}`, i))
	}
	ta.send(subB, `{"id":"b","op":"key.tap","key":"b"}`)
	rs := ta.replies(subA, 8)
	for i, r := range rs {
		want := ""
		if i >= 5 {
			want = wire.CodeRateLimited
		}
		if codeOf(r) != want || r.ID != fmt.Sprint(i) {
			t.Errorf("reply %d = %+v, want code %q", i, r, want)
		}
	}
	if rb := ta.replies(subB, 1); !rb[0].OK {
		t.Errorf("another client was limited too: %+v", rb[0])
	}
	ta.clk.Advance(time.Second)
	ta.send(subA, `{"id":"later","op":"key.tap","key":"a"}`)
	if rs := ta.replies(subA, 9); !rs[8].OK {
		t.Errorf("after a second = %+v, want ok", rs[8])
	}
}

func TestInputSwitch(t *testing.T) {
	dir := t.TempDir()
	ta := newTestAgent(t, func(o *Options) { o.StateDir = dir })
	ta.send(subA, `{"id":"1","op":"key.down","key":"a"}`)
	ta.replies(subA, 1)
	ta.onPublish(&paho.Publish{Topic: wire.InputSetTopic(testHost), Payload: []byte("OFF")})
	ta.send(subA, `{"id":"2","op":"key.tap","key":"a"}`)
	rs := ta.replies(subA, 2)
	if codeOf(rs[1]) != wire.CodeInputOff {
		t.Errorf("with input off = %+v, want input_off", rs[1])
	}
	ta.wantCalls("down a", "up a")
	ps := ta.rec.on(wire.InputTopic(testHost))
	if len(ps) != 1 || string(ps[0].Payload) != "OFF" || !ps[0].Retain {
		t.Errorf("input topic got %v, want one retained OFF", ps)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, inputFile)); strings.TrimSpace(string(b)) != "OFF" {
		t.Errorf("state file = %q, want OFF", b)
	}
	// A new agent on the same state dir starts off.
	if on, _ := loadInputState(dir); on {
		t.Errorf("loadInputState after OFF = on")
	}
	ta.onPublish(&paho.Publish{Topic: wire.InputSetTopic(testHost), Payload: []byte("on")})
	ta.send(subA, `{"id":"3","op":"key.tap","key":"a"}`)
	if rs := ta.replies(subA, 3); !rs[2].OK {
		t.Errorf("with input on again = %+v", rs[2])
	}
	// Nonsense is ignored.
	ta.onPublish(&paho.Publish{Topic: wire.InputSetTopic(testHost), Payload: []byte("maybe")})
	ta.sync()
	if ps := ta.rec.on(wire.InputTopic(testHost)); len(ps) != 2 {
		t.Errorf("input topic got %d publishes, want 2", len(ps))
	}
}

func TestNoInput(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) { o.Injector = input.Unavailable() })
	ta.send(subA, `{"id":"1","op":"key.tap","key":"a"}`)
	ta.send(subA, `{"id":"2","op":"key.tap","key":"nosuch"}`)
	rs := ta.replies(subA, 2)
	if codeOf(rs[0]) != wire.CodeNoInput || codeOf(rs[1]) != wire.CodeUnknownKey {
		t.Errorf("replies = %+v; want no_input, unknown_key", rs)
	}
	if s := ta.status(); s.Input != "unavailable" || s.Screen != nil || !s.Online {
		t.Errorf("status = %+v, want online, input unavailable, no screen", s)
	}
}

func TestResponseTopic(t *testing.T) {
	ta := newTestAgent(t, nil)
	send := func(rt string, corr []byte) {
		ta.onPublish(&paho.Publish{Topic: wire.CmdTopic(testHost, subA), Payload: []byte(`{"id":"r","op":"key.tap","key":"a"}`),
			Properties: &paho.PublishProperties{ResponseTopic: rt, CorrelationData: corr}})
	}
	send(wire.ReplyTopic(subA)+"/tab-1", []byte{1, 2, 3})
	send("myapp/replies", []byte("c2"))
	// Topics that would make the agent write into mfd's tree, or another
	// client's replies, fall back to the sender's reply topic.
	send(wire.StatusTopic(testHost), []byte("c3"))
	send(wire.ReplyTopic(subB), []byte("c4"))
	send("homeassistant/button/x/config", []byte("c5"))
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		a := ta.rec.on(wire.ReplyTopic(subA) + "/tab-1")
		b := ta.rec.on("myapp/replies")
		c := ta.rec.on(wire.ReplyTopic(subA))
		if len(a) != 1 || len(b) != 1 || len(c) != 3 {
			return fmt.Errorf("replies: own suffix %d, myapp %d, fallback %d; want 1, 1, 3", len(a), len(b), len(c))
		}
		if string(a[0].Properties.CorrelationData) != "\x01\x02\x03" || string(c[2].Properties.CorrelationData) != "c5" {
			return fmt.Errorf("correlation data not echoed")
		}
		return nil
	})
	if n := len(ta.rec.on(wire.StatusTopic(testHost))) + len(ta.rec.on(wire.ReplyTopic(subB))); n != 0 {
		t.Errorf("the agent published %d replies where the client pointed it", n)
	}
}

func testConfig(t *testing.T, file string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(`
actions:
  - id: mute-mic
    label: Mute mic
    icon: mdi:microphone-off
    steps:
      - {op: key.tap, key: m, mods: [ctrl, shift]}
  - id: sign
    label: Signature
    steps:
      - {op: text.type, text: "Best regards,\nAda"}
      - {sleep: 100ms}
      - {op: key.tap, key: enter}
  - id: touch
    steps:
      - {exec: [/bin/sh, -c, 'echo touched > "$0"', ` + file + `]}
  - id: broken
    steps:
      - {exec: [/nonexistent/program]}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func TestActions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out")
	cfg := testConfig(t, file)
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg })
	ta.send(subA, `{"id":"1","op":"action.run","action":"mute-mic"}`)
	ta.replies(subA, 1)
	ta.wantCalls("tap m [ctrl shift]")

	ta.send(subA, `{"id":"2","op":"action.run","action":"sign"}`)
	ta.wantCalls("tap m [ctrl shift]", `type "Best regards,\nAda"`)
	ta.clk.Advance(100 * time.Millisecond) // the sleep step
	ta.wantCalls("tap m [ctrl shift]", `type "Best regards,\nAda"`, "tap enter []")

	ta.send(subA, `{"id":"3","op":"action.run","action":"touch"}`)
	ta.send(subA, `{"id":"4","op":"action.run","action":"broken"}`)
	ta.send(subA, `{"id":"5","op":"action.run","action":"nope"}`)
	// Actions answer when they end, so replies come in any order.
	rs := byID(ta.replies(subA, 5))
	if !rs["1"].OK || !rs["2"].OK || !rs["3"].OK {
		t.Errorf("replies = %+v, want 1, 2 and 3 ok", rs)
	}
	if r := rs["4"]; codeOf(r) != wire.CodeInternal || !strings.Contains(r.Error.Message, "step 1") ||
		!strings.Contains(r.Error.Message, "no such file or directory") {
		t.Errorf("broken exec = %+v, want internal naming step 1 and why", r)
	}
	if codeOf(rs["5"]) != wire.CodeUnknownAction {
		t.Errorf("unknown action = %+v", rs["5"])
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		b, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(b)) != "touched" {
			return fmt.Errorf("exec step output %q, %v", b, err)
		}
		return nil
	})
	evs := ta.rec.on(wire.EventsTopic(testHost))
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3 (one per successful action)", len(evs))
	}
	var ev wire.Event
	if err := json.Unmarshal(evs[0].Payload, &ev); err != nil || ev != (wire.Event{EventType: "press", Action: "mute-mic", Sub: subA}) {
		t.Errorf("event = %s, want press mute-mic by %s", evs[0].Payload, subA)
	}
}

func TestPress(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "out"))
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg })
	stamped := func(sub string) *paho.PublishProperties {
		return &paho.PublishProperties{User: paho.UserProperties{{Key: wire.SubProperty, Value: sub}}}
	}
	// Home Assistant's button: payload PRESS, sender stamped by the broker.
	// Each press waits for the one before to end: a press of a running
	// action is answered busy (TestActionBusyUnlessOverlap).
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "mute-mic"), Payload: []byte("PRESS"), Properties: stamped("i-homeassistant")})
	ta.replies("i-homeassistant", 1)
	// No payload, no sender known: runs, answered nowhere.
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "mute-mic")})
	ta.wantCalls("tap m [ctrl shift]", "tap m [ctrl shift]")
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n := len(ta.rec.on(wire.EventsTopic(testHost))); n != 2 {
			return fmt.Errorf("%d events, want 2", n)
		}
		return nil
	})
	// JSON with an id, twice: runs once.
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "mute-mic"), Payload: []byte(`{"id":"p1"}`), Properties: stamped(string(subA))})
	ta.replies(subA, 1)
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "mute-mic"), Payload: []byte(`{"id":"p1"}`), Properties: stamped(string(subA))})
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "nope"), Payload: []byte("PRESS"), Properties: stamped(string(subA))})
	ta.onPublish(&paho.Publish{Topic: wire.PressTopic(testHost, "mute-mic"), Payload: []byte("BANG"), Properties: stamped(string(subA))})
	ha := ta.replies("i-homeassistant", 1)
	if !ha[0].OK {
		t.Errorf("HA press = %+v", ha[0])
	}
	rs := ta.replies(subA, 4)
	if !rs[0].OK || rs[0].ID != "p1" || rs[1] != rs[0] || codeOf(rs[2]) != wire.CodeUnknownAction || codeOf(rs[3]) != wire.CodeBadRequest {
		t.Errorf("press replies = %+v; want ok p1 twice, unknown_action, bad_request", rs)
	}
	ta.wantCalls("tap m [ctrl shift]", "tap m [ctrl shift]", "tap m [ctrl shift]")
	evs := ta.rec.on(wire.EventsTopic(testHost))
	if len(evs) != 3 {
		t.Errorf("%d events, want 3", len(evs))
	}
}

func TestTokenPush(t *testing.T) {
	ta := newTestAgent(t, func(o *Options) {
		o.Conn.Credentials = func(context.Context) (string, string, error) { return "a-host", "static", nil }
	})
	u, p, err := ta.credentials(t.Context())
	if u != "a-host" || p != "static" || err != nil {
		t.Fatalf("credentials = %q, %q, %v", u, p, err)
	}
	exp := ta.clk.Now().Add(15 * time.Minute)
	// Another client's token topic is not ours.
	ta.onPublish(&paho.Publish{Topic: wire.TokenTopic("p-other"), Payload: []byte(`{"token":"T0","expires_at":"` + exp.Format(time.RFC3339) + `"}`)})
	ta.onPublish(&paho.Publish{Topic: wire.TokenTopic("a-host"), Payload: []byte(`{"token":"T1","expires_at":"` + exp.Format(time.RFC3339) + `"}`)})
	ta.onPublish(&paho.Publish{Topic: wire.TokenTopic("a-host"), Payload: []byte(`garbage`)})
	if u, p, _ := ta.credentials(t.Context()); u != "a-host" || p != "T1" {
		t.Errorf("after a push, credentials = %q, %q; want a-host, T1", u, p)
	}
	ta.clk.Advance(15 * time.Minute)
	if _, p, _ := ta.credentials(t.Context()); p != "static" {
		t.Errorf("after the pushed token expired, password = %q, want static", p)
	}
}

func TestJWTExpiry(t *testing.T) {
	// header.{"exp":1700000000}.sig
	tok := "eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln"
	if got := jwtExpiry(tok); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("jwtExpiry(%q) = %v, want 1700000000", tok, got)
	}
	for _, s := range []string{"", "password", "a.b.c", "a.eyJleHAiOiJ4In0.c"} {
		if got := jwtExpiry(s); !got.IsZero() {
			t.Errorf("jwtExpiry(%q) = %v, want zero", s, got)
		}
	}
}

func TestReconnectBackoff(t *testing.T) {
	if d := reconnectBackoff(0); d != 0 {
		t.Errorf("reconnectBackoff(0) = %v, want 0", d)
	}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond, 8: 10 * time.Second, 50: 10 * time.Second} {
		d := reconnectBackoff(attempt)
		if d > want || d < want*3/4 {
			t.Errorf("reconnectBackoff(%d) = %v, want within 25%% below %v", attempt, d, want)
		}
	}
}

func TestSetInput(t *testing.T) {
	ta := newTestAgent(t, nil)
	ta.SetInput(false)
	ta.send(subA, `{"id":"1","op":"key.tap","key":"a"}`)
	if rs := ta.replies(subA, 1); codeOf(rs[0]) != wire.CodeInputOff || ta.InputOn() {
		t.Errorf("after SetInput(false): %+v, InputOn %v", rs[0], ta.InputOn())
	}
	ta.SetInput(true)
	ta.send(subA, `{"id":"2","op":"key.tap","key":"a"}`)
	if rs := ta.replies(subA, 2); !rs[1].OK || !ta.InputOn() {
		t.Errorf("after SetInput(true): %+v", rs[1])
	}
}

// TestBackendRefusalsAreReadable: what a backend cannot do, or what the
// system refused, comes back as its own code with the backend's words,
// never as a success or a bare "internal".
func TestBackendRefusalsAreReadable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code string
		msg  string
	}{
		{fmt.Errorf("typing %q: the active layout has no such key: %w", "é", input.ErrUnsupported), wire.CodeUnsupported, "active layout has no such key"},
		{fmt.Errorf("an elevated window is in front: %w", input.ErrRefused), wire.CodeRefused, "elevated window"},
	} {
		inj := &fakeInjector{err: tt.err}
		ta := newTestAgent(t, func(o *Options) { o.Injector = inj })
		ta.send(subA, `{"id":"1","op":"text.type","text":"é"}`)
		rs := ta.replies(subA, 1)
		if codeOf(rs[0]) != tt.code || !strings.Contains(rs[0].Error.Message, tt.msg) {
			t.Errorf("reply to a backend failing with %q = %+v, want %s with the reason", tt.err, rs[0], tt.code)
		}
	}
}
