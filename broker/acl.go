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

// grant is what one session may read and write: its identity and the
// table's rules for it. Every publish and every delivery asks, so the
// rules (some twenty strings) are built once, when the session
// authenticates at CONNECT and again at re-authentication.
type grant struct {
	id    authn.Identity
	rules []topicacl.Rule
}

func grantFor(id authn.Identity) grant { return grant{id: id, rules: topicacl.For(id)} }

// canRead reports whether g may subscribe to filter (or receive a message
// on topic, which is a filter without wildcards).
func (g grant) canRead(filter string) bool {
	if !validFilter(filter) || strings.HasPrefix(filter, "$") {
		return false
	}
	for _, r := range g.rules {
		if r.Read && contains(r.Filter, filter) {
			return true
		}
	}
	return false
}

// canWrite reports whether g may publish to topic, with the retain flag
// when retain is true. Topics in the mfd tree must also parse, so that no
// one writes a host level that is not a host ID or a subject that is not a
// subject.
func (g grant) canWrite(topic string, retain bool) bool {
	if !validTopic(topic) || strings.HasPrefix(topic, "$") {
		return false
	}
	if strings.HasPrefix(topic, wire.Root+"/") {
		if _, ok := wire.ParseTopic(topic); !ok {
			return false
		}
	}
	for _, r := range g.rules {
		if !r.Write || !contains(r.Filter, topic) {
			continue
		}
		if retain && !r.Retain {
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
		return topic == wire.HAStatusTopic && !retain
	}
	return false
}

// ownReplyTree reports whether topic is sub's reply topic or below it: the
// only place a command's Response Topic may point.
func ownReplyTree(id authn.Identity, topic string) bool {
	r := wire.ReplyTopic(id.Sub)
	return validTopic(topic) && (topic == r || strings.HasPrefix(topic, r+"/"))
}

// validFilter reports whether f is a well-formed MQTT topic filter within
// the broker's bounds: not empty, at most MaxTopicLen bytes and
// MaxTopicLevels levels, '#' only as the whole last level, '+' only as a
// whole level, no NUL.
func validFilter(f string) bool {
	if f == "" || len(f) > MaxTopicLen || strings.IndexByte(f, 0) >= 0 {
		return false
	}
	// Level by level without splitting: this runs on every publish and
	// every delivery.
	for levels := 1; ; levels++ {
		if levels > MaxTopicLevels {
			return false
		}
		l, rest, more := strings.Cut(f, "/")
		if strings.Contains(l, "#") && (l != "#" || more) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
		if !more {
			return true
		}
		f = rest
	}
}

// validTopic reports whether t is a well-formed topic name: a filter
// without wildcards.
func validTopic(t string) bool {
	return validFilter(t) && !strings.ContainsAny(t, "+#")
}

// contains reports whether every topic matched by filter f is matched by
// pattern p. Both must be valid filters.
func contains(p, f string) bool {
	// Level by level without splitting (it runs for every rule on every
	// publish and delivery); pDone and fDone mark a filter with no levels
	// left, which an empty string cannot, since "" is a valid level.
	pDone, fDone := false, false
	for {
		if pDone {
			return fDone
		}
		pl, prest, pmore := strings.Cut(p, "/")
		if pl == "#" {
			// "a/#" matches "a" itself and everything below it.
			return true
		}
		if fDone {
			return false
		}
		fl, frest, fmore := strings.Cut(f, "/")
		switch {
		case fl == "#":
			// f matches topics of any depth here; only a '#' in p covers them.
			return false
		case pl == "+":
			// A literal or '+' at this level: both one level.
		case fl == "+" || fl != pl:
			return false
		}
		p, f = prest, frest
		pDone, fDone = !pmore, !fmore
	}
}
