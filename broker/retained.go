package broker

import (
	"encoding/json"
	"strings"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// Home Assistant discovery: the ACL lets an agent write
// homeassistant/+/mfd-{host}/+/config, two free levels. Only the documents
// an agent publishes (agent/ha.go) are accepted: a switch "input", an event
// "press", and per action a button and a binary_sensor (its state probe),
// whose object ID is the action's ID.
//
// The broker does not know the agent's config, so it takes the actions
// from the host's retained actions document, which the agent publishes
// before its discovery and which only that agent can write: an object ID
// must name one of them. An empty payload (which removes an entity, as the
// agent does for an action that left its config) is accepted for any valid
// action ID, since it stores nothing.
// discoveryAllowed reports whether id may publish the discovery document
// topic (under homeassistant/, which canWrite has held to id's own node).
func (b *Broker) discoveryAllowed(id authn.Identity, topic string, empty bool) bool {
	parts := strings.Split(topic, "/")
	if len(parts) != 5 || parts[4] != "config" {
		return false
	}
	component, object := parts[1], parts[3]
	switch {
	case component == "switch":
		return object == "input"
	case component == "event":
		return object == "press"
	case component == "button" || component == "binary_sensor":
		if !wire.ValidActionID(object) {
			return false
		}
		return empty || b.hostHasAction(id.Host, object)
	}
	return false
}

// hostHasAction reports whether host's retained actions document lists
// action.
func (b *Broker) hostHasAction(host ids.HostID, action string) bool {
	pk, ok := b.server.Topics.Retained.Get(wire.ActionsTopic(host))
	if !ok {
		return false
	}
	var doc wire.Actions
	if err := json.Unmarshal(pk.Payload, &doc); err != nil {
		return false
	}
	for _, a := range doc.Actions {
		if a.ID == action {
			return true
		}
	}
	return false
}

// countRetained records that sub keeps a retained message on topic (or,
// for an empty payload, no longer does) and reports whether that is within
// MaxRetainedPerClient.
func (h *hook) countRetained(sub ids.Subject, topic string, empty bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.retained[sub]
	if empty {
		delete(set, topic)
		return true
	}
	if _, ok := set[topic]; ok {
		return true
	}
	if len(set) >= MaxRetainedPerClient {
		return false
	}
	if set == nil {
		set = map[string]struct{}{}
		h.retained[sub] = set
	}
	set[topic] = struct{}{}
	return true
}

// clearRetained removes, for a revoked sub, every retained message it was
// the only one allowed to write: its host's status, actions and input and
// its discovery documents (a host ID belongs to one agent). Each is
// cleared by publishing an empty retained message, so that panels drop
// the host and Home Assistant drops the entities at once. It returns how
// many were cleared.
func (h *hook) clearRetained(sub ids.Subject) int {
	h.mu.Lock()
	id, known := h.idents[sub]
	topics := h.retained[sub]
	delete(h.retained, sub)
	h.mu.Unlock()
	clear := map[string]struct{}{}
	for t := range topics {
		clear[t] = struct{}{}
	}
	if known && id.Role == wire.RoleAgent {
		g := grantFor(id)
		for t := range h.b.server.Topics.Retained.GetAll() {
			if g.canWrite(t, true) {
				clear[t] = struct{}{}
			}
		}
	}
	n := 0
	for t := range clear {
		if _, ok := h.b.server.Topics.Retained.Get(t); !ok {
			continue
		}
		if err := h.b.Publish(t, nil, true); err != nil {
			h.b.log.Warn("clearing a revoked client's retained message", "client", sub, "topic", t, "error", err)
			continue
		}
		n++
	}
	return n
}
