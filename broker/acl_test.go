package broker

import (
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

var (
	h1, _ = ids.ParseHostID("11111111-1111-4111-8111-111111111111")
	h2, _ = ids.ParseHostID("22222222-2222-4222-8222-222222222222")

	panelA = authn.Identity{Sub: "p-alice", Role: wire.RolePanel}
	panelB = authn.Identity{Sub: "p-bob", Role: wire.RolePanel}
	agent1 = authn.Identity{Sub: "a-one", Role: wire.RoleAgent, Host: h1}
	integ  = authn.Identity{Sub: "i-ha", Role: wire.RoleIntegration}
)

// who names an identity in failure messages.
func who(id authn.Identity) string { return string(id.Role) + ":" + string(id.Sub) }

func TestCanRead(t *testing.T) {
	H1, H2 := h1.String(), h2.String()
	tests := []struct {
		id     authn.Identity
		filter string
		want   bool
	}{
		// Everyone approved reads host state.
		{panelA, wire.StatusTopic(h1), true},
		{panelA, wire.ActionsTopic(h2), true},
		{panelA, wire.InputTopic(h1), true},
		{panelA, wire.EventsTopic(h1), true},
		{panelA, "mfd/v1/hosts/+/status", true},
		{panelA, "mfd/v1/hosts/+/actions", true},
		// Toggle states: panels and integrations read them.
		{panelA, wire.StateTopic(h1, "mute"), true},
		{panelA, "mfd/v1/hosts/+/state/+", true},
		{integ, "mfd/v1/hosts/+/state/+", true},
		{panelA, "mfd/v1/hosts/+/state/#", false},
		{panelA, "mfd/v1/hosts/+/events", true},
		{agent1, "mfd/v1/hosts/+/status", true},
		{integ, "mfd/v1/hosts/+/status", true},
		{integ, "mfd/v1/hosts/+/input", true},
		// Within the own reply tree, at most MaxTopicLevels levels and
		// MaxTopicLen bytes.
		{panelA, wire.ReplyTopic("p-alice") + "/a/b", true},
		{panelA, wire.ReplyTopic("p-alice") + "/a/#", true},
		{panelA, wire.ReplyTopic("p-alice") + "/a/b/c", false},
		{panelA, wire.ReplyTopic("p-alice") + "/" + strings.Repeat("x", 220), true},
		{panelA, wire.ReplyTopic("p-alice") + "/" + strings.Repeat("x", 240), false},
		{integ, "homeassistant/a/b/c/d/e/f", true},
		{integ, "homeassistant/a/b/c/d/e/f/g", false},
		// Broad filters never.
		{panelA, "#", false},
		{panelA, "+", false},
		{panelA, "+/#", false},
		{panelA, "mfd/#", false},
		{panelA, "mfd/v1/#", false},
		{panelA, "mfd/v1/+/+/status", false},
		{panelA, "mfd/v1/hosts/#", false},
		{panelA, "mfd/v1/hosts/+/+", false},
		{panelA, "mfd/v1/hosts/+/#", false},
		{panelA, "mfd/v1/hosts/" + H1 + "/#", false},
		{panelA, "mfd/v1/hosts/" + H1 + "/+", false},
		{agent1, "#", false},
		{agent1, "mfd/v1/hosts/" + H1 + "/#", false},
		{agent1, "mfd/v1/clients/#", false},
		{integ, "#", false},
		// $SYS and shared subscriptions for nobody.
		{panelA, "$SYS/#", false},
		{panelA, "$SYS/broker/version", false},
		{agent1, "$SYS/#", false},
		{integ, "$SYS/broker/clients/connected", false},
		{panelA, "$share/g/mfd/v1/hosts/+/status", false},
		{integ, "$share/g/homeassistant/#", false},
		// Own client topics only.
		{panelA, wire.ReplyTopic("p-alice"), true},
		{panelA, wire.ReplyTopic("p-alice") + "/x/y", true},
		{panelA, wire.ReplyTopic("p-alice") + "/#", true},
		{panelA, wire.TokenTopic("p-alice"), true},
		{panelA, wire.ReplyTopic("p-bob"), false},
		{panelA, wire.ReplyTopic("p-bob") + "/#", false},
		{panelA, wire.TokenTopic("p-bob"), false},
		{panelA, "mfd/v1/clients/+/token", false},
		{panelA, "mfd/v1/clients/+/reply", false},
		{panelA, "mfd/v1/clients/p-alice/#", false},
		{panelA, "mfd/v1/clients/p-alice/+", false},
		{panelA, wire.PresenceTopic("p-alice"), false},
		{panelA, "mfd/v1/clients/+/presence", false},
		{agent1, wire.TokenTopic("a-one"), true},
		{agent1, wire.TokenTopic("p-alice"), false},
		{integ, wire.TokenTopic("p-alice"), false},
		// Commands: only that host's agent.
		{panelA, wire.CmdTopic(h1, "p-alice"), false},
		{panelA, "mfd/v1/hosts/+/cmd/+", false},
		{panelA, "mfd/v1/hosts/" + H1 + "/cmd/#", false},
		{agent1, wire.CmdTopic(h1, "p-alice"), true},
		{agent1, "mfd/v1/hosts/" + H1 + "/cmd/+", true},
		{agent1, "mfd/v1/hosts/" + H1 + "/cmd/#", false},
		{agent1, "mfd/v1/hosts/" + H2 + "/cmd/+", false},
		{agent1, "mfd/v1/hosts/+/cmd/+", false},
		{agent1, wire.PressTopic(h1, "mute"), true},
		{agent1, "mfd/v1/hosts/" + H1 + "/press/+", true},
		{agent1, "mfd/v1/hosts/" + H2 + "/press/+", false},
		{agent1, wire.InputSetTopic(h1), true},
		{agent1, wire.InputSetTopic(h2), false},
		{integ, wire.CmdTopic(h1, "p-alice"), false},
		{integ, "mfd/v1/hosts/+/press/+", false},
		{integ, wire.InputSetTopic(h1), false},
		{panelA, wire.PressTopic(h1, "mute"), false},
		// Presence: agents.
		{agent1, "mfd/v1/clients/+/presence", true},
		{agent1, wire.PresenceTopic("p-alice"), true},
		{integ, "mfd/v1/clients/+/presence", false},
		// Home Assistant.
		{integ, "homeassistant/#", true},
		{integ, "homeassistant/status", true},
		{integ, "homeassistant/sensor/x/config", true},
		{agent1, "homeassistant/status", true},
		{agent1, "homeassistant/#", false},
		{panelA, "homeassistant/#", false},
		{panelA, "homeassistant/status", false},
		// Malformed filters.
		{panelA, "", false},
		{panelA, "mfd/v1/hosts/+/status#", false},
		{panelA, "mfd/v1/hosts/#/status", false},
		{panelA, "mfd/v1/hosts/a+/status", false},
	}
	for _, tt := range tests {
		if got := grantFor(tt.id).canRead(tt.filter); got != tt.want {
			t.Errorf("canRead(%s, %q) = %v, want %v", who(tt.id), tt.filter, got, tt.want)
		}
	}
}

func TestCanWrite(t *testing.T) {
	tests := []struct {
		id     authn.Identity
		topic  string
		retain bool
		want   bool
	}{
		// Panels: own cmd on any host, press.
		{panelA, wire.CmdTopic(h1, "p-alice"), false, true},
		{panelA, wire.CmdTopic(h2, "p-alice"), false, true},
		{panelA, wire.CmdTopic(h1, "p-alice"), true, false},
		{panelA, wire.CmdTopic(h1, "p-bob"), false, false},
		{panelB, wire.CmdTopic(h1, "p-alice"), false, false},
		{panelA, wire.PressTopic(h1, "mute-mic"), false, true},
		{panelA, wire.PressTopic(h1, "bad action!"), false, false},
		{panelA, wire.InputSetTopic(h1), false, false},
		{panelA, wire.StatusTopic(h1), false, false},
		{panelA, wire.StatusTopic(h1), true, false},
		{panelA, wire.ReplyTopic("p-bob"), false, false},
		{panelA, wire.ReplyTopic("p-alice"), false, false},
		{panelA, wire.TokenTopic("p-alice"), false, false},
		{panelA, wire.PresenceTopic("p-bob"), false, false},
		{panelA, "mfd/v1/hosts/not-a-uuid/cmd/p-alice", false, false},
		{panelA, "homeassistant/status", false, false},
		{panelA, "$SYS/broker/version", false, false},
		// Toggle states: only the host's own agent writes them, retained.
		{agent1, wire.StateTopic(h1, "mute"), true, true},
		{agent1, wire.StateTopic(h2, "mute"), true, false},
		{agent1, "mfd/v1/hosts/" + h1.String() + "/state/a/b", true, false},
		{panelA, wire.StateTopic(h1, "mute"), true, false},
		{panelA, wire.StateTopic(h1, "mute"), false, false},
		{integ, wire.StateTopic(h1, "mute"), false, false},
		{panelA, "other/topic", false, false},
		// Agents: own host state, replies, HA discovery about itself.
		{agent1, wire.StatusTopic(h1), true, true},
		{agent1, wire.ActionsTopic(h1), true, true},
		{agent1, wire.InputTopic(h1), true, true},
		{agent1, wire.EventsTopic(h1), false, true},
		{agent1, wire.EventsTopic(h1), true, false},
		{agent1, wire.StatusTopic(h2), false, false},
		{agent1, wire.StatusTopic(h2), true, false},
		{agent1, wire.ActionsTopic(h2), true, false},
		{agent1, wire.CmdTopic(h1, "a-one"), false, false},
		{agent1, wire.CmdTopic(h2, "a-one"), false, false},
		{agent1, wire.InputSetTopic(h1), false, false},
		{agent1, wire.PressTopic(h1, "x"), false, false},
		{agent1, wire.ReplyTopic("p-alice"), false, true},
		{agent1, wire.ReplyTopic("p-alice") + "/corr/1", false, true},
		{agent1, wire.ReplyTopic("p-alice"), true, false},
		{agent1, wire.TokenTopic("p-alice"), false, false},
		{agent1, wire.PresenceTopic("p-alice"), false, false},
		{agent1, "homeassistant/status", false, true},
		{agent1, "homeassistant/status", true, false},
		{agent1, "homeassistant/button/mfd-" + h1.String() + "/mute/config", true, true},
		{agent1, "homeassistant/switch/mfd-" + h1.String() + "/input/config", true, true},
		{agent1, "homeassistant/button/mfd-" + h2.String() + "/mute/config", true, false},
		{agent1, "homeassistant/button/mfd_" + h1.String() + "_mute/config", true, false},
		{agent1, "homeassistant/button/mfd-" + h1.String() + "/mute/other", true, false},
		{agent1, "homeassistant/button/other/config", true, false},
		// Integrations: press and input/set, never cmd, never retained.
		{integ, wire.PressTopic(h1, "mute"), false, true},
		{integ, wire.PressTopic(h1, "mute"), true, false},
		{integ, wire.InputSetTopic(h2), false, true},
		{integ, wire.CmdTopic(h1, "i-ha"), false, false},
		{integ, wire.StatusTopic(h1), false, false},
		// Home Assistant's birth message, never retained.
		{integ, "homeassistant/status", false, true},
		{integ, "homeassistant/status", true, false},
		{integ, "homeassistant/button/mfd-" + h1.String() + "/mute/config", true, false},
		{integ, "homeassistant/button/mfd-" + h1.String() + "/mute/config", false, false},
		// Malformed.
		{panelA, "", false, false},
		{panelA, "mfd/v1/hosts/+/cmd/p-alice", false, false},
		{agent1, "mfd/v1/clients/#", false, false},
	}
	for _, tt := range tests {
		if got := grantFor(tt.id).canWrite(tt.topic, tt.retain); got != tt.want {
			t.Errorf("canWrite(%s, %q, retain=%v) = %v, want %v", who(tt.id), tt.topic, tt.retain, got, tt.want)
		}
	}
}

func TestCanWill(t *testing.T) {
	tests := []struct {
		id     authn.Identity
		topic  string
		retain bool
		want   bool
	}{
		{agent1, wire.StatusTopic(h1), true, true},
		{agent1, wire.StatusTopic(h1), false, true},
		{agent1, wire.StatusTopic(h2), true, false},
		{agent1, wire.CmdTopic(h1, "a-one"), false, false},
		{agent1, wire.PressTopic(h1, "x"), false, false},
		{agent1, wire.InputSetTopic(h1), false, false},
		{agent1, wire.ReplyTopic("p-alice"), false, false},
		{agent1, "homeassistant/status", false, false},
		{panelA, wire.StatusTopic(h1), true, false},
		{panelA, wire.CmdTopic(h1, "p-alice"), false, false},
		{panelA, "homeassistant/status", false, false},
		{integ, wire.PressTopic(h1, "x"), false, false},
		{integ, wire.StatusTopic(h1), true, false},
		// Home Assistant's default Will: "offline" on its status topic.
		{integ, "homeassistant/status", false, true},
		{integ, "homeassistant/status", true, false},
	}
	for _, tt := range tests {
		if got := canWill(tt.id, tt.topic, tt.retain); got != tt.want {
			t.Errorf("canWill(%s, %q, retain=%v) = %v, want %v", who(tt.id), tt.topic, tt.retain, got, tt.want)
		}
	}
}

func TestOwnReplyTree(t *testing.T) {
	tests := []struct {
		topic string
		want  bool
	}{
		{wire.ReplyTopic("p-alice"), true},
		{wire.ReplyTopic("p-alice") + "/abc", true},
		{wire.ReplyTopic("p-alice") + "/a/b", true},
		{wire.ReplyTopic("p-alice") + "/a/b/c", false},
		{wire.ReplyTopic("p-alice") + "x", false},
		{wire.ReplyTopic("p-bob"), false},
		{wire.ReplyTopic("p-alice") + "/#", false},
		{wire.TokenTopic("p-alice"), false},
	}
	for _, tt := range tests {
		if got := ownReplyTree(panelA, tt.topic); got != tt.want {
			t.Errorf("ownReplyTree(%s, %q) = %v, want %v", who(panelA), tt.topic, got, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		p, f string
		want bool
	}{
		{"a/#", "a", true},
		{"a/#", "a/#", true},
		{"a/#", "a/b/c", true},
		{"a/#", "a/+", true},
		{"a/+", "a/#", false},
		{"a/+", "a/b", true},
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"a/+/#", "a/#", false},
		{"a/b", "a/+", false},
		{"+/b", "x/b", true},
		{"#", "anything/at/all", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a", "a/#", false},
	}
	for _, tt := range tests {
		if got := contains(tt.p, tt.f); got != tt.want {
			t.Errorf("contains(%q, %q) = %v, want %v", tt.p, tt.f, got, tt.want)
		}
	}
}

// FuzzFilterACL checks the ACL on arbitrary filters and topics: it never
// panics, and a granted filter never matches a topic its role cannot read.
func FuzzFilterACL(f *testing.F) {
	H1 := h1.String()
	seeds := [][2]string{
		{"mfd/v1/hosts/+/status", wire.StatusTopic(h1)},
		{"#", wire.TokenTopic("p-bob")},
		{"mfd/v1/#", wire.CmdTopic(h1, "p-alice")},
		{"mfd/v1/hosts/+/+", wire.CmdTopic(h1, "p-alice")},
		{"mfd/v1/clients/p-alice/reply/#", wire.ReplyTopic("p-alice")},
		{"mfd/v1/hosts/" + H1 + "/cmd/+", wire.CmdTopic(h1, "x")},
		{"$SYS/#", "$SYS/broker/version"},
		{"$share/g/#", "a"},
		{"homeassistant/#", "homeassistant/status"},
		{"+/+/+/+/+", "mfd/v1/hosts/x/status"},
		{"mfd/v1/clients/+/presence", wire.PresenceTopic("p-alice")},
		{"", ""},
		{"/", "/"},
		{"a//#", "a//b"},
	}
	for i, s := range seeds {
		f.Add(byte(i), s[0], s[1])
	}
	ids := []authn.Identity{panelA, panelB, agent1, integ}
	f.Fuzz(func(t *testing.T, role byte, filter, topic string) {
		id := ids[int(role)%len(ids)]
		granted := grantFor(id).canRead(filter)
		_ = grantFor(id).canWrite(topic, role&1 == 1)
		_ = canWill(id, topic, false)
		_ = ownReplyTree(id, topic)
		if !granted {
			return
		}
		if validTopic(topic) && !strings.HasPrefix(topic, "$") && mqttMatch(filter, topic) && !grantFor(id).canRead(topic) {
			t.Errorf("canRead(%s, %q) granted, but it matches %q, which canRead refuses", who(id), filter, topic)
		}
		// Random topics rarely match a granted filter: also fill the
		// filter's wildcards with the topic's levels.
		if inst := instantiate(filter, topic); validTopic(inst) && !strings.HasPrefix(inst, "$") && !grantFor(id).canRead(inst) {
			t.Errorf("canRead(%s, %q) granted, but it matches %q, which canRead refuses", who(id), filter, inst)
		}
	})
}

// mqttMatch is the textbook MQTT matcher, written apart from contains so
// that the fuzz target checks one against the other.
func mqttMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return i == len(fl)-1
		}
		if i >= len(tl) {
			return false
		}
		if f != "+" && f != tl[i] {
			return false
		}
	}
	return len(fl) == len(tl)
}

