// Package wire holds the topic tree and payload types of the wire contract
// (mfd/v1), shared by the broker, the auth service and the agent.
package wire

import (
	"strings"

	"github.com/openmfd/mfd/internal/ids"
)

// Root is the first two levels of every mfd topic.
const Root = "mfd/v1"

// Role is what kind of client a subject is.
type Role string

// The roles a client can have.
const (
	RolePanel       Role = "panel"
	RoleAgent       Role = "agent"
	RoleIntegration Role = "integration"
)

// Valid reports whether r is one of the contract's roles.
func (r Role) Valid() bool {
	return r == RolePanel || r == RoleAgent || r == RoleIntegration
}

// HostTopic returns mfd/v1/hosts/{host}/{leaf}.
func HostTopic(host ids.HostID, leaf string) string {
	return Root + "/hosts/" + host.String() + "/" + leaf
}

// StatusTopic is a host's retained status.
func StatusTopic(host ids.HostID) string { return HostTopic(host, "status") }

// ActionsTopic is a host's retained list of actions.
func ActionsTopic(host ids.HostID) string { return HostTopic(host, "actions") }

// InputTopic is a host's retained remote-input state, ON or OFF.
func InputTopic(host ids.HostID) string { return HostTopic(host, "input") }

// InputSetTopic is where integrations switch a host's remote input.
func InputSetTopic(host ids.HostID) string { return HostTopic(host, "input/set") }

// EventsTopic is where a host's agent announces presses.
func EventsTopic(host ids.HostID) string { return HostTopic(host, "events") }

// CmdTopic is where client sub sends commands to host.
func CmdTopic(host ids.HostID, sub ids.Subject) string {
	return HostTopic(host, "cmd/"+string(sub))
}

// StateTopic is the retained state of one of host's toggle actions: ON or
// OFF, as its state probe last found it.
func StateTopic(host ids.HostID, action string) string {
	return HostTopic(host, "state/"+action)
}

// PressTopic is where integrations press a host's action.
func PressTopic(host ids.HostID, action string) string {
	return HostTopic(host, "press/"+action)
}

// ClientTopic returns mfd/v1/clients/{sub}/{leaf}.
func ClientTopic(sub ids.Subject, leaf string) string {
	return Root + "/clients/" + string(sub) + "/" + leaf
}

// ReplyTopic is client sub's default reply topic.
func ReplyTopic(sub ids.Subject) string { return ClientTopic(sub, "reply") }

// TokenTopic is where the server pushes client sub's fresh tokens.
func TokenTopic(sub ids.Subject) string { return ClientTopic(sub, "token") }

// PresenceTopic is where the server says client sub's last session ended.
func PresenceTopic(sub ids.Subject) string { return ClientTopic(sub, "presence") }

// ClientTopics is the set of a client's own topics, as returned by
// POST /authorise.
type ClientTopics struct {
	Reply    string `json:"reply"`
	Token    string `json:"token"`
	Presence string `json:"presence,omitempty"`
	// Cmd is a template with {host} for the host ID, for panels.
	Cmd string `json:"cmd,omitempty"`
	// Host-scoped topics an agent publishes, for agents.
	Status  string `json:"status,omitempty"`
	Actions string `json:"actions,omitempty"`
	Input   string `json:"input,omitempty"`
	Events  string `json:"events,omitempty"`
	// Commands is the filter an agent subscribes to for its commands.
	Commands string `json:"commands,omitempty"`
	Press    string `json:"press,omitempty"`
	InputSet string `json:"input_set,omitempty"`
	// HostStatus is the filter for every host's status.
	HostStatus string `json:"host_status"`
	// HostActions, HostInput and HostState are the filters for every
	// host's actions, remote input state and toggle states, for the
	// clients that show them (panels) or automate them (integrations).
	HostActions string `json:"host_actions,omitempty"`
	HostInput   string `json:"host_input,omitempty"`
	HostState   string `json:"host_state,omitempty"`
}

