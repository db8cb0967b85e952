package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSessionExpiryCannotBeRaisedAtDisconnect (issue 11, case 3): mochi
// clamps Session Expiry at CONNECT only; a DISCONNECT asking for
// 0xFFFFFFFF kept the session, and its subscriptions, for ever. Now a
// DISCONNECT may shorten what the CONNACK granted, never lengthen it: a
// session granted 2 s is gone 2 s after a DISCONNECT that asked for
// 0xFFFFFFFF, and resuming it finds nothing.
func TestSessionExpiryCannotBeRaisedAtDisconnect(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	base := atkStats(t, s)
	id := a.Sub + "/kept"
	sa, err := atkOpen(s, "tls", atkConn{v5: true, clientID: id, user: a.Sub, pass: a.Token, sessionExpiry: 2})
	if err != nil || sa.code != 0 {
		t.Fatalf("CONNECT with Session Expiry 2 s: %v %#x", err, sa.code)
	}
	if code, err := sa.subscribe(1, "mfd/v1/clients/"+a.Sub+"/reply/#"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE: %#x %v", code, err)
	}
	if err := atkDisconnect(sa.rawClient, 0xFFFFFFFF); err != nil {
		t.Fatal(err)
	}
	sa.close()
	start := time.Now()
	var st map[string]float64
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		st = atkStats(t, s)
		if st["mqtt_clients"] != base["mqtt_clients"] {
			return fmt.Errorf("%v MQTT clients (sessions kept included), %v before", st["mqtt_clients"], base["mqtt_clients"])
		}
		return nil
	})
	t.Logf("the session granted 2 s, whose DISCONNECT asked for 0xFFFFFFFF, was gone %v after it", time.Since(start).Round(100*time.Millisecond))
	again, err := atkOpen(s, "tls", atkConn{v5: true, clientID: id, user: a.Sub, pass: a.Token, keepStart: true, sessionExpiry: 2})
	if err != nil || again.code != 0 {
		t.Fatalf("CONNECT again: %v", err)
	}
	defer again.close()
	if again.sessionPresent {
		t.Errorf("resuming found the session kept past the expiry the CONNACK granted")
	}
}

// TestWillDelayBoundedAndRevokedWillDropped (issue 11, case 8): a Will
// Delay longer than the session (none here) is clamped to it, so the Will
// comes when the connection ends; a delayed Will of a client revoked
// meanwhile is never delivered (mochi kept it in a list nothing clears),
// and the revocation clears the retained status the agent left, so
// panels drop the host. The control: a delayed Will of a client that is
// not revoked arrives after its delay.
func TestWillDelayBoundedAndRevokedWillDropped(t *testing.T) {
	s := startServer(t)
	_, panel := s.pair("Tablet", "", nil)
	// Over TLS TCP: a read that times out leaves the connection usable.
	w, err := atkOpen(s, "tls", atkConn{v5: true, clientID: panel.Sub + "/watch", user: panel.Sub, pass: panel.Token})
	if err != nil || w.code != 0 {
		t.Fatalf("panel CONNECT: %v", err)
	}
	defer w.close()
	watch := w.rawClient
	if code, err := watch.subscribe(1, "mfd/v1/hosts/+/status"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE: %#x %v", code, err)
	}
	agentWith := func(host string, delay, expiry uint32) (authResp, *atkSession) {
		t.Helper()
		_, ag := s.pair("agent "+host[:8], "agent", map[string]string{"host_id": host})
		status := "mfd/v1/hosts/" + host + "/status"
		sa, err := atkOpen(s, "tls", atkConn{v5: true, clientID: ag.Sub, user: ag.Sub, pass: ag.Token,
			willTopic: status, willPayload: `{"host":"` + host + `","online":false}`, willRetain: true, willQoS: 1,
			willDelay: delay, sessionExpiry: expiry})
		if err != nil || sa.code != 0 {
			t.Fatalf("agent CONNECT with a Will: %v", err)
		}
		if _, err := sa.rawClient.publish(1, status, []byte(`{"host":"`+host+`","name":"h","online":true}`), true); err != nil {
			t.Fatal(err)
		}
		if m, err := watch.readMessage(3 * time.Second); err != nil || m.topic != status {
			t.Fatalf("the panel did not see the agent's status: %v", err)
		}
		return ag, sa
	}
	// waitWill reads status messages for host until one says offline, or
	// d passes.
	waitWill := func(host string, d time.Duration) (time.Duration, bool) {
		start := time.Now()
		for time.Since(start) < d {
			m, err := watch.readMessage(d - time.Since(start))
			if err != nil {
				break
			}
			if strings.Contains(m.topic, host) && strings.Contains(string(m.payload), `"online":false`) {
				return time.Since(start), true
			}
		}
		return time.Since(start), false
	}

	// An hour's Will Delay with no Session Expiry: the session ends with
	// the connection, and so does the wait.
	h1 := atkNewHost()
	_, a1 := agentWith(h1, 3600, 0)
	a1.close()
	took, ok := waitWill(h1, 5*time.Second)
	t.Logf("Will Delay 3600 s, Session Expiry 0: Will after %v (%v)", took.Round(10*time.Millisecond), ok)
	if !ok {
		t.Errorf("a Will with an hour's delay and no session expiry did not come within 5 s of the connection's end")
	}

	// The control: a 2 s delay within a 60 s session arrives after 2 s.
	h2 := atkNewHost()
	_, a2 := agentWith(h2, 2, 60)
	a2.close()
	took, ok = waitWill(h2, 6*time.Second)
	t.Logf("Will Delay 2 s, Session Expiry 60 s: Will after %v (%v)", took.Round(10*time.Millisecond), ok)
	if !ok || took < 1500*time.Millisecond {
		t.Errorf("the control's delayed Will: after %v (%v), want after about 2 s\n%s", took, ok, s.out)
	}

	// A 3 s delay, and the agent is revoked while it waits.
	h3 := atkNewHost()
	ag3, a3 := agentWith(h3, 3, 60)
	a3.close()
	if out, err := s.cli("clients", "revoke", ag3.Sub); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	var cleared bool
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		m, err := watch.readMessage(time.Until(deadline))
		if err != nil {
			break
		}
		if !strings.Contains(m.topic, h3) {
			continue
		}
		if len(m.payload) == 0 {
			cleared = true
			continue
		}
		t.Errorf("after the revocation the panel received %q on %s", m.payload, m.topic)
	}
	if !cleared {
		t.Errorf("the revocation did not clear the revoked agent's retained status")
	}
	late := atkPanelConn(t, s, panel, "late", "127.0.0.1")
	if code, err := late.subscribe(1, "mfd/v1/hosts/"+h3+"/status"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE: %#x %v", code, err)
	}
	if m, err := late.readMessage(500 * time.Millisecond); err == nil {
		t.Errorf("a new panel found %q retained on %s after the revocation", m.payload, m.topic)
	}
	t.Logf("revoked while its 3 s Will waited: no Will in 6 s, retained status cleared: %v", cleared)
}