// instantiate fills filter's wildcards with levels taken from topic: '+'
// takes the next level, '#' takes the rest (possibly nothing).
func instantiate(filter, topic string) string {
	src := strings.Split(topic, "/")
	next := func() string {
		if len(src) == 0 {
			return "x"
		}
		l := src[0]
		src = src[1:]
		return strings.NewReplacer("+", "", "#", "").Replace(l)
	}
	var out []string
	for _, l := range strings.Split(filter, "/") {
		switch l {
		case "+":
			out = append(out, next())
		case "#":
			for len(src) > 0 {
				out = append(out, next())
			}
			if len(out) > 0 && len(strings.Split(topic, "/"))%2 == 0 {
				// Sometimes match the parent level ("a/#" matches "a").
				return strings.Join(out, "/")
			}
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "/")
}

// TestTopicsForAreReadable: every filter /authorise tells a client to
// subscribe to is one the table lets it read.
func TestTopicsForAreReadable(t *testing.T) {
	host := ids.NewHostID()
	for _, tc := range []struct {
		id      authn.Identity
		filters func(wire.ClientTopics) []string
	}{
		{authn.Identity{Sub: "p-alice", Role: wire.RolePanel}, func(tp wire.ClientTopics) []string {
			return []string{tp.Reply, tp.Token, tp.HostStatus, tp.HostActions, tp.HostInput, tp.HostState}
		}},
		{authn.Identity{Sub: "i-ha", Role: wire.RoleIntegration}, func(tp wire.ClientTopics) []string {
			return []string{tp.HostStatus, tp.HostActions, tp.HostInput, tp.HostState}
		}},
		{authn.Identity{Sub: "a-host", Role: wire.RoleAgent, Host: host}, func(tp wire.ClientTopics) []string {
			return []string{tp.Reply, tp.Token, tp.HostStatus, tp.Presence, tp.Commands, tp.Press, tp.InputSet}
		}},
	} {
		g := grantFor(tc.id)
		for _, f := range tc.filters(wire.TopicsFor(tc.id.Role, tc.id.Sub, tc.id.Host)) {
			if f == "" || !g.canRead(f) {
				t.Errorf("TopicsFor(%s) gives %q, which canRead refuses", tc.id.Role, f)
			}
		}
	}
}
