package broker

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/wire"
)

func TestConnectCodes(t *testing.T) {
	e := newEnv(t, nil)
	goodA := func() string { return e.auth.issue(panelA) }
	e.auth.issue(panelB)
	refusedID := authn.Identity{Sub: "p-refused", Role: wire.RolePanel}
	refusedTok := e.auth.issue(refusedID)
	e.auth.refuse(refusedID.Sub)

	tests := []struct {
		name string
		v    byte
		o    connectOpts
		want byte
	}{
		{"good v5", 5, connectOpts{clientID: "p-alice", user: "p-alice", pass: goodA()}, 0x00},
		{"good v5 suffixed id", 5, connectOpts{clientID: "p-alice/tab1", user: "p-alice", pass: goodA()}, 0x00},
		{"good v3.1.1", 4, connectOpts{clientID: "p-alice/v3", user: "p-alice", pass: goodA()}, 0x00},
		{"MQTT 3.1 refused", 3, connectOpts{clientID: "p-alice/v31", user: "p-alice", pass: goodA()}, 0x01},
		{"bad token v5", 5, connectOpts{clientID: "p-alice", user: "p-alice", pass: "forged"}, 0x86},
		{"bad token v3.1.1", 4, connectOpts{clientID: "p-alice", user: "p-alice", pass: "forged"}, 0x04},
		{"no credentials v5", 5, connectOpts{clientID: "p-alice", noCreds: true}, 0x86},
		{"token of A as B v5", 5, connectOpts{clientID: "p-bob", user: "p-bob", pass: goodA()}, 0x86},
		{"refused v5", 5, connectOpts{clientID: "p-refused", user: "p-refused", pass: refusedTok}, 0x87},
		{"refused v3.1.1", 4, connectOpts{clientID: "p-refused", user: "p-refused", pass: refusedTok}, 0x05},
		{"A's token, B's client id v5", 5, connectOpts{clientID: "p-bob", user: "p-alice", pass: goodA()}, 0x85},
		{"A's token, B's client id prefix v5", 5, connectOpts{clientID: "p-bob/x", user: "p-alice", pass: goodA()}, 0x85},
		{"A's token, lookalike id v5", 5, connectOpts{clientID: "p-alicex", user: "p-alice", pass: goodA()}, 0x85},
		{"A's token, B's client id v3.1.1", 4, connectOpts{clientID: "p-bob", user: "p-alice", pass: goodA()}, 0x02},
		{"will on cmd topic", 5, connectOpts{clientID: "p-alice", user: "p-alice", pass: goodA(),
			will: &packets.Packet{TopicName: wire.CmdTopic(h1, "p-alice"), Payload: []byte(`{}`)}}, 0x87},
		{"will on status by a panel", 5, connectOpts{clientID: "p-alice", user: "p-alice", pass: goodA(),
			will: &packets.Packet{TopicName: wire.StatusTopic(h1), Payload: []byte(`{}`)}}, 0x87},
	}
	for _, tt := range tests {
		c := e.newClient(tt.v)
		ack := c.connect(tt.o)
		if ack.ReasonCode != tt.want {
			t.Errorf("%s: CONNACK = 0x%02x, want 0x%02x", tt.name, ack.ReasonCode, tt.want)
		}
		if tt.want != 0 {
			if _, closed := c.closed(3 * time.Second); !closed {
				t.Errorf("%s: connection still open after a refused CONNECT", tt.name)
			}
		}
		_ = c.c.Close()
	}

	// An agent may leave a retained Will on its own status.
	c := e.newClient(5)
	ack := c.connect(connectOpts{clientID: "a-one", user: "a-one", pass: e.auth.issue(agent1),
		will: &packets.Packet{TopicName: wire.StatusTopic(h1), Payload: []byte(`{"online":false}`), FixedHeader: packets.FixedHeader{Retain: true}}})
	if ack.ReasonCode != 0 {
		t.Errorf("agent with Will on own status: CONNACK = 0x%02x, want 0", ack.ReasonCode)
	}

	// No client identifier: the broker assigns one under the subject.
	c = e.newClient(5)
	ack = c.connect(connectOpts{clientID: "", user: "p-alice", pass: goodA()})
	if ack.ReasonCode != 0 || !strings.HasPrefix(ack.Properties.AssignedClientID, "p-alice/") {
		t.Errorf("empty client id: CONNACK 0x%02x, assigned %q; want success under p-alice/", ack.ReasonCode, ack.Properties.AssignedClientID)
	}

	// Keepalive 0 is clamped and announced.
	c = e.newClient(5)
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
	pk.Connect = packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: "p-alice/ka",
		UsernameFlag: true, Username: []byte("p-alice"), PasswordFlag: true, Password: []byte(goodA())}
	c.send(pk)
	ack = c.expect(packets.Connack, 5*time.Second)
	if !ack.Properties.ServerKeepAliveFlag || ack.Properties.ServerKeepAlive != 60 {
		t.Errorf("keepalive 0: server keepalive %v/%d, want 60", ack.Properties.ServerKeepAliveFlag, ack.Properties.ServerKeepAlive)
	}
}