// TopicsFor returns the topics a client of role r with subject sub (and, for
// agents, host) uses.
func TopicsFor(r Role, sub ids.Subject, host ids.HostID) ClientTopics {
	t := ClientTopics{
		Reply:      ReplyTopic(sub),
		Token:      TokenTopic(sub),
		HostStatus: Root + "/hosts/+/status",
	}
	if r == RolePanel || r == RoleIntegration {
		t.HostActions = Root + "/hosts/+/actions"
		t.HostInput = Root + "/hosts/+/input"
		t.HostState = Root + "/hosts/+/state/+"
	}
	switch r {
	case RolePanel:
		t.Cmd = Root + "/hosts/{host}/cmd/" + string(sub)
	case RoleAgent:
		t.Presence = Root + "/clients/+/presence"
		t.Status = StatusTopic(host)
		t.Actions = ActionsTopic(host)
		t.Input = InputTopic(host)
		t.Events = EventsTopic(host)
		t.Commands = HostTopic(host, "cmd/+")
		t.Press = HostTopic(host, "press/+")
		t.InputSet = InputSetTopic(host)
	case RoleIntegration:
		t.Press = Root + "/hosts/{host}/press/{action}"
		t.InputSet = Root + "/hosts/{host}/input/set"
	}
	return t
}

// TopicKind is which of the contract's two trees a topic is in.
type TopicKind string

// The kinds ParseTopic returns. Topics outside mfd/v1 (Home Assistant's
// homeassistant/...) are not parsed: ParseTopic refuses them.
const (
	TopicHost   TopicKind = "host"   // mfd/v1/hosts/{host}/...
	TopicClient TopicKind = "client" // mfd/v1/clients/{sub}/...
)

// Topic is a parsed mfd/v1 topic name (never a filter).
type Topic struct {
	Kind TopicKind
	Host ids.HostID  // for TopicHost
	Sub  ids.Subject // for TopicClient, or a cmd topic's sender
	// Leaf is what follows the host or client level: "status", "cmd",
	// "press", "input/set", "reply", "token", ...
	Leaf string
	// Arg is the cmd topic's subject or the press or state topic's action.
	Arg string
	// Rest is anything after a reply topic (a response topic's suffix).
	Rest string
}

// ParseTopic splits an mfd/v1 topic name into its parts. It reports false
// for names that are not in the contract's tree.
func ParseTopic(name string) (Topic, bool) {
	if !strings.HasPrefix(name, Root+"/") {
		return Topic{}, false
	}
	parts := strings.Split(name[len(Root)+1:], "/")
	if len(parts) < 3 {
		return Topic{}, false
	}
	switch parts[0] {
	case "hosts":
		// One host, one topic level: the canonical lowercase form only,
		// as every topic the contract names is written.
		host, err := ids.ParseHostID(parts[1])
		if err != nil || host.String() != parts[1] {
			return Topic{}, false
		}
		t := Topic{Kind: TopicHost, Host: host}
		rest := parts[2:]
		switch {
		case len(rest) == 1 && (rest[0] == "status" || rest[0] == "actions" || rest[0] == "input" || rest[0] == "events"):
			t.Leaf = rest[0]
		case len(rest) == 2 && rest[0] == "input" && rest[1] == "set":
			t.Leaf = "input/set"
		case len(rest) == 2 && rest[0] == "cmd":
			sub, err := ids.ParseSubject(rest[1])
			if err != nil {
				return Topic{}, false
			}
			t.Leaf, t.Arg, t.Sub = "cmd", rest[1], sub
		case len(rest) == 2 && (rest[0] == "press" || rest[0] == "state"):
			if !ValidActionID(rest[1]) {
				return Topic{}, false
			}
			t.Leaf, t.Arg = rest[0], rest[1]
		default:
			return Topic{}, false
		}
		return t, true
	case "clients":
		sub, err := ids.ParseSubject(parts[1])
		if err != nil {
			return Topic{}, false
		}
		t := Topic{Kind: TopicClient, Sub: sub, Leaf: parts[2]}
		switch {
		case len(parts) == 3 && (t.Leaf == "reply" || t.Leaf == "token" || t.Leaf == "presence"):
		case len(parts) > 3 && t.Leaf == "reply":
			t.Rest = strings.Join(parts[3:], "/")
			if t.Rest == "" || strings.ContainsAny(t.Rest, "+#") {
				return Topic{}, false
			}
		default:
			return Topic{}, false
		}
		return t, true
	}
	return Topic{}, false
}

// ValidActionID reports whether id may name an action: 1 to 64 characters
// of [a-zA-Z0-9_-].
func ValidActionID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
