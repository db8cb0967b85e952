package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Identity attacks security_test.go does not already cover (forged tokens
// and client-identifier takeover are TestForgedTokensAreRefused and
// TestIdentityAndACLFromOutside).

// TestPersistentSessionTheft: A keeps a session (clean start 0, session
// expiry 10 min). Another approved client cannot resume it under A's
// client identifier, whatever username and password it gives, on either
// transport or protocol; A itself resumes it; revoking A drops it.
func TestPersistentSessionTheft(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	id := a.Sub + "/tab"
	kept := atkConn{v5: true, clientID: id, user: a.Sub, pass: a.Token, keepStart: true, sessionExpiry: 600}
	sa, err := atkOpen(s, "wss", kept)
	if err != nil || sa.code != 0 {
		t.Fatalf("A's CONNECT with a kept session: %v %#x", err, sa.code)
	}
	if code, err := sa.subscribe(1, "mfd/v1/clients/"+a.Sub+"/reply"); err != nil || code > 2 {
		t.Fatalf("A's SUBSCRIBE: %#x %v", code, err)
	}
	_ = sa.send([]byte{0xe0, 0}) // DISCONNECT: the session stays
	sa.close()
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if n := atkStats(t, s)["mqtt_clients"]; n != 1 {
			return fmt.Errorf("broker holds %v clients, want A's kept session", n)
		}
		return nil
	})

	for _, tc := range []struct {
		name       string
		o          atkConn
		over       string
		want       byte
		wantNoCode bool
	}{
		{"B's token, A's username", atkConn{v5: true, user: a.Sub, pass: b.Token}, "wss", v5BadCredentials, false},
		{"B's token and username", atkConn{v5: true, user: b.Sub, pass: b.Token}, "wss", 0x85, false},
		{"B's token and username, TLS", atkConn{v5: true, user: b.Sub, pass: b.Token}, "tls", 0x85, false},
		{"B's token and username, 3.1.1", atkConn{user: b.Sub, pass: b.Token}, "tls", 0x02, false},
		{"A's username, no password", atkConn{v5: true, user: a.Sub}, "wss", v5BadCredentials, false},
		{"no credentials, 3.1.1", atkConn{}, "wss", v3BadCredentials, false},
	} {
		tc.o.clientID, tc.o.keepStart, tc.o.sessionExpiry = id, true, 600
		st, err := atkOpen(s, tc.over, tc.o)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if st.code != tc.want || st.sessionPresent {
			t.Errorf("%s resuming %s: CONNACK %#x session present %v, want %#x and no session", tc.name, id, st.code, st.sessionPresent, tc.want)
		}
		st.close()
	}

	// The session is still A's.
	sa, err = atkOpen(s, "tls", kept)
	if err != nil || sa.code != 0 || !sa.sessionPresent {
		t.Fatalf("A resuming its own session after the attempts: %v code %#x present %v, want 0 and present", err, sa.code, sa.sessionPresent)
	}
	_ = sa.send([]byte{0xe0, 0})
	sa.close()
	if out, err := s.cli("clients", "revoke", a.Sub); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if n := atkStats(t, s)["mqtt_clients"]; n != 0 {
			return fmt.Errorf("after revoking A the broker still holds %v clients: its kept session survived", n)
		}
		return nil
	})
}