func TestACLOverWSS(t *testing.T) {
	e := newEnv(t, nil)
	a := e.login(panelA, "p-alice", 5)
	bob := e.login(panelB, "p-bob", 5)
	agent := e.login(agent1, "a-one", 5)

	H1 := h1.String()
	refused := []string{
		"#", "$SYS/#", "$SYS/broker/version", "mfd/v1/#",
		wire.ReplyTopic("p-bob"), wire.ReplyTopic("p-bob") + "/#", wire.TokenTopic("p-bob"),
		"mfd/v1/hosts/+/cmd/+", "mfd/v1/hosts/" + H1 + "/cmd/+", wire.CmdTopic(h1, "p-bob"),
		"$share/g/mfd/v1/hosts/+/status",
	}
	codes := a.subscribe(1, refused...)
	for i, f := range refused {
		if codes[i] != packets.ErrNotAuthorized.Code {
			t.Errorf("A subscribe %q: reason 0x%02x, want 0x87", f, codes[i])
		}
	}
	if codes := a.subscribe(2, "mfd/v1/hosts/+/status", wire.ReplyTopic("p-alice")+"/#"); codes[0] > 2 || codes[1] > 2 {
		t.Errorf("A subscribe own filters: reasons % x, want granted", codes)
	}
	if codes := agent.subscribe(3, "mfd/v1/hosts/"+H1+"/cmd/+"); codes[0] > 2 {
		t.Errorf("agent subscribe own cmd/+: reason 0x%02x, want granted", codes[0])
	}
	if codes := bob.subscribe(4, wire.ReplyTopic("p-bob")); codes[0] > 2 {
		t.Errorf("B subscribe own reply: reason 0x%02x", codes[0])
	}

	// A publishes into B's cmd topic and a host's retained status: refused.
	a.publish(10, wire.CmdTopic(h1, "p-bob"), []byte(`{"id":"x","op":"release.all"}`), 1, false, packets.Properties{})
	if ack := a.expect(packets.Puback, 5*time.Second); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Errorf("A publish to B's cmd: PUBACK 0x%02x, want 0x87", ack.ReasonCode)
	}
	a.publish(11, wire.StatusTopic(h1), []byte(`{"online":true}`), 1, true, packets.Properties{})
	if ack := a.expect(packets.Puback, 5*time.Second); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Errorf("A publish retained status: PUBACK 0x%02x, want 0x87", ack.ReasonCode)
	}
	// Own cmd with a response topic that is B's: refused.
	a.publish(12, wire.CmdTopic(h1, "p-alice"), []byte(`{}`), 1, false, packets.Properties{ResponseTopic: wire.ReplyTopic("p-bob")})
	if ack := a.expect(packets.Puback, 5*time.Second); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Errorf("A publish with B's response topic: PUBACK 0x%02x, want 0x87", ack.ReasonCode)
	}
	// QoS 0 into B's cmd topic: dropped, never delivered (checked below:
	// the agent's first message is A's own command).
	a.publish(0, wire.CmdTopic(h1, "p-bob"), []byte(`{"id":"y","op":"release.all"}`), 0, false, packets.Properties{})
	// Own cmd, forging mfd-sub: delivered to the agent with the real one.
	a.publish(13, wire.CmdTopic(h1, "p-alice"), []byte(`{"id":"1","op":"release.all"}`), 1, false,
		packets.Properties{User: []packets.UserProperty{{Key: wire.SubProperty, Val: "p-bob"}}, ResponseTopic: wire.ReplyTopic("p-alice") + "/r1"})
	if ack := a.expect(packets.Puback, 5*time.Second); ack.ReasonCode >= 0x80 {
		t.Errorf("A publish own cmd: PUBACK 0x%02x, want 0", ack.ReasonCode)
	}
	pk, ok := agent.nextPublish(5 * time.Second)
	if !ok || pk.TopicName != wire.CmdTopic(h1, "p-alice") {
		t.Fatalf("agent got %v %q, want the command", ok, pk.TopicName)
	}
	if got := userProp(pk, wire.SubProperty); len(got) != 1 || got[0] != "p-alice" {
		t.Errorf("mfd-sub on delivered command = %q, want [p-alice]", got)
	}

	// The agent replies to A: A gets it, B does not.
	agent.publish(20, wire.ReplyTopic("p-alice")+"/r1", []byte(`{"id":"1","ok":true}`), 1, false, packets.Properties{})
	agent.expect(packets.Puback, 5*time.Second)
	if pk, ok := a.nextPublish(5 * time.Second); !ok || pk.TopicName != wire.ReplyTopic("p-alice")+"/r1" {
		t.Errorf("A did not get its reply: %v %q", ok, pk.TopicName)
	}
	// The agent's retained status reaches A (subscribed to hosts/+/status).
	agent.publish(21, wire.StatusTopic(h1), []byte(`{"online":true}`), 1, true, packets.Properties{})
	if ack := agent.expect(packets.Puback, 5*time.Second); ack.ReasonCode >= 0x80 {
		t.Errorf("agent retained status: PUBACK 0x%02x, want 0", ack.ReasonCode)
	}
	if pk, ok := a.nextPublish(5 * time.Second); !ok || pk.TopicName != wire.StatusTopic(h1) {
		t.Errorf("A did not get the status: %v %q", ok, pk.TopicName)
	}
	if pk, ok := bob.nextPublish(300 * time.Millisecond); ok {
		t.Errorf("B got %q, which it never subscribed to", pk.TopicName)
	}
}

