package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// atkIntegration makes an integration credential and connects it over TLS
// TCP, subscribed to every discovery document.
func atkIntegration(t *testing.T, s *server, suffix string) *atkSession {
	t.Helper()
	out, err := s.cli("clients", "add-integration", "--name", "HA "+suffix, "--json")
	if err != nil {
		t.Fatalf("add-integration: %v %s", err, out)
	}
	var cred struct{ Sub, Token string }
	if err := json.Unmarshal([]byte(out), &cred); err != nil {
		t.Fatal(err)
	}
	ha, err := atkOpen(s, "tls", atkConn{v5: true, clientID: cred.Sub, user: cred.Sub, pass: cred.Token})
	if err != nil || ha.code != 0 {
		t.Fatalf("integration CONNECT: %v", err)
	}
	t.Cleanup(ha.close)
	if code, err := ha.subscribe(1, "homeassistant/#"); err != nil || code > 2 {
		t.Fatalf("integration SUBSCRIBE homeassistant/#: %#x %v", code, err)
	}
	return ha
}

// TestDiscoveryFloodIsBounded (issue 11, case 4): an agent's retained
// discovery left two free topic levels, and 10,000 documents of 15 KiB
// were kept, and outlived the agent's revocation. Now only the documents an
// agent publishes are accepted (switch/input, event/press, and a button
// and a binary_sensor per action of its retained actions document), an
// agent keeps at most 512 retained messages, and revoking it clears them,
// so Home Assistant drops its entities.
func TestDiscoveryFloodIsBounded(t *testing.T) {
	s := startServer(t)
	host := atkNewHost()
	ag, agent := atkPairAgent(t, s, host)
	node := "mfd-" + host
	disc := func(component, object string) string {
		return "homeassistant/" + component + "/" + node + "/" + object + "/config"
	}
	pub := func(id uint16, topic string, payload []byte) byte {
		t.Helper()
		code, err := agent.publishWith(id, topic, payload, true, pubProps{})
		if err != nil {
			t.Fatalf("PUBLISH %s: %v", topic, err)
		}
		return code
	}
	if code := pub(1, "mfd/v1/hosts/"+host+"/actions", []byte(`{"actions":[{"id":"mute","label":"Mute"}]}`)); code != 0 {
		t.Fatalf("the actions document: PUBACK %#x", code)
	}
	doc := []byte(`{"name":"x","unique_id":"y"}`)
	for _, tc := range []struct {
		topic   string
		payload []byte
		want    byte
	}{
		{disc("button", "mute"), doc, 0},
		{disc("binary_sensor", "mute"), doc, 0},
		{disc("switch", "input"), doc, 0},
		{disc("event", "press"), doc, 0},
		{disc("button", "gone"), nil, 0}, // removing an action's button
		{disc("button", "evil"), doc, 0x87},
		{disc("binary_sensor", "evil"), doc, 0x87},
		{disc("sensor", "mute"), doc, 0x87},
		{disc("switch", "other"), doc, 0x87},
		{disc("event", "other"), doc, 0x87},
		{disc("light", "input"), doc, 0x87},
	} {
		if got := pub(2, tc.topic, tc.payload); got != tc.want {
			t.Errorf("PUBLISH retained %s (%d bytes): PUBACK %#x, want %#x", tc.topic, len(tc.payload), got, tc.want)
		}
	}

	base := atkStats(t, s)
	big := []byte(`{"name":"` + strings.Repeat("x", 15<<10) + `"}`)
	accepted := 0
	start := time.Now()
	for i := 0; i < 10000; i++ {
		if pub(uint16(i%60000+10), disc("button", fmt.Sprintf("x%d", i)), big) == 0 {
			accepted++
		}
	}
	flood := atkStats(t, s)
	t.Logf("10,000 retained discovery documents of 15 KiB for objects not in the actions: %d accepted in %v; retained %v -> %v, heap %.1f -> %.1f MiB",
		accepted, time.Since(start).Round(time.Millisecond), base["mqtt_retained"], flood["mqtt_retained"], base["heap_alloc"]/(1<<20), flood["heap_alloc"]/(1<<20))
	if accepted > 0 {
		t.Errorf("%d discovery documents for objects that are not actions were accepted", accepted)
	}

	// Many actions: at most 512 retained messages per agent.
	var acts []string
	for i := 0; i < 600; i++ {
		acts = append(acts, fmt.Sprintf(`{"id":"a%d","label":"A"}`, i))
	}
	if code := pub(3, "mfd/v1/hosts/"+host+"/actions", []byte(`{"actions":[`+strings.Join(acts, ",")+`]}`)); code != 0 {
		t.Fatalf("600 actions: PUBACK %#x", code)
	}
	accepted = 0
	for i := 0; i < 600; i++ {
		for _, c := range []string{"button", "binary_sensor"} {
			if pub(uint16(i+100), disc(c, fmt.Sprintf("a%d", i)), big) == 0 {
				accepted++
			}
		}
	}
	capped := atkStats(t, s)
	t.Logf("1,200 discovery documents for 600 actions: %d accepted; the server holds %v retained messages, heap %.1f MiB",
		accepted, capped["mqtt_retained"], capped["heap_alloc"]/(1<<20))
	// The agent already keeps its actions and 4 documents.
	if accepted > 512-5 || accepted < 400 {
		t.Errorf("%d accepted, want up to the cap of 512 retained per agent (5 held before)", accepted)
	}
	if grew := capped["heap_alloc"] - base["heap_alloc"]; grew > 24<<20 {
		t.Errorf("live heap grew by %.1f MiB, want at most 24 (512 x 15 KiB is 7.5 MiB)", grew/(1<<20))
	}

	// Revoked: Home Assistant is told to drop every entity, and nothing
	// of the host stays retained.
	ha := atkIntegration(t, s, "1")
	held := 0
	for {
		m, err := ha.next(time.Second)
		if err != nil {
			break
		}
		if strings.Contains(m.topic, node) {
			held++
		}
	}
	if out, err := s.cli("clients", "revoke", ag.Sub); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	removed := 0
	for {
		m, err := ha.next(2 * time.Second)
		if err != nil {
			break
		}
		if strings.Contains(m.topic, node) && len(m.payload) == 0 {
			removed++
		}
	}
	t.Logf("Home Assistant held %d of the host's documents; after the revocation it was told to remove %d", held, removed)
	if removed != held || held == 0 {
		t.Errorf("after the revocation %d of %d documents were removed", removed, held)
	}
	fresh := atkIntegration(t, s, "2")
	if m, err := fresh.next(time.Second); err == nil && strings.Contains(m.topic, node) {
		t.Errorf("a new integration still finds %s retained after the revocation", m.topic)
	}
	after := atkStats(t, s)
	t.Logf("retained messages after the revocation: %v", after["mqtt_retained"])
}
