package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/ids"
)

// The golden table: every topic and payload shape of the contract, checked
// here against the code and, below, against the examples in topics.md.
var goldenTopics = []struct {
	name, got, want string
}{
	{"status", StatusTopic(testHost), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/status"},
	{"actions", ActionsTopic(testHost), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/actions"},
	{"input", InputTopic(testHost), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/input"},
	{"input/set", InputSetTopic(testHost), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/input/set"},
	{"events", EventsTopic(testHost), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/events"},
	{"cmd", CmdTopic(testHost, "p-abc"), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/cmd/p-abc"},
	{"press", PressTopic(testHost, "mute-mic"), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/press/mute-mic"},
	{"state", StateTopic(testHost, "mute-mic"), "mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/state/mute-mic"},
	{"reply", ReplyTopic("p-abc"), "mfd/v1/clients/p-abc/reply"},
	{"token", TokenTopic("p-abc"), "mfd/v1/clients/p-abc/token"},
	{"presence", PresenceTopic("p-abc"), "mfd/v1/clients/p-abc/presence"},
}

// goldenDiscovery are the Home Assistant discovery topics, each with how
// topics.md's table writes it.
var goldenDiscovery = []struct {
	name, got, want, doc string
}{
	{"button", DiscoveryTopic(HAPrefix, HAButton, testHost, "mute-mic"),
		"homeassistant/button/mfd-5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/mute-mic/config",
		"homeassistant/button/mfd-{host}/{action}/config"},
	{"binary_sensor", DiscoveryTopic(HAPrefix, HABinarySensor, testHost, "mute-mic"),
		"homeassistant/binary_sensor/mfd-5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/mute-mic/config",
		"homeassistant/binary_sensor/mfd-{host}/{action}/config"},
	{"switch", DiscoveryTopic(HAPrefix, HASwitch, testHost, HASwitchObject),
		"homeassistant/switch/mfd-5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/input/config",
		"homeassistant/switch/mfd-{host}/input/config"},
	{"event", DiscoveryTopic(HAPrefix, HAEvent, testHost, HAEventObject),
		"homeassistant/event/mfd-5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/press/config",
		"homeassistant/event/mfd-{host}/press/config"},
}

// goldenSwitch is the remote input switch's discovery document for the
// example host of topics.md, whose example must be exactly this.
func goldenSwitch() HAEntity {
	e := HAInputSwitch(testHost)
	e.Device = HADevice{Identifiers: []string{testHost.String()}, Name: "desk", Manufacturer: "mfd", Model: "mfd agent (x11)", SWVersion: "1.2.3"}
	e.Availability = []HAAvailability{{Topic: StatusTopic(testHost), ValueTemplate: HAAvailabilityTemplate}}
	return e
}

var testHost = func() ids.HostID {
	h, err := ids.ParseHostID("5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c")
	if err != nil {
		panic(err)
	}
	return h
}()

func TestGoldenTopics(t *testing.T) {
	for _, g := range goldenTopics {
		if g.got != g.want {
			t.Errorf("%s topic = %q, want %q", g.name, g.got, g.want)
		}
		tp, ok := ParseTopic(g.got)
		if !ok {
			t.Errorf("ParseTopic(%q) failed", g.got)
			continue
		}
		if tp.Kind == TopicHost && tp.Host != testHost {
			t.Errorf("ParseTopic(%q).Host = %v, want %v", g.got, tp.Host, testHost)
		}
	}
}

func TestGoldenDiscoveryTopicsAreInTopicsMd(t *testing.T) {
	b, err := os.ReadFile("../../topics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenDiscovery {
		if g.got != g.want {
			t.Errorf("%s discovery topic = %q, want %q", g.name, g.got, g.want)
		}
		if !bytes.Contains(b, []byte("`"+g.doc+"`")) {
			t.Errorf("topics.md does not document the %s discovery topic as `%s`", g.name, g.doc)
		}
		if _, ok := ParseTopic(g.got); ok {
			t.Errorf("ParseTopic(%q) parsed a discovery topic; it parses mfd/v1 only", g.got)
		}
	}
}

func TestTopicsMdDiscoveryExampleIsTheSwitch(t *testing.T) {
	var found bool
	for _, blk := range jsonBlocks(t) {
		if !strings.Contains(blk, `"unique_id"`) {
			continue
		}
		found = true
		var got HAEntity
		if err := strictDecode(blk, &got); err != nil {
			t.Fatalf("topics.md discovery example: %v\n%s", err, blk)
		}
		want, _ := json.Marshal(goldenSwitch())
		have, _ := json.Marshal(got)
		if !bytes.Equal(have, want) {
			t.Errorf("topics.md discovery example = %s\nthe agent's document is %s", have, want)
		}
	}
	if !found {
		t.Error("topics.md has no discovery document example")
	}
}

func TestParseTopicTypedFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Topic
	}{
		{CmdTopic(testHost, "p-abc"), Topic{Kind: TopicHost, Host: testHost, Sub: "p-abc", Leaf: "cmd", Arg: "p-abc"}},
		{PressTopic(testHost, "mute-mic"), Topic{Kind: TopicHost, Host: testHost, Leaf: "press", Arg: "mute-mic"}},
		{InputSetTopic(testHost), Topic{Kind: TopicHost, Host: testHost, Leaf: "input/set"}},
		{PresenceTopic("p-abc"), Topic{Kind: TopicClient, Sub: "p-abc", Leaf: "presence"}},
		{ReplyTopic("p-abc") + "/x/y", Topic{Kind: TopicClient, Sub: "p-abc", Leaf: "reply", Rest: "x/y"}},
	} {
		got, ok := ParseTopic(tc.name)
		if !ok || got != tc.want {
			t.Errorf("ParseTopic(%q) = %+v, %v, want %+v", tc.name, got, ok, tc.want)
		}
	}
}

func TestParseTopicRefuses(t *testing.T) {
	for _, name := range []string{
		"mfd/v1/hosts/not-a-uuid/status",
		"mfd/v1/hosts/5E0C7B2A-3D4F-4E6A-8B9C-0D1E2F3A4B5C/status",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/cmd",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/cmd/a/b",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/cmd/+",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/press/a b",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/other",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/state/+",
		"mfd/v1/hosts/5e0c7b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/state/a/b",
		"mfd/v1/clients/p-abc/other",
		"mfd/v1/clients/p-abc/token/x",
		"mfd/v1/clients/p+abc/reply",
		"mfd/v2/clients/p-abc/reply",
		"mfd/v1/clients/p-abc/reply/",
		"#",
	} {
		if tp, ok := ParseTopic(name); ok {
			t.Errorf("ParseTopic(%q) = %+v, want refused", name, tp)
		}
	}
}

// jsonBlocks returns the ```json blocks of topics.md.
func jsonBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../topics.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```json\n(.*?)```")
	var out []string
	for _, m := range re.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// strictDecode decodes s into v, refusing fields v does not know, so that
// the reference cannot document a field the code does not have.
func strictDecode(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func TestTopicsMdExamplesMatchTypes(t *testing.T) {
	blocks := jsonBlocks(t)
	if len(blocks) < 8 {
		t.Fatalf("topics.md has %d JSON examples, want at least 8", len(blocks))
	}
	for _, blk := range blocks {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal([]byte(blk), &probe); err != nil {
			t.Errorf("topics.md example is not JSON: %v\n%s", err, blk)
			continue
		}
		var target any
		switch {
		case probe["unique_id"] != nil:
			target = &HAEntity{}
		case probe["server_id"] != nil && probe["mqtt_path"] != nil:
			target = &Info{}
		case probe["client_id"] != nil:
			target = &AuthoriseRequest{}
		case probe["host"] != nil:
			target = &Status{}
		case probe["actions"] != nil:
			target = &Actions{}
		case probe["event_type"] != nil:
			target = &Event{}
		case probe["token"] != nil:
			target = &TokenMsg{}
		case probe["ok"] != nil:
			target = &Reply{}
		case probe["online"] != nil:
			target = &Presence{}
		case probe["error"] != nil:
			target = &ErrorBody{}
		default:
			t.Errorf("topics.md example matches no wire type:\n%s", blk)
			continue
		}
		// Examples abbreviate long values with "..."; the shape is what
		// counts, so only decoding errors other than those matter.
		if err := strictDecode(blk, target); err != nil && !bytes.Contains([]byte(err.Error()), []byte("invalid UUID")) {
			t.Errorf("topics.md example does not decode into %T: %v\n%s", target, err, blk)
		}
	}
}

func TestTopicsMdCommandExamplesDecode(t *testing.T) {
	b, err := os.ReadFile("../../topics.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("`(\\{\"id\":\"[^`]*\\})`")
	ops := map[string]bool{}
	for _, m := range re.FindAllSubmatch(b, -1) {
		var c Command
		if err := strictDecode(string(m[1]), &c); err != nil {
			t.Errorf("command example %s: %v", m[1], err)
		}
		ops[c.Op] = true
	}
	for _, op := range []string{OpKeyTap, OpKeyDown, OpTextType, OpMouseMove, OpMouseClick, OpMouseDown, OpMouseScroll, OpActionRun, OpReleaseAll} {
		if !ops[op] {
			t.Errorf("topics.md has no example of op %q", op)
		}
	}
}