func TestRefusedPublishV3(t *testing.T) {
	e := newEnv(t, nil)
	a := e.login(panelA, "p-alice", 4)
	// Allowed topic, but retained: refused, and 3.1.1 has no negative
	// PUBACK, so the connection ends instead of waiting forever.
	a.publish(1, wire.CmdTopic(h1, "p-alice"), []byte(`{}`), 1, true, packets.Properties{})
	if got, closed := a.closed(3 * time.Second); !closed {
		t.Errorf("3.1.1 refused QoS 1 publish: connection open, got %v", got)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, nil)
	a5 := e.login(panelA, "p-alice/tab1", 5)
	a3 := e.login(panelA, "p-alice/tab2", 4)
	// A persistent session, disconnected: it must not survive revocation.
	ap := e.newClient(5)
	if ack := ap.connect(connectOpts{clientID: "p-alice/persist", user: "p-alice", pass: e.auth.issue(panelA), expiry: 600}); ack.ReasonCode != 0 {
		t.Fatalf("persistent CONNACK 0x%02x", ack.ReasonCode)
	}
	ap.subscribe(1, wire.ReplyTopic("p-alice"))
	ap.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	bob := e.login(panelB, "p-bob", 5)
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if cl, ok := e.b.server.Clients.Get("p-alice/persist"); !ok || !cl.Closed() {
			return fmt.Errorf("persistent session not yet disconnected-but-kept")
		}
		return nil
	})

	start := time.Now()
	e.b.Revoke(panelA.Sub)
	got, closed := a5.closed(time.Second)
	if !closed {
		t.Fatalf("v5 session still open a second after Revoke")
	}
	if len(got) == 0 || got[len(got)-1].FixedHeader.Type != packets.Disconnect || got[len(got)-1].ReasonCode != 0x98 {
		t.Errorf("v5 session got %v before close, want DISCONNECT 0x98", got)
	}
	if _, closed := a3.closed(time.Second); !closed {
		t.Errorf("v3.1.1 session still open after Revoke")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("revocation took %v", d)
	}
	checkFor(t, time.Second, 10*time.Millisecond, func() error {
		for id := range e.b.server.Clients.GetAll() {
			if strings.HasPrefix(id, "p-alice") {
				return fmt.Errorf("client %q still known after Revoke", id)
			}
		}
		return nil
	})
	// Others are unaffected.
	var buf bytes.Buffer
	_ = (&packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}).PingreqEncode(&buf)
	bob.write(buf.Bytes())
	bob.expect(packets.Pingresp, 5*time.Second)
}

