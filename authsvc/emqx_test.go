package authsvc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// aclOf decodes the acl claim of a token without checking the signature
// (TestIssuedTokenClaims and TestJWKSVerifiesToken check that).
func aclOf(t *testing.T, tok string) []emqxRule {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ACL []emqxRule `json:"acl"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("claims %s: %v", raw, err)
	}
	return c.ACL
}

func ruleString(r emqxRule) string {
	s := r.Permission + " " + r.Action + " " + r.Topic
	if r.Retain != nil {
		if *r.Retain {
			s += " retain"
		} else {
			s += " no-retain"
		}
	}
	return s
}

// TestTokenACLClaimPerRole pins the acl claim of each role's token, rule by
// rule, in EMQX's list format.
func TestTokenACLClaimPerRole(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	_, panel := env.pair(t, wire.RolePanel, ids.HostID{})
	_, agent := env.pair(t, wire.RoleAgent, host)
	H, P, A := host.String(), string(panel), string(agent)

	reads := []string{
		"allow subscribe mfd/v1/hosts/+/status",
		"allow subscribe mfd/v1/hosts/+/actions",
		"allow subscribe mfd/v1/hosts/+/input",
		"allow subscribe mfd/v1/hosts/+/events",
	}
	own := func(sub string) []string {
		return []string{
			"allow subscribe mfd/v1/clients/" + sub + "/reply",
			"allow subscribe mfd/v1/clients/" + sub + "/reply/#",
			"allow subscribe mfd/v1/clients/" + sub + "/token",
		}
	}
	deny := []string{"deny all $SYS/#", "deny all #"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		sub  ids.Subject
		want []string
	}{
		{panel, cat(reads, []string{"allow subscribe mfd/v1/hosts/+/state/+"}, own(P), []string{
			"allow publish mfd/v1/hosts/+/cmd/" + P + " no-retain",
			"allow publish mfd/v1/hosts/+/press/+ no-retain",
		}, deny)},
		{agent, cat(reads, own(A), []string{
			"allow subscribe mfd/v1/hosts/" + H + "/cmd/+",
			"allow subscribe mfd/v1/hosts/" + H + "/press/+",
			"allow subscribe mfd/v1/hosts/" + H + "/input/set",
			"allow subscribe mfd/v1/clients/+/presence",
			"allow subscribe homeassistant/status",
			"allow publish homeassistant/status no-retain",
			"allow publish mfd/v1/hosts/" + H + "/status",
			"allow publish mfd/v1/hosts/" + H + "/actions",
			"allow publish mfd/v1/hosts/" + H + "/input",
			"allow publish mfd/v1/hosts/" + H + "/state/+",
			"allow publish mfd/v1/hosts/" + H + "/events no-retain",
			"allow publish mfd/v1/clients/+/reply no-retain",
			"allow publish mfd/v1/clients/+/reply/# no-retain",
			"allow publish homeassistant/+/mfd-" + H + "/+/config",
		}, deny)},
	}
	for _, tt := range tests {
		acl := aclOf(t, env.token(t, tt.sub))
		var got []string
		for _, r := range acl {
			got = append(got, ruleString(r))
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("acl claim of %s:\n%s\nwant:\n%s", tt.sub, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// emqxMatch is EMQX's topic match as its authorizer applies it: the
// client's filter or topic is compared level by level with the rule's,
// and a wildcard the client sends is only matched by the same wildcard or
// a broader one in the rule. Topics beginning with "$" are not matched by
// a rule's leading wildcard.
func emqxMatch(name, rule string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(rule, "+") || strings.HasPrefix(rule, "#")) {
		return false
	}
	n, r := strings.Split(name, "/"), strings.Split(rule, "/")
	for i := 0; ; i++ {
		if i < len(r) && r[i] == "#" {
			return true
		}
		if i == len(n) || i == len(r) {
			return i == len(n) && i == len(r)
		}
		if r[i] != "+" && r[i] != n[i] {
			return false
		}
		if r[i] == "+" && n[i] == "#" {
			return false
		}
	}
}

// emqxAllows evaluates an acl claim the way EMQX does: the first rule that
// matches the action, topic and retain flag decides; no match is "no
// decision", reported as nil.
func emqxAllows(acl []emqxRule, action, topic string, retain bool) *bool {
	for _, r := range acl {
		if r.Action != "all" && r.Action != action {
			continue
		}
		if action == "publish" && r.Retain != nil && *r.Retain != retain {
			continue
		}
		if !emqxMatch(topic, r.Topic) {
			continue
		}
		ok := r.Permission == "allow"
		return &ok
	}
	return nil
}

// TestTokenACLClaimDecides runs an EMQX-style evaluation of each role's acl
// claim over the contract's topic table: what the table allows is allowed,
// everything else is denied by the claim itself (never left to EMQX's
// other authorizers).
func TestTokenACLClaimDecides(t *testing.T) {
	env := newTestService(t, nil)
	host, other := ids.NewHostID(), ids.NewHostID()
	_, panel := env.pair(t, wire.RolePanel, ids.HostID{})
	_, agent := env.pair(t, wire.RoleAgent, host)
	acls := map[ids.Subject][]emqxRule{
		panel: aclOf(t, env.token(t, panel)),
		agent: aclOf(t, env.token(t, agent)),
	}
	H := host.String()
	disc := func(h ids.HostID) string { return "homeassistant/button/mfd-" + h.String() + "/mute/config" }
	const sub, pub = "subscribe", "publish"
	tests := []struct {
		sub    ids.Subject
		action string
		topic  string
		retain bool
		want   bool
	}{
		{panel, sub, "mfd/v1/hosts/+/status", false, true},
		{panel, sub, wire.StatusTopic(other), false, true},
		{panel, sub, wire.ReplyTopic(panel), false, true},
		{panel, sub, wire.TokenTopic(panel), false, true},
		{panel, sub, wire.ReplyTopic(agent), false, false},
		{panel, sub, wire.TokenTopic(agent), false, false},
		{panel, sub, "#", false, false},
		{panel, sub, "mfd/v1/hosts/#", false, false},
		{panel, sub, "mfd/v1/hosts/+/+", false, false},
		{panel, sub, "mfd/v1/hosts/" + H + "/cmd/+", false, false},
		{panel, sub, "$SYS/#", false, false},
		{panel, sub, "$SYS/brokers", false, false},
		{panel, sub, "homeassistant/#", false, false},
		{panel, pub, wire.CmdTopic(host, panel), false, true},
		{panel, pub, wire.CmdTopic(host, panel), true, false},
		{panel, pub, wire.CmdTopic(host, agent), false, false},
		{panel, pub, wire.PressTopic(host, "mute"), false, true},
		{panel, pub, wire.InputSetTopic(host), false, false},
		{panel, pub, wire.StatusTopic(host), true, false},
		{panel, pub, wire.ReplyTopic(agent), false, false},
		{panel, pub, "homeassistant/status", false, false},

		{agent, sub, "mfd/v1/hosts/" + H + "/cmd/+", false, true},
		{agent, sub, "mfd/v1/hosts/" + other.String() + "/cmd/+", false, false},
		{agent, sub, "mfd/v1/hosts/+/cmd/+", false, false},
		{agent, sub, wire.InputSetTopic(host), false, true},
		{agent, sub, "mfd/v1/clients/+/presence", false, true},
		{agent, sub, "homeassistant/status", false, true},
		{agent, sub, "homeassistant/#", false, false},
		{agent, sub, "mfd/v1/clients/+/token", false, false},
		{agent, pub, wire.StatusTopic(host), true, true},
		{agent, pub, wire.StatusTopic(other), true, false},
		{agent, pub, wire.StatusTopic(other), false, false},
		{agent, pub, wire.InputTopic(host), true, true},
		{agent, pub, wire.EventsTopic(host), false, true},
		{agent, pub, wire.EventsTopic(host), true, false},
		{agent, pub, wire.ReplyTopic(panel), false, true},
		{agent, pub, wire.ReplyTopic(panel) + "/c/1", false, true},
		{agent, pub, wire.TokenTopic(panel), false, false},
		{agent, pub, wire.CmdTopic(host, panel), false, false},
		{agent, pub, disc(host), true, true},
		{agent, pub, disc(other), true, false},
		{agent, pub, "homeassistant/status", true, false},
		{agent, pub, "$SYS/x", false, false},
	}
	for _, tt := range tests {
		d := emqxAllows(acls[tt.sub], tt.action, tt.topic, tt.retain)
		if d == nil {
			t.Errorf("%s %s %q retain=%v: no rule decides; EMQX would ask its other authorizers", tt.sub, tt.action, tt.topic, tt.retain)
			continue
		}
		if *d != tt.want {
			t.Errorf("%s %s %q retain=%v: allowed = %v, want %v", tt.sub, tt.action, tt.topic, tt.retain, *d, tt.want)
		}
	}
}

// TestTokenWithACLFitsCap checks that the largest token the service can
// sign (an agent, the longest subject, a name whose every character JSON
// escapes) stays under the 4 KiB every verifier enforces.
func TestTokenWithACLFitsCap(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	for _, role := range []wire.Role{wire.RoleAgent, wire.RolePanel} {
		rec := record{
			Sub:  ids.Subject(strings.Repeat("x", 64)),
			Name: strings.Repeat("<", MaxNameLen),
			Role: role,
		}
		if role == wire.RoleAgent {
			rec.Host = &host
		}
		if _, err := ids.ParseSubject(string(rec.Sub)); err != nil {
			t.Fatalf("test subject: %v", err)
		}
		tok, err := env.svc.issue(rec)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tok.Token); n > MaxTokenLen {
			t.Errorf("largest %s token is %d bytes, over the %d cap", role, n, MaxTokenLen)
		} else {
			t.Logf("largest %s token: %d bytes of %d", role, n, MaxTokenLen)
		}
		if len(aclOf(t, tok.Token)) == 0 {
			t.Errorf("%s token has no acl claim", role)
		}
	}
}

// TestTopicsMdEMQXExample checks the panel's acl claim shown in topics.md
// against what the service puts in a token for that panel.
func TestTopicsMdEMQXExample(t *testing.T) {
	b, err := os.ReadFile("../topics.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- emqx-acl:begin -->\n```jsonc\n(.*?)```\n<!-- emqx-acl:end -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("topics.md has no emqx-acl block")
	}
	var doc struct {
		ACL []emqxRule `json:"acl"`
	}
	dec := json.NewDecoder(bytes.NewReader(m[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("topics.md's acl example: %v", err)
	}
	want := emqxACL(authn.Identity{Sub: "p-7kq2m9xw4c", Role: wire.RolePanel})
	got, _ := json.Marshal(doc.ACL)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("topics.md's acl example:\n%s\nthe service makes:\n%s", got, exp)
	}
}
