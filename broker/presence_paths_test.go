package broker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// TestPresenceOnExpiryAndRevocation: a client's last session ending by
// token expiry (0xA0) or by revocation (0x98) publishes its presence
// offline, as a closed socket does (TestPresence): that message is what
// makes an agent release the keys the client held (agent
// TestPresenceReleases), so every way a session ends must send it.
func TestPresenceOnExpiryAndRevocation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Grace = 200 * time.Millisecond })
	agent := e.login(agent1, "a-one", 5)
	if codes := agent.subscribe(1, "mfd/v1/clients/+/presence"); codes[0] > 2 {
		t.Fatalf("agent subscribe presence: 0x%02x", codes[0])
	}
	offline := func(what, sub string) {
		t.Helper()
		pk, ok := agent.nextPublish(5 * time.Second)
		if !ok || pk.TopicName != wire.PresenceTopic(ids.Subject(sub)) {
			t.Fatalf("%s: no presence for %s: %v %q", what, sub, ok, pk.TopicName)
		}
		var p wire.Presence
		if err := json.Unmarshal(pk.Payload, &p); err != nil || p.Online {
			t.Errorf("%s: presence payload %s, want online false", what, pk.Payload)
		}
	}

	setTTL := func(d time.Duration) {
		e.auth.mu.Lock() // rotation timers read it under mu
		e.auth.ttl = d
		e.auth.mu.Unlock()
	}
	setTTL(time.Second)
	a := e.login(panelA, "p-alice", 5)
	setTTL(time.Hour)
	if codes := a.subscribe(1, wire.ReplyTopic("p-alice")); codes[0] > 2 {
		t.Fatalf("alice subscribe: 0x%02x", codes[0])
	}
	if _, closed := a.closed(5 * time.Second); !closed {
		t.Fatalf("session alive past its token")
	}
	offline("token expiry", "p-alice")

	b := e.login(panelB, "p-bob", 5)
	// A SUBACK means the session is established (mochi sends CONNACK
	// before it counts a session as live); before that the client could
	// not have held anything, and no presence is owed.
	if codes := b.subscribe(1, wire.ReplyTopic("p-bob")); codes[0] > 2 {
		t.Fatalf("bob subscribe: 0x%02x", codes[0])
	}
	e.b.Revoke(panelB.Sub)
	if _, closed := b.closed(2 * time.Second); !closed {
		t.Fatalf("session alive after revocation")
	}
	offline("revocation", "p-bob")
}