func TestOriginAndSubprotocol(t *testing.T) {
	e := newEnv(t, nil)
	_, resp, err := e.dialWS([]string{"mqtt"}, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: err %v, response %v; want 403", err, resp)
	}
	_, resp, err = e.dialWS(nil, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no subprotocol: err %v, response %v; want 400", err, resp)
	}
	_, resp, err = e.dialWS([]string{"mqttv3.1"}, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("other subprotocol: err %v, response %v; want 400", err, resp)
	}
	host := strings.TrimPrefix(e.srv.URL, "https://")
	c, _, err := e.dialWS([]string{"mqtt"}, http.Header{"Origin": {"https://" + host}})
	if err != nil {
		t.Fatalf("own Origin refused: %v", err)
	}
	_ = c.Close()
}

func TestExpiryAndRotation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Grace = 300 * time.Millisecond })
	e.auth.ttl = 1500 * time.Millisecond
	a := e.login(panelA, "p-alice", 5)
	start := time.Now()
	if codes := a.subscribe(1, wire.TokenTopic("p-alice")); codes[0] > 2 {
		t.Fatalf("subscribe token topic: 0x%02x", codes[0])
	}
	pk, ok := a.nextPublish(3 * time.Second)
	if !ok || pk.TopicName != wire.TokenTopic("p-alice") {
		t.Fatalf("no token rotated: %v %q", ok, pk.TopicName)
	}
	var msg wire.TokenMsg
	if err := json.Unmarshal(pk.Payload, &msg); err != nil || msg.Token == "" || msg.ExpiresAt.IsZero() {
		t.Errorf("token message %s: %v", pk.Payload, err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("token rotated after %v, want about 2/3 of 1.5s", d)
	}
	got, closed := a.closed(3 * time.Second)
	if !closed {
		t.Fatalf("session alive past token expiry plus grace")
	}
	if len(got) == 0 || got[len(got)-1].FixedHeader.Type != packets.Disconnect || got[len(got)-1].ReasonCode != 0xA0 {
		t.Errorf("got %v before close, want DISCONNECT 0xA0", got)
	}
	// The rotated token connects.
	c := e.newClient(5)
	if ack := c.connect(connectOpts{clientID: "p-alice", user: "p-alice", pass: msg.Token}); ack.ReasonCode != 0 {
		t.Errorf("reconnect with rotated token: 0x%02x", ack.ReasonCode)
	}
}

