package broker

import (
	"strings"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/topicacl"
	"github.com/openmfd/mfd/internal/wire"
)

// The topic table of the contract, per role, is topicacl's. A
// subscription filter is granted when one read pattern contains it, that
// is when every topic the filter can match is matched by the pattern; a
// topic is a filter without wildcards, so the same check answers
// deliveries. Containment in a single pattern is sound (it never grants a
// topic outside the table) and, for this table, complete enough: no
// useful filter is covered only by a union of patterns.

// readPatterns returns the filters id may read.
func readPatterns(id authn.Identity) []string {
	var out []string
	for _, r := range topicacl.For(id) {
		if r.Read {
			out = append(out, r.Filter)
		}
	}
	return out
}

// writeRule is a topic pattern a role may publish to, and whether it may
// carry the retain flag there.
type writeRule struct {
	pattern string
	retain  bool
}

// writeRules returns where id may publish.
func writeRules(id authn.Identity) []writeRule {
	var out []writeRule
	for _, r := range topicacl.For(id) {
		if r.Write {
			out = append(out, writeRule{pattern: r.Filter, retain: r.Retain})
		}
	}
	return out
}

// canRead reports whether id may subscribe to filter (or receive a message
// on topic, which is a filter without wildcards).
func canRead(id authn.Identity, filter string) bool {
	if !validFilter(filter) || strings.HasPrefix(filter, "$") {
		return false
	}
	for _, p := range readPatterns(id) {
		if contains(p, filter) {
			return true
		}
	}
	return false
}

// canWrite reports whether id may publish to topic, with the retain flag
// when retain is true. Topics in the mfd tree must also parse, so that no
// one writes a host level that is not a host ID or a subject that is not a
// subject.
func canWrite(id authn.Identity, topic string, retain bool) bool {
	if !validTopic(topic) || strings.HasPrefix(topic, "$") {
		return false
	}
	if strings.HasPrefix(topic, wire.Root+"/") {
		if _, ok := wire.ParseTopic(topic); !ok {
			return false
		}
	}
	for _, r := range writeRules(id) {
		if !contains(r.pattern, topic) {
			continue
		}
		if retain && !r.retain {
			continue
		}
		return true
	}
	return false
}

// canWill reports whether id may leave a Will on topic: an agent on its
// own host's status (retained: it is the host's state), and an integration
// on Home Assistant's status topic, not retained, as Home Assistant's MQTT
// integration does by default.
func canWill(id authn.Identity, topic string, retain bool) bool {
	switch id.Role {
	case wire.RoleAgent:
		return !id.Host.IsZero() && topic == wire.StatusTopic(id.Host)
	case wire.RoleIntegration:
		return topic == topicacl.HAStatus && !retain
	}
	return false
}

// ownReplyTree reports whether topic is sub's reply topic or below it: the
// only place a command's Response Topic may point.
func ownReplyTree(id authn.Identity, topic string) bool {
	r := wire.ReplyTopic(id.Sub)
	return validTopic(topic) && (topic == r || strings.HasPrefix(topic, r+"/"))
}

// validFilter reports whether f is a well-formed MQTT topic filter: not
// empty, '#' only as the whole last level, '+' only as a whole level, no
// NUL.
func validFilter(f string) bool {
	if f == "" || len(f) > 65535 || strings.ContainsRune(f, 0) {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// validTopic reports whether t is a well-formed topic name: a filter
// without wildcards.
func validTopic(t string) bool {
	return validFilter(t) && !strings.ContainsAny(t, "+#")
}

// contains reports whether every topic matched by filter f is matched by
// pattern p. Both must be valid filters.
func contains(p, f string) bool {
	pl := strings.Split(p, "/")
	fl := strings.Split(f, "/")
	for i := 0; ; i++ {
		if i == len(pl) {
			return i == len(fl)
		}
		if pl[i] == "#" {
			// "a/#" matches "a" itself and everything below it.
			return true
		}
		if i == len(fl) {
			return false
		}
		switch {
		case fl[i] == "#":
			// f matches topics of any depth here; only a '#' in p covers them.
			return false
		case pl[i] == "+":
			// A literal or '+' at this level: both one level.
		case fl[i] == "+" || fl[i] != pl[i]:
			return false
		}
	}
}
