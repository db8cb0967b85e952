// Package topicacl is the contract's topic table per role: which topic
// filters each kind of client may read, and where it may publish. The
// embedded broker enforces it; the auth service writes it into every token
// in EMQX's ACL format, so that an external broker enforces the same.
package topicacl

import (
	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/wire"
)

// The roots of the two trees the table names.
const (
	HostsRoot   = wire.Root + "/hosts/"
	ClientsRoot = wire.Root + "/clients/"
	// HARoot is the tree under Home Assistant's discovery prefix.
	HARoot = wire.HAPrefix + "/"
)

// Rule grants a client one topic filter. A filter may be read when a Read
// rule's filter contains it; a topic may be published to when a Write
// rule's filter matches it, with the retain flag only if Retain is set.
type Rule struct {
	Filter string
	Read   bool
	Write  bool
	// Retain allows the retain flag on publishes (Write rules only).
	Retain bool
}

// For returns the rules of id, in a stable order. An agent without a host
// and an unknown role get none.
func For(id authn.Identity) []Rule {
	sub := string(id.Sub)
	hostReads := []Rule{
		{Filter: HostsRoot + "+/status", Read: true},
		{Filter: HostsRoot + "+/actions", Read: true},
		{Filter: HostsRoot + "+/input", Read: true},
		{Filter: HostsRoot + "+/events", Read: true},
	}
	// Toggle states are for those who show or automate them; an agent
	// does not read them, which keeps its token under the size cap.
	stateReads := Rule{Filter: HostsRoot + "+/state/+", Read: true}
	own := []Rule{
		{Filter: ClientsRoot + sub + "/reply", Read: true},
		{Filter: ClientsRoot + sub + "/reply/#", Read: true},
		{Filter: ClientsRoot + sub + "/token", Read: true},
	}
	switch id.Role {
	case wire.RolePanel:
		r := append(append(hostReads, stateReads), own...)
		return append(r,
			Rule{Filter: HostsRoot + "+/cmd/" + sub, Write: true},
			Rule{Filter: HostsRoot + "+/press/+", Write: true},
		)
	case wire.RoleAgent:
		if id.Host.IsZero() {
			return nil
		}
		h := HostsRoot + id.Host.String()
		r := append(hostReads, own...)
		return append(r,
			Rule{Filter: h + "/cmd/+", Read: true},
			Rule{Filter: h + "/press/+", Read: true},
			Rule{Filter: h + "/input/set", Read: true},
			Rule{Filter: ClientsRoot + "+/presence", Read: true},
			Rule{Filter: wire.HAStatusTopic, Read: true, Write: true},
			Rule{Filter: h + "/status", Write: true, Retain: true},
			Rule{Filter: h + "/actions", Write: true, Retain: true},
			Rule{Filter: h + "/input", Write: true, Retain: true},
			Rule{Filter: h + "/state/+", Write: true, Retain: true},
			Rule{Filter: h + "/events", Write: true},
			Rule{Filter: ClientsRoot + "+/reply", Write: true},
			Rule{Filter: ClientsRoot + "+/reply/#", Write: true},
			// Discovery documents: only about this host's own device.
			Rule{Filter: HARoot + "+/" + wire.HANode(id.Host) + "/+/config", Write: true, Retain: true},
		)
	case wire.RoleIntegration:
		r := append(hostReads, stateReads, Rule{Filter: HARoot + "#", Read: true})
		return append(r,
			Rule{Filter: HostsRoot + "+/press/+", Write: true},
			Rule{Filter: HostsRoot + "+/input/set", Write: true},
			// Home Assistant's birth message, which asks every agent
			// for its discovery documents again.
			Rule{Filter: wire.HAStatusTopic, Write: true},
		)
	}
	return nil
}