// TestSecondLiveUseOfOneToken: one token may back several sessions of its
// own subject (a panel's tabs), each under its own identifier; a second
// connection under the same identifier takes the first over (MQTT's rule,
// DISCONNECT 0x8E), which only ever affects that same subject; another
// subject's sessions are untouched; revoking the subject ends every use of
// the token at once.
func TestSecondLiveUseOfOneToken(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	sb, err := atkOpen(s, "wss", atkConn{v5: true, clientID: b.Sub, user: b.Sub, pass: b.Token})
	if err != nil || sb.code != 0 {
		t.Fatalf("B: %v %#x", err, sb.code)
	}
	defer sb.close()
	first, err := atkOpen(s, "wss", atkConn{v5: true, clientID: a.Sub, user: a.Sub, pass: a.Token})
	if err != nil || first.code != 0 {
		t.Fatalf("first use: %v %#x", err, first.code)
	}
	tab, err := atkOpen(s, "tls", atkConn{v5: true, clientID: a.Sub + "/tab2", user: a.Sub, pass: a.Token})
	if err != nil || tab.code != 0 {
		t.Fatalf("second use under another identifier: %v %#x", err, tab.code)
	}
	defer tab.close()
	if err := atkPing(first.rawClient, time.Second); err != nil {
		t.Errorf("the first session after a second one with another identifier: %v", err)
	}
	again, err := atkOpen(s, "tls", atkConn{v5: true, clientID: a.Sub, user: a.Sub, pass: a.Token})
	if err != nil || again.code != 0 {
		t.Fatalf("second use under the same identifier: %v %#x", err, again.code)
	}
	defer again.close()
	if reason, err := first.waitDisconnect(3 * time.Second); err != nil || reason != 0x8e {
		t.Errorf("the first session after a takeover under its identifier: DISCONNECT %#x %v, want 0x8e", reason, err)
	}
	if err := atkPing(sb.rawClient, time.Second); err != nil {
		t.Errorf("B's session after A's takeover: %v", err)
	}
	if out, err := s.cli("clients", "revoke", a.Sub); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	for name, st := range map[string]*atkSession{"tab": tab, "takeover": again} {
		if reason, err := st.waitDisconnect(2 * time.Second); err != nil || reason != 0x98 {
			t.Errorf("%s after revoke: DISCONNECT %#x %v, want 0x98", name, reason, err)
		}
	}
	if err := atkPing(sb.rawClient, time.Second); err != nil {
		t.Errorf("B's session after A was revoked: %v", err)
	}
}

// atkPairAgent pairs an agent identity for host (role agent) and connects
// it with the raw MQTT 5 client, subscribed to every command for its host.
func atkPairAgent(t *testing.T, s *server, host string) (authResp, *atkSession) {
	t.Helper()
	_, ag := s.pair("agent "+host[:8], "agent", map[string]string{"host_id": host})
	sa, err := atkOpen(s, "tls", atkConn{v5: true, clientID: ag.Sub, user: ag.Sub, pass: ag.Token})
	if err != nil || sa.code != 0 {
		t.Fatalf("agent CONNECT: %v %#x", err, sa.code)
	}
	t.Cleanup(sa.close)
	if code, err := sa.subscribe(1, "mfd/v1/hosts/"+host+"/cmd/+"); err != nil || code > 2 {
		t.Fatalf("agent SUBSCRIBE to its commands: %#x %v", code, err)
	}
	return ag, sa
}

// TestSharedSubscriptionsRefused: no client may subscribe to $share/...,
// whatever filter follows and whatever protocol, and nothing reaches it
// through one.
func TestSharedSubscriptionsRefused(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	host := uuid.NewString()
	ag, agent := atkPairAgent(t, s, host)
	filters := []string{
		"$share/g/mfd/v1/clients/" + a.Sub + "/reply",
		"$share/g/mfd/v1/clients/" + b.Sub + "/reply",
		"$share/g/mfd/v1/hosts/+/status",
		"$share/g/#",
		"$share/" + b.Sub + "/mfd/v1/clients/" + a.Sub + "/#",
		"$share//x",
		"$SHARE/g/mfd/v1/hosts/+/status",
	}
	for _, v5 := range []bool{true, false} {
		for _, over := range []string{"wss", "tls"} {
			st, err := atkOpen(s, over, atkConn{v5: v5, clientID: fmt.Sprintf("%s/%s%v", b.Sub, over, v5), user: b.Sub, pass: b.Token})
			if err != nil || st.code != 0 {
				t.Fatalf("B CONNECT: %v", err)
			}
			for i, f := range filters {
				code, err := st.subscribe(uint16(i+1), f)
				if err != nil {
					t.Errorf("%s v5=%v SUBSCRIBE %q: %v", over, v5, f, err)
					break
				}
				if code < 0x80 {
					t.Errorf("%s v5=%v SUBSCRIBE %q = %#x, want refused", over, v5, f, code)
				}
			}
			defer st.close()
			if over == "tls" && v5 {
				// The agent replies to A: nothing reaches B.
				if err := agent.publish(atkPub{topic: "mfd/v1/clients/" + a.Sub + "/reply", payload: []byte(`{"id":"1","ok":true}`)}); err != nil {
					t.Fatal(err)
				}
				if m, err := st.next(500 * time.Millisecond); err == nil {
					t.Errorf("B received %q on %s through a refused shared subscription", m.payload, m.topic)
				}
			}
		}
	}
	_ = ag
}