func TestReauthInBand(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Grace = 200 * time.Millisecond })
	e.auth.ttl = time.Second
	a := e.login(panelA, "p-alice", 5)
	e.auth.ttl = time.Hour
	tok := e.auth.issue(panelA)
	a.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Auth},
		ReasonCode:  packets.CodeReAuthenticate.Code,
		Properties:  packets.Properties{AuthenticationMethod: wire.AuthMethod, AuthenticationData: []byte(tok)},
	})
	if ack := a.expect(packets.Auth, 5*time.Second); ack.ReasonCode != 0 {
		t.Fatalf("AUTH answer 0x%02x, want success", ack.ReasonCode)
	}
	if got, closed := a.closed(2 * time.Second); closed {
		t.Errorf("session closed at the old token's expiry despite re-authentication; got %v", got)
	}
}

func TestTruncatedSubscribe(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.login(panelB, "p-bob", 5)
	bad := e.login(panelA, "p-alice", 5)
	// mochi #501: the option byte after the filter is missing.
	bad.write([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'})
	if _, closed := bad.closed(3 * time.Second); !closed {
		t.Fatalf("connection with a truncated SUBSCRIBE still open")
	}
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(e.logs.String(), "mqtt connection panicked") {
			return fmt.Errorf("the truncated SUBSCRIBE did not reach the recover path (fixed upstream?)")
		}
		return nil
	})
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if _, ok := e.b.server.Clients.Get("p-alice"); ok {
			return fmt.Errorf("ghost client p-alice left in server.Clients")
		}
		return nil
	})
	if codes := bob.subscribe(1, wire.ReplyTopic("p-bob")); codes[0] > 2 {
		t.Errorf("server no longer serving others: 0x%02x", codes[0])
	}
	e.login(panelA, "p-alice", 5) // and A may come back
}

