package authsvc

import (
	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/topicacl"
)

// emqxRule is one rule of the acl claim in EMQX's list format (EMQX 5.5 and
// later): https://docs.emqx.com/en/emqx/latest/access-control/authn/acl.html.
// A publish rule with Retain false matches only publishes without the
// retain flag; without Retain it matches both.
type emqxRule struct {
	Permission string `json:"permission"`
	Action     string `json:"action"`
	Topic      string `json:"topic"`
	Retain     *bool  `json:"retain,omitempty"`
}

// emqxACL is the acl claim of id's token: the broker's own table
// (topicacl) as EMQX rules. EMQX goes on to its other authorizers when no
// rule of the list matches, and by default allows what none of them
// matches either, so the list ends by denying everything else; $SYS is
// denied by name because "#" does not match topics that begin with "$".
func emqxACL(id authn.Identity) []emqxRule {
	rules := topicacl.For(id)
	if len(rules) == 0 {
		return nil
	}
	noRetain := false
	out := make([]emqxRule, 0, len(rules)+4)
	for _, r := range rules {
		if r.Read {
			out = append(out, emqxRule{Permission: "allow", Action: "subscribe", Topic: r.Filter})
		}
	}
	for _, r := range rules {
		if !r.Write {
			continue
		}
		rule := emqxRule{Permission: "allow", Action: "publish", Topic: r.Filter}
		if !r.Retain {
			rule.Retain = &noRetain
		}
		out = append(out, rule)
	}
	return append(out,
		emqxRule{Permission: "deny", Action: "all", Topic: "$SYS/#"},
		emqxRule{Permission: "deny", Action: "all", Topic: "#"},
	)
}