// TestRetainedAndWillOnCommandTopics: a command cannot be planted to run
// later, neither as a retained message nor as a Will, on any command or
// press topic, by a panel or by an agent; an agent's Will on its own status
// is the one allowed (the control).
func TestRetainedAndWillOnCommandTopics(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	host := uuid.NewString()
	ag, agent := atkPairAgent(t, s, host)
	cmdA := "mfd/v1/hosts/" + host + "/cmd/" + a.Sub
	press := "mfd/v1/hosts/" + host + "/press/mute"
	cmdText := `{"id":"planted","op":"text.type","text":"rm -rf ~\n"}`

	pa, err := atkOpen(s, "wss", atkConn{v5: true, clientID: a.Sub, user: a.Sub, pass: a.Token})
	if err != nil || pa.code != 0 {
		t.Fatalf("A: %v", err)
	}
	defer pa.close()
	for i, topic := range []string{cmdA, press} {
		code, err := pa.rawClient.publish(uint16(i+1), topic, []byte(cmdText), true)
		if err != nil || code < 0x80 {
			t.Errorf("retained QoS 1 PUBLISH to %s = %#x %v, want refused", topic, code, err)
		}
		_ = pa.rawClient.send(frame(0x31, append(append(encStr(topic), 0), cmdText...))) // QoS 0: dropped
	}
	if m, err := agent.next(500 * time.Millisecond); err == nil {
		t.Errorf("the agent received %q on %s from a refused retained publish", m.payload, m.topic)
	}
	// A new subscriber finds nothing retained.
	late, err := atkOpen(s, "tls", atkConn{v5: true, clientID: ag.Sub + "/late", user: ag.Sub, pass: ag.Token})
	if err != nil || late.code != 0 {
		t.Fatalf("late agent: %v", err)
	}
	defer late.close()
	for i, f := range []string{"mfd/v1/hosts/" + host + "/cmd/+", "mfd/v1/hosts/" + host + "/press/+"} {
		if code, err := late.subscribe(uint16(i+1), f); err != nil || code > 2 {
			t.Fatalf("SUBSCRIBE %s: %#x %v", f, code, err)
		}
	}
	if m, err := late.next(500 * time.Millisecond); err == nil {
		t.Errorf("a new agent session found %q retained on %s", m.payload, m.topic)
	}

	wills := []struct {
		name   string
		o      atkConn
		refuse byte
	}{
		{"panel Will on its own cmd topic", atkConn{v5: true, user: a.Sub, pass: a.Token, willTopic: cmdA}, v5NotAuthorized},
		{"panel retained Will on its own cmd topic", atkConn{v5: true, user: a.Sub, pass: a.Token, willTopic: cmdA, willRetain: true, willQoS: 1}, v5NotAuthorized},
		{"panel Will on a press topic", atkConn{v5: true, user: a.Sub, pass: a.Token, willTopic: press}, v5NotAuthorized},
		{"panel Will on its reply topic", atkConn{v5: true, user: a.Sub, pass: a.Token, willTopic: "mfd/v1/clients/" + a.Sub + "/reply"}, v5NotAuthorized},
		{"3.1.1 panel Will on its own cmd topic", atkConn{user: a.Sub, pass: a.Token, willTopic: cmdA, willRetain: true}, v3NotAuthorized},
		{"agent Will on its host's cmd topic", atkConn{v5: true, user: ag.Sub, pass: ag.Token, willTopic: cmdA, willRetain: true}, v5NotAuthorized},
		{"agent Will on a press topic", atkConn{v5: true, user: ag.Sub, pass: ag.Token, willTopic: press}, v5NotAuthorized},
		{"agent Will on another host's status", atkConn{v5: true, user: ag.Sub, pass: ag.Token, willTopic: "mfd/v1/hosts/" + uuid.NewString() + "/status", willRetain: true}, v5NotAuthorized},
	}
	for i, w := range wills {
		w.o.willPayload = cmdText
		w.o.clientID = fmt.Sprintf("%s/will%d", w.o.user, i)
		for _, over := range []string{"wss", "tls"} {
			st, err := atkOpen(s, over, w.o)
			if err != nil {
				t.Errorf("%s over %s: %v", w.name, over, err)
				continue
			}
			if st.code != w.refuse {
				t.Errorf("%s over %s: CONNACK %#x, want %#x", w.name, over, st.code, w.refuse)
			}
			st.close()
		}
	}
	if m, err := agent.next(500 * time.Millisecond); err == nil {
		t.Errorf("the agent received %q on %s from a refused Will", m.payload, m.topic)
	}
	ok, err := atkOpen(s, "wss", atkConn{v5: true, clientID: ag.Sub + "/w", user: ag.Sub, pass: ag.Token,
		willTopic: "mfd/v1/hosts/" + host + "/status", willRetain: true, willPayload: `{"host":"` + host + `","online":false}`})
	if err != nil || ok.code != 0 {
		t.Errorf("the control, an agent's Will on its own status: %v %#x, want accepted", err, ok.code)
	} else {
		ok.close()
	}
}