func TestHugeHeaderPreAuth(t *testing.T) {
	e := newEnv(t, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 5; i++ {
		c := e.newClient(5)
		c.write([]byte{0x10, 0xff, 0xff, 0xff, 0x7f})
		if _, closed := c.closed(3 * time.Second); !closed {
			t.Fatalf("connection announcing 256 MiB still open")
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("allocated %d MiB answering 5 huge headers", grew>>20)
	}
	e.login(panelA, "p-alice", 5)
}

func TestSilentSockets(t *testing.T) {
	for _, clamp := range []bool{true, false} {
		t.Run(fmt.Sprintf("clamp=%v", clamp), func(t *testing.T) { testSilentSockets(t, clamp) })
	}
}

func testSilentSockets(t *testing.T, clamp bool) {
	e := newEnvWiring(t, func(o *Options) { o.HandshakeTimeout = time.Second; o.MaxConnsPerIP = -1 }, clamp)
	addr := e.srv.Listener.Addr().String()
	var conns []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Some get further: TLS and WebSocket done, then silence before CONNECT.
	var silentWS []*client
	for i := 0; i < 5; i++ {
		silentWS = append(silentWS, e.newClient(5))
	}
	// A real client is served meanwhile.
	e.login(panelA, "p-alice", 5)

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				errs <- fmt.Errorf("silent socket %d got data", i)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				errs <- fmt.Errorf("silent socket %d not closed by the server", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, c := range silentWS {
		if _, closed := c.closed(5 * time.Second); !closed {
			t.Errorf("silent WebSocket %d not closed", i)
		}
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("silent sockets took %v to close, deadline 1s", d)
	}
}

func TestLongRequestOutlivesHandshakeDeadline(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.HandshakeTimeout = time.Second })
	c := e.srv.Client()
	defer c.CloseIdleConnections()
	resp, err := c.Get(e.srv.URL + "/hold")
	if err != nil {
		t.Fatalf("GET /hold: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "held" {
		t.Errorf("GET /hold = %q, %v; want held (a released connection must outlive the handshake deadline)", body, err)
	}
}

func TestPresence(t *testing.T) {
	e := newEnv(t, nil)
	agent := e.login(agent1, "a-one", 5)
	if codes := agent.subscribe(1, "mfd/v1/clients/+/presence"); codes[0] > 2 {
		t.Fatalf("agent subscribe presence: 0x%02x", codes[0])
	}
	t1 := e.login(panelA, "p-alice/1", 5)
	t2 := e.login(panelA, "p-alice/2", 4)
	_ = t1.c.Close()
	if pk, ok := agent.nextPublish(500 * time.Millisecond); ok {
		t.Errorf("presence %q %s published while a session is still live", pk.TopicName, pk.Payload)
	}
	_ = t2.c.Close()
	pk, ok := agent.nextPublish(5 * time.Second)
	if !ok || pk.TopicName != wire.PresenceTopic("p-alice") {
		t.Fatalf("no presence after last session: %v %q", ok, pk.TopicName)
	}
	var p wire.Presence
	if err := json.Unmarshal(pk.Payload, &p); err != nil || p.Online {
		t.Errorf("presence payload %s, want online false", pk.Payload)
	}
}

func TestExtraListenersAndPipe(t *testing.T) {
	srvTLS := newEnv(t, nil).srv.TLS // borrow the httptest certificate
	e := newEnv(t, func(o *Options) {
		o.TLSConfig = srvTLS
		o.MQTTTLSAddr = "127.0.0.1:0"
		o.MQTTLocalAddr = "127.0.0.1:0"
		o.HandshakeTimeout = time.Second
	})
	// MQTT over TLS on TCP.
	tc, err := tls.Dial("tcp", e.b.Addr(ListenerTLS), e.tlsConfig())
	if err != nil {
		t.Fatalf("dialling mqtt-tls: %v", err)
	}
	c := wrapClient(t, tc, 5)
	if ack := c.connect(connectOpts{clientID: "i-ha", user: "i-ha", pass: e.auth.issue(integ)}); ack.ReasonCode != 0 {
		t.Errorf("mqtt-tls CONNACK 0x%02x", ack.ReasonCode)
	}
	// Truncated SUBSCRIBE and huge header there too.
	tc2, err := tls.Dial("tcp", e.b.Addr(ListenerTLS), e.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	c2 := wrapClient(t, tc2, 5)
	c2.write([]byte{0x10, 0xff, 0xff, 0xff, 0x7f})
	if _, closed := c2.closed(3 * time.Second); !closed {
		t.Errorf("mqtt-tls: huge header left open")
	}
	tc3, err := tls.Dial("tcp", e.b.Addr(ListenerTLS), e.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	c6 := wrapClient(t, tc3, 5)
	if ack := c6.connect(connectOpts{clientID: "p-alice", user: "p-alice", pass: e.auth.issue(panelA)}); ack.ReasonCode != 0 {
		t.Fatalf("mqtt-tls CONNACK 0x%02x", ack.ReasonCode)
	}
	c6.write([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'})
	if _, closed := c6.closed(3 * time.Second); !closed {
		t.Errorf("mqtt-tls: truncated SUBSCRIBE left open")
	}
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if _, ok := e.b.server.Clients.Get("p-alice"); ok {
			return fmt.Errorf("mqtt-tls: ghost client p-alice left in server.Clients")
		}
		return nil
	})
	// A silent TCP socket is closed by the deadline.
	raw, err := net.Dial("tcp", e.b.Addr(ListenerTLS))
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(4 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("silent mqtt-tls socket: %v, want closed by the server", err)
	}
	_ = raw.Close()

	// Plain MQTT on loopback.
	lc, err := net.Dial("tcp", e.b.Addr(ListenerTCP))
	if err != nil {
		t.Fatalf("dialling mqtt-local: %v", err)
	}
	c3 := wrapClient(t, lc, 4)
	if ack := c3.connect(connectOpts{clientID: "p-alice", user: "p-alice", pass: "forged"}); ack.ReasonCode != 0x04 {
		t.Errorf("mqtt-local bad token v3.1.1: 0x%02x, want 0x04", ack.ReasonCode)
	}

	// In-process pipe.
	pc, err := e.b.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c4 := wrapClient(t, pc, 5)
	if ack := c4.connect(connectOpts{clientID: "a-one", user: "a-one", pass: e.auth.issue(agent1)}); ack.ReasonCode != 0 {
		t.Errorf("pipe CONNACK 0x%02x", ack.ReasonCode)
	}
	pc2, _ := e.b.Pipe()
	c5 := wrapClient(t, pc2, 5)
	if ack := c5.connect(connectOpts{clientID: "a-one", user: "a-one", pass: "forged"}); ack.ReasonCode != 0x86 {
		t.Errorf("pipe with bad token: 0x%02x, want 0x86", ack.ReasonCode)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestNewRefusesNonLoopbackLocal(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:1883", ":1883", "192.168.1.2:1883", "example.com:1883"} {
		_, err := New(Options{Authenticator: newFakeAuth(time.Hour), Logger: slog.New(slog.DiscardHandler), MQTTLocalAddr: addr})
		if err == nil {
			t.Errorf("New(MQTTLocalAddr: %q) = nil error, want refusal", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:1883", "[::1]:1883", "localhost:1883"} {
		b, err := New(Options{Authenticator: newFakeAuth(time.Hour), Logger: slog.New(slog.DiscardHandler), MQTTLocalAddr: addr})
		if err != nil {
			t.Errorf("New(MQTTLocalAddr: %q) = %v, want ok", addr, err)
			continue
		}
		_ = b.Close()
	}
}

func TestCloseIdempotentAndBeforeStart(t *testing.T) {
	b, err := New(Options{Authenticator: newFakeAuth(time.Hour), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Start(t.Context()); err == nil {
		t.Errorf("Start after Close succeeded")
	}
	if _, err := b.Pipe(); err == nil {
		t.Errorf("Pipe after Close succeeded")
	}
}

func TestAgentWill(t *testing.T) {
	e := newEnv(t, nil)
	panel := e.login(panelA, "p-alice", 5)
	if codes := panel.subscribe(1, "mfd/v1/hosts/+/status"); codes[0] > 2 {
		t.Fatalf("panel subscribe status: 0x%02x", codes[0])
	}
	ag := e.newClient(5)
	will := &packets.Packet{TopicName: wire.StatusTopic(h1), Payload: []byte(`{"online":false}`), FixedHeader: packets.FixedHeader{Retain: true}}
	if ack := ag.connect(connectOpts{clientID: "a-one", user: "a-one", pass: e.auth.issue(agent1), will: will}); ack.ReasonCode != 0 {
		t.Fatalf("agent CONNACK 0x%02x", ack.ReasonCode)
	}
	_ = ag.c.Close() // gone without DISCONNECT: the Will goes out
	pk, ok := panel.nextPublish(5 * time.Second)
	if !ok || pk.TopicName != wire.StatusTopic(h1) || string(pk.Payload) != `{"online":false}` {
		t.Fatalf("panel got %v %q %s, want the agent's Will", ok, pk.TopicName, pk.Payload)
	}
	if got := userProp(pk, wire.SubProperty); len(got) != 1 || got[0] != "a-one" {
		t.Errorf("Will mfd-sub = %q, want [a-one]", got)
	}
	// Retained: a later subscriber sees it too.
	late := e.login(panelB, "p-bob", 5)
	late.subscribe(1, wire.StatusTopic(h1))
	if pk, ok := late.nextPublish(5 * time.Second); !ok || string(pk.Payload) != `{"online":false}` {
		t.Errorf("late subscriber got %v %s, want the retained Will", ok, pk.Payload)
	}
}
