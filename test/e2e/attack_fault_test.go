package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/mosqtest"
	"github.com/openmfd/mfd/internal/xtest"
)

// atkWaitOnline subscribes st to every host's status and waits until host
// says it is online.
func atkWaitOnline(t *testing.T, st *atkSession, host string, total time.Duration) {
	t.Helper()
	if code, err := st.subscribe(7, "mfd/v1/hosts/+/status"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE status: %#x %v", code, err)
	}
	deadline := time.Now().Add(total)
	for {
		m, err := st.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting %v for host %s online: %v", total, host, err)
		}
		var s struct {
			Host   string `json:"host"`
			Online bool   `json:"online"`
		}
		if json.Unmarshal(m.payload, &s) == nil && s.Host == host && s.Online {
			return
		}
	}
}

// TestServerRestartWithRemoteAgentAndPanel: the server is killed (-9) and
// started again on the same address and state with a remote agent and a
// panel connected. Both are back within 5 s of the restart: the agent
// reconnects by itself (its status says online), the panel reconnects with
// its token. A command the panel sends again after reconnecting, with the
// same id, is answered and not run twice.
func TestServerRestartWithRemoteAgentAndPanel(t *testing.T) {
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	dir := t.TempDir()
	s := startServer(t, withStateDir(dir))
	_, host := atkRemoteAgent(t, s, t.TempDir(), "DISPLAY="+display)
	_, p := s.pair("restart panel", "", nil)
	c := atkNewCommander(t, s, p, host, "/r")
	run := func(c *atkCommander, id, text string) atkReply {
		t.Helper()
		if err := c.send(fmt.Sprintf(`{"id":%q,"op":"text.type","text":%q}`, id, text)); err != nil {
			t.Fatal(err)
		}
		r, err := c.reply(10 * time.Second)
		if err != nil {
			t.Fatalf("reply to %s: %v", id, err)
		}
		return r
	}
	if r := run(c, "r1", "a"); !r.OK {
		t.Fatalf("before the restart: %+v", r)
	}
	xev.Expect(t, "a before the restart", xtest.KeyTap("0x61")...)

	killed := time.Now()
	s.kill9()
	c.close()
	s2 := startServer(t, withStateDir(dir), withAddr(s.addr))
	restarted := time.Now()
	st, err := atkOpen(s2, "wss", atkConn{v5: true, clientID: p.Sub + "/r2", user: p.Sub, pass: p.Token})
	if err != nil || st.code != 0 {
		t.Fatalf("the panel reconnecting with its token: %v %#x", err, st.code)
	}
	defer st.close()
	atkWaitOnline(t, st, host, 5*time.Second)
	t.Logf("agent and panel back %v after the server answered again (%v after kill -9)",
		time.Since(restarted).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if d := time.Since(restarted); d > 5*time.Second {
		t.Errorf("back after %v, want within 5 s", d)
	}
	c2 := &atkCommander{atkSession: st, sub: p.Sub, host: host}
	if code, err := st.subscribe(1, "mfd/v1/clients/"+p.Sub+"/reply"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE reply: %#x %v", code, err)
	}
	// The panel did not see r1's reply in time, say, and sends it again.
	if r := run(c2, "r1", "a"); !r.OK || r.ID != "r1" {
		t.Errorf("r1 sent again after the restart: %+v, want its ok answered again", r)
	}
	if r := run(c2, "r2", "b"); !r.OK {
		t.Errorf("r2 after the restart: %+v", r)
	}
	xev.Expect(t, "after the restart, b only (r1 not run twice)", xtest.KeyTap("0x62")...)
}

// TestMosquittoRestartUnderBrokerAgent: `mfd agent --broker` against
// Mosquitto serves a panel, Mosquitto is killed and started again, and the
// agent reconnects by itself and serves again.
func TestMosquittoRestartUnderBrokerAgent(t *testing.T) {
	m := mosqtest.Run(t, mosqtest.Options{Users: map[string]string{"agent": "pw", "panel": "pw"}})
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	ag := startProc(t, []string{"DISPLAY=" + display}, mfdBin, "agent", "--broker", "mqtt://"+m.Addr,
		"--username", "agent", "--password", "pw", "--state-dir", t.TempDir(), "--name", "mosquitto host")
	host := ag.waitOutput(`agent for host ([0-9a-f-]{36}) running`, 15*time.Second)[1]
	const sub = "p-mosquittopanel"
	panel := func() *atkCommander {
		t.Helper()
		conn, err := net.Dial("tcp", m.Addr)
		if err != nil {
			t.Fatal(err)
		}
		rc := newRaw(conn, true)
		st := &atkSession{rawClient: rc}
		if code, err := rc.connect(sub, "panel", "pw"); err != nil || code != 0 {
			t.Fatalf("panel CONNECT to Mosquitto: %#x %v", code, err)
		}
		t.Cleanup(st.close)
		atkWaitOnline(t, st, host, 15*time.Second)
		if code, err := st.subscribe(1, "mfd/v1/clients/"+sub+"/reply"); err != nil || code > 2 {
			t.Fatalf("SUBSCRIBE reply: %#x %v", code, err)
		}
		return &atkCommander{atkSession: st, sub: sub, host: host}
	}
	do := func(c *atkCommander, id, text string) {
		t.Helper()
		if err := c.send(fmt.Sprintf(`{"id":%q,"op":"text.type","text":%q}`, id, text)); err != nil {
			t.Fatal(err)
		}
		if r, err := c.reply(10 * time.Second); err != nil || !r.OK {
			t.Fatalf("command %s through Mosquitto: %+v %v", id, r, err)
		}
	}
	c := panel()
	do(c, "m1", "a")
	xev.Expect(t, "a before the restart", xtest.KeyTap("0x61")...)

	killed := time.Now()
	m.Kill()
	c.close()
	time.Sleep(time.Second) // down long enough for the agent to notice and back off
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	c = panel()
	t.Logf("agent back on Mosquitto %v after it answered again (%v after kill -9)",
		time.Since(restarted).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	do(c, "m2", "b")
	xev.Expect(t, "b after Mosquitto restarted", xtest.KeyTap("0x62")...)
}