// TestClientSuppliedSubProperty: whatever mfd-sub user properties a sender
// sets, the agent receives exactly one, naming the real sender; other user
// properties pass through.
func TestClientSuppliedSubProperty(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	_, b := s.pair("B", "", nil)
	host := uuid.NewString()
	_, agent := atkPairAgent(t, s, host)
	cmdA := "mfd/v1/hosts/" + host + "/cmd/" + a.Sub
	for _, tc := range []struct {
		name string
		v5   bool
		over string
		user []atkUserProp
	}{
		{"mfd-sub of B", true, "wss", []atkUserProp{{"mfd-sub", b.Sub}}},
		{"mfd-sub twice, and another property", true, "tls", []atkUserProp{{"mfd-sub", b.Sub}, {"x", "y"}, {"mfd-sub", "server"}}},
		{"MFD-SUB in capitals", true, "wss", []atkUserProp{{"MFD-SUB", b.Sub}}},
		{"3.1.1 sender", false, "tls", nil},
	} {
		st, err := atkOpen(s, tc.over, atkConn{v5: tc.v5, clientID: a.Sub + "/s", user: a.Sub, pass: a.Token})
		if err != nil || st.code != 0 {
			t.Fatalf("%s: CONNECT %v", tc.name, err)
		}
		if err := st.publish(atkPub{topic: cmdA, payload: []byte(`{"id":"1","op":"release.all"}`), user: tc.user}); err != nil {
			t.Fatal(err)
		}
		m, err := agent.next(3 * time.Second)
		st.close()
		if err != nil {
			t.Errorf("%s: the agent received nothing: %v", tc.name, err)
			continue
		}
		var subs []string
		var others []atkUserProp
		for _, u := range m.user {
			if u.k == "mfd-sub" {
				subs = append(subs, u.v)
			} else {
				others = append(others, u)
			}
		}
		if !slices.Equal(subs, []string{a.Sub}) {
			t.Errorf("%s: the agent saw mfd-sub %q, want exactly [%s]", tc.name, subs, a.Sub)
		}
		for _, u := range tc.user {
			if u.k != "mfd-sub" && !slices.Contains(others, u) {
				t.Errorf("%s: user property %s=%s was dropped", tc.name, u.k, u.v)
			}
		}
	}
}
