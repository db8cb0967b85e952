package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/wire"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
allowed_origins: ["https://example.org"]
homeassistant: {prefix: ha}
actions:
  - id: mute-mic
    label: Mute mic
    steps:
      - {op: key.tap, key: m, mods: [ctrl, shift]}
  - id: terminal
    label: Terminal
    steps:
      - {exec: [x-terminal-emulator, --title, "a b"]}
  - id: sign
    steps:
      - {op: text.type, text: "Best regards,\nAda"}
      - {sleep: 100ms}
      - {op: key.tap, key: 1}
      - {op: mouse.click, button: right, count: 2}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if len(cfg.Actions) != 3 || cfg.HomeAssistant.Prefix != "ha" || !slices.Equal(cfg.AllowedOrigins, []string{"https://example.org"}) {
		t.Fatalf("config = %+v", cfg)
	}
	if a := cfg.Actions[1]; !slices.Equal(a.Steps[0].Exec, []string{"x-terminal-emulator", "--title", "a b"}) {
		t.Errorf("exec step = %v", a.Steps[0].Exec)
	}
	s := cfg.Actions[2]
	if s.Label != "sign" || s.Steps[0].cmd.Text != "Best regards,\nAda" || s.Steps[1].Sleep != 100*time.Millisecond ||
		s.Steps[2].cmd.Key != "1" || s.Steps[3].cmd.Button != input.ButtonRight || s.Steps[3].cmd.Count != 2 {
		t.Errorf("sign = %+v", s)
	}
	if c, err := ParseConfig(nil); err != nil || len(c.Actions) != 0 {
		t.Errorf("ParseConfig(empty) = %+v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"actions: [{id: a, steps: [{op: key.fly}]}]", `action "a" (line 1): step 1 (line 1): unknown op "key.fly"`},
		{"actions: [{id: a, steps: [{op: key.tap, key: nosuch}]}]", `unknown key "nosuch"`},
		{"actions: [{id: a, steps: [{op: key.tap, key: a, mods: [hyper]}]}]", `unknown modifier`},
		{"actions: [{id: a, steps: [{op: key.tap, key: a, colour: red}]}]", `unknown field "colour"`},
		{"actions: [{id: a, steps: [{op: text.type, text: \"\\u0007\"}]}]", `control character`},
		{"actions: [{id: a, steps: [{op: action.run, action: a}]}]", `cannot run or cancel an action`},
		{"actions: [{id: 'bad id', steps: [{sleep: 1s}]}]", `id "bad id" must be`},
		{"actions: [{label: x, steps: [{sleep: 1s}]}]", `action 1 (line 1): missing id`},
		{"actions: [{id: a, steps: []}]", `steps must be a non-empty list`},
		{"actions: [{id: a, steps: [{sleep: soon}]}]", `not a duration`},
		{"actions: [{id: a, steps: [{sleep: 2h}]}]", `outside`},
		{"actions: [{id: a, steps: [{exec: []}]}]", `exec must be a non-empty list`},
		{"actions: [{id: a, steps: [{exec: sh}]}]", `exec must be a non-empty list`},
		{"actions: [{id: a, steps: [{exec: [sh], sleep: 1s}]}]", `no other fields`},
		{"actions: [{id: a, steps: [{nothing: 1}]}]", `needs op, sleep or exec`},
		{"actions: [{id: a, steps: [{exec: [sh], wait: maybe}]}]", `wait must be true or false`},
		{"actions: [{id: a, steps: [{exec: [sh], colour: red}]}]", `line 1: unknown field "colour"`},
		{"actions:\n  - id: a\n    steps:\n      - {exec: [sh], wiat: true}", `step 1 (line 4): line 4: unknown field "wiat" (did you mean "wait"?)`},
		{"actions:\n  - id: a\n    overlapp: true\n    steps: [{sleep: 1s}]", `line 3: unknown field "overlapp" (did you mean "overlap"?)`},
		{"actions:\n  - id: a\n    overlap: often\n    steps: [{sleep: 1s}]", `line 3: overlap must be true or false`},
		{"actions: [{id: a, overlap: often, steps: [{sleep: 1s}]}]", `overlap must be true or false`},
		{"actions: [{id: a, steps: [{op: action.cancel, action: b}]}]", `cannot run or cancel an action`},
		{"actions: [{id: a, colour: red, steps: [{sleep: 1s}]}]", `unknown field "colour"`},
		{"actions:\n  - {id: a, steps: [{sleep: 1s}]}\n  - {id: a, steps: [{sleep: 1s}]}", `action "a" (line 3): the id is used twice`},
		{"actions: {a: 1}", `actions must be a list`},
		{"- 1", `must be a mapping`},
		{"actions: [", `parsing YAML`},
		{"homeassistant: {prefix: 'a/#'}", `not a topic prefix`},
		// Unknown fields anywhere are errors with the line and the field
		// meant: a typo must not be silently ignored.
		{"allowed_origins: []\naction:\n  - {id: a, steps: [{sleep: 1s}]}", `line 2: unknown field "action" (did you mean "actions"?)`},
		{"homeassistant: {prefx: ha}", `homeassistant: line 1: unknown field "prefx" (did you mean "prefix"?)`},
		{"actions:\n  - id: a\n    lable: A\n    steps: [{sleep: 1s}]", `action "a" (line 2): line 3: unknown field "lable" (did you mean "label"?)`},
		{"actions: [{id: a, steps: [{op: key.tap, kye: a}]}]", `unknown field "kye" (did you mean "key"?)`},
		{"zzzz: 1", `line 1: unknown field "zzzz"`},
		{"actions: [{id: a, icon: 'mdi:Bad Name', steps: [{sleep: 1s}]}]", `icon "mdi:Bad Name" is not mdi:NAME`},
		{"actions: [{id: a, color: red, steps: [{sleep: 1s}]}]", `color "red" is not #rgb or #rrggbb`},
		{"actions: [{id: a, steps: [{sleep: 1s}], state: {exec: []}}]", `exec must be a non-empty list`},
		{"actions: [{id: a, steps: [{sleep: 1s}], state: {every: 2s}}]", `missing exec`},
		{"actions: [{id: a, steps: [{sleep: 1s}], state: {exec: [true], every: 1ms}}]", `every: 1ms is outside`},
		{"actions: [{id: a, steps: [{sleep: 1s}], state: {exec: [true], evry: 2s}}]", `unknown field "evry" (did you mean "every"?)`},
		{"actions:\n  - {id: mute-mic, steps: [{sleep: 1s}]}\npages:\n  - name: Main\n    buttons: [mute-mik]", `page 1 (line 4): line 5: no action has the id "mute-mik" (did you mean "mute-mic"?)`},
		{"pages: [{buttons: []}]", `page 1 (line 1): missing name`},
		{"pages: [{name: A, button: []}]", `unknown field "button" (did you mean "buttons"?)`},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseConfig(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestParseConfigDeck(t *testing.T) {
	// Pages may come before the actions they name.
	cfg, err := ParseConfig([]byte(`
pages:
  - name: Main
    buttons: [mute-mic, sign]
  - name: Media
    buttons: [sign]
actions:
  - id: mute-mic
    label: Mute mic
    icon: mdi:microphone-off
    color: "#c62828"
    steps: [{op: key.tap, key: m, mods: [ctrl, shift]}]
    state:
      exec: [sh, -c, "pactl get-source-mute @DEFAULT_SOURCE@ | grep -q yes"]
      every: 2s
  - id: sign
    icon: "✍"
    steps: [{op: text.type, text: hi}]
    state: {exec: ["true"]}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	m := cfg.Actions[0]
	if m.Icon != "mdi:microphone-off" || m.Color != "#c62828" || m.State == nil ||
		!slices.Equal(m.State.Exec, []string{"sh", "-c", "pactl get-source-mute @DEFAULT_SOURCE@ | grep -q yes"}) || m.State.Every != 2*time.Second {
		t.Errorf("mute-mic = %+v, state %+v", m, m.State)
	}
	if s := cfg.Actions[1]; s.State == nil || s.State.Every != defaultProbeEvery {
		t.Errorf("sign's probe = %+v, want every %v by default", s.State, defaultProbeEvery)
	}
	w := cfg.wireActions()
	b, _ := json.Marshal(w)
	want := `{"actions":[{"id":"mute-mic","label":"Mute mic","icon":"mdi:microphone-off","color":"#c62828","toggle":true},` +
		`{"id":"sign","label":"sign","icon":"✍","toggle":true}],` +
		`"pages":[{"name":"Main","buttons":["mute-mic","sign"]},{"name":"Media","buttons":["sign"]}]}`
	if string(b) != want {
		t.Errorf("wireActions = %s\nwant %s", b, want)
	}
}

// TestOldConfigsStillParse keeps every config written before pages,
// icons and state valid: the examples of README.md and topics.md and the
// test configs.
func TestOldConfigsStillParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range []string{"../README.md", "../topics.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, blk := range yamlBlocks(string(b)) {
			if _, err := ParseConfig([]byte(blk)); err != nil {
				t.Errorf("%s yaml block %d: %v\n%s", f, i+1, err, blk)
			}
		}
	}
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	// A config of before: an icon that is not mdi:, no color, no state.
	if _, err := ParseConfig([]byte("actions:\n  - id: t\n    label: T\n    icon: terminal\n    steps:\n      - {exec: [x-terminal-emulator]}\n")); err != nil {
		t.Errorf("old-style icon: %v", err)
	}
}

// yamlBlocks returns the ```yaml blocks of a Markdown text that look like a
// host config.
func yamlBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```yaml\n")[1:] {
		blk, _, _ := strings.Cut(part, "```")
		if strings.Contains(blk, "actions:") {
			out = append(out, blk)
		}
	}
	return out
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"action", "actions"}, {"Actions", "actions"}, {"allowed_origin", "allowed_origins"},
		{"homeasistant", "homeassistant"}, {"page", "pages"}, {"zzzz", ""}, {"acitons", "actions"},
	} {
		if got := suggest(tt.in, topFields); got != tt.want {
			t.Errorf("suggest(%q, topFields) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := suggest("colour", actionFields); got != "color" {
		t.Errorf("suggest(colour) = %q, want color", got)
	}
}

func TestLoadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mfd.yaml")
	if err := os.WriteFile(p, []byte("actions: [{id: a, steps: [{op: nope}]}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `action "a"`) {
		t.Errorf("LoadConfig(bad) = %v, want an error naming the file and the action", err)
	}
	if _, err := LoadConfig(p + ".missing"); err == nil {
		t.Errorf("LoadConfig(missing) = nil error")
	}
}

func TestLoadHostID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	a, err := LoadHostID(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadHostID(dir)
	if err != nil || a != b {
		t.Errorf("LoadHostID twice = %v, %v (%v); want the same ID", a, b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, hostIDFile), []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHostID(dir); err == nil {
		t.Errorf("LoadHostID(corrupt) = nil error")
	}
}

func TestDiscovery(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{Actions: []Action{
		{ID: "mute-mic", Label: "Mute mic", Icon: "mdi:microphone-off"},
		{ID: "old", Label: "Old"},
	}}
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg; o.StateDir = dir; o.Version = "1.2.3" })
	ta.publishDiscovery(t.Context(), ta.rec)
	node := "mfd-" + testHost.String()
	btn := ta.rec.on("homeassistant/button/" + node + "/mute-mic/config")
	if len(btn) != 1 || !btn[0].Retain {
		t.Fatalf("button discovery = %v", btn)
	}
	var doc map[string]any
	if err := json.Unmarshal(btn[0].Payload, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "Mute mic", "unique_id": node + "-action-mute-mic", "command_topic": wire.PressTopic(testHost, "mute-mic"),
		"payload_press": "PRESS", "icon": "mdi:microphone-off",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("button %s = %v, want %v", k, doc[k], v)
		}
	}
	dev := doc["device"].(map[string]any)
	if ids := dev["identifiers"].([]any); len(ids) != 1 || ids[0] != testHost.String() {
		t.Errorf("device identifiers = %v, want [host id]", ids)
	}
	av := doc["availability"].([]any)[0].(map[string]any)
	if av["topic"] != wire.StatusTopic(testHost) || av["value_template"] != wire.HAAvailabilityTemplate {
		t.Errorf("availability = %v", av)
	}
	sw := ta.rec.on("homeassistant/switch/" + node + "/input/config")
	if len(sw) != 1 || !strings.Contains(string(sw[0].Payload), `"command_topic":"`+wire.InputSetTopic(testHost)+`"`) ||
		!strings.Contains(string(sw[0].Payload), `"state_topic":"`+wire.InputTopic(testHost)+`"`) ||
		!strings.Contains(string(sw[0].Payload), `"payload_on":"ON","payload_off":"OFF"`) {
		t.Errorf("switch discovery = %v", sw)
	}
	ev := ta.rec.on("homeassistant/event/" + node + "/press/config")
	if len(ev) != 1 || !strings.Contains(string(ev[0].Payload), `"event_types":["press"]`) ||
		!strings.Contains(string(ev[0].Payload), `"state_topic":"`+wire.EventsTopic(testHost)+`"`) {
		t.Errorf("event discovery = %v", ev)
	}

	// "old" leaves the config: the next agent removes its button.
	cfg2 := &Config{Actions: cfg.Actions[:1]}
	rec2 := &recorder{}
	b, err := New(Options{Host: testHost, Injector: &fakeInjector{}, Config: cfg2, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b.publishDiscovery(t.Context(), rec2)
	gone := rec2.on("homeassistant/button/" + node + "/old/config")
	if len(gone) != 1 || len(gone[0].Payload) != 0 || !gone[0].Retain {
		t.Errorf("removal of old = %v, want one empty retained publish", gone)
	}
	b.Close()

	// Home Assistant's birth message brings discovery again (through the
	// connection, which these tests do not have: only check it is not
	// mistaken for a command).
	ta.onPublish(&paho.Publish{Topic: "homeassistant/status", Payload: []byte("online")})
}

// TestParseConfigEveryField: one action with 11b's fields (overlap, an
// exec step's wait) and the deck's (icon, color, state, on a page).
func TestParseConfigEveryField(t *testing.T) {
	c, err := ParseConfig([]byte(`
pages: [{name: Main, buttons: [backup]}]
actions:
  - id: backup
    label: Back up
    icon: mdi:backup-restore
    color: "#1565c0"
    overlap: true
    steps:
      - {exec: [/usr/local/bin/backup-notes], wait: true}
    state: {exec: [test, -e, /tmp/backed-up], every: 10s}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	a := c.Actions[0]
	if !a.Overlap || !a.Steps[0].Wait || a.Icon != "mdi:backup-restore" || a.Color != "#1565c0" ||
		a.State == nil || a.State.Every != 10*time.Second || len(c.Pages) != 1 {
		t.Errorf("ParseConfig = %+v (state %+v, pages %+v), want every field kept", a, a.State, c.Pages)
	}
	w := c.wireActions()
	if len(w.Actions) != 1 || !w.Actions[0].Toggle || w.Actions[0].Color != "#1565c0" || len(w.Pages) != 1 {
		t.Errorf("wireActions = %+v", w)
	}
}

// TestParseConfigWaitAndOverlap parses the backup example of topics.md.
func TestParseConfigWaitAndOverlap(t *testing.T) {
	c, err := ParseConfig([]byte(`
actions:
  - id: backup
    label: Back up
    overlap: false
    steps:
      - {exec: [/usr/local/bin/backup-notes], wait: true}
      - {op: text.type, text: "backed up\n"}
  - id: repeat
    overlap: true
    steps:
      - {exec: [true]}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	b, r := c.Actions[0], c.Actions[1]
	if b.Overlap || !b.Steps[0].Wait || b.Steps[0].Exec[0] != "/usr/local/bin/backup-notes" || !r.Overlap || r.Steps[0].Wait {
		t.Errorf("backup = %+v, repeat = %+v: want backup's exec waited, repeat overlapping", b, r)
	}
}
