package broker

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/wire"
)

// pahoClient connects a paho.golang client (what the agent uses) over c.
func pahoClient(t *testing.T, e *env, c net.Conn, id authn.Identity, clientID string, recv chan<- *paho.Publish, onDisc func(*paho.Disconnect)) *paho.Client {
	t.Helper()
	pc := paho.NewClient(paho.ClientConfig{
		// As the agent does: paho's pinger writes PINGREQ from its own
		// goroutine, and over a conn without writev (net.Pipe, TLS) it
		// could land inside another packet unless the conn is a Locker.
		Conn: packets.NewThreadSafeConn(c),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if recv != nil {
				select {
				case recv <- pr.Packet:
				default:
				}
			}
			return true, nil
		}},
		OnServerDisconnect: onDisc,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ack, err := pc.Connect(ctx, &paho.Connect{
		ClientID: clientID, KeepAlive: 30, CleanStart: true,
		Username: string(id.Sub), UsernameFlag: true,
		Password: []byte(e.auth.issue(id)), PasswordFlag: true,
	})
	if err != nil {
		t.Fatalf("paho connect %s: %v (%+v)", clientID, err, ack)
	}
	t.Cleanup(func() {
		_ = pc.Disconnect(&paho.Disconnect{})
		<-pc.Done()
	})
	return pc
}

// TestPaho runs the agent's client library against the broker: the agent
// over Pipe, a panel over WSS.
func TestPaho(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	pipe, err := e.b.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmds := make(chan *paho.Publish, 4)
	agent := pahoClient(t, e, pipe, agent1, "a-one", cmds, nil)
	sa, err := agent.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "mfd/v1/hosts/" + h1.String() + "/cmd/+", QoS: 1},
	}})
	if err != nil || sa.Reasons[0] > 2 {
		t.Fatalf("agent subscribe: %v %+v", err, sa)
	}

	ws, _, err := e.dialWS([]string{"mqtt"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	disc := make(chan *paho.Disconnect, 1)
	panel := pahoClient(t, e, ws, panelA, "p-alice/paho", nil, func(d *paho.Disconnect) { disc <- d })

	sa, _ = panel.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "#", QoS: 1}}})
	if sa == nil || sa.Reasons[0] != 0x87 {
		t.Errorf("panel subscribe #: %+v, want 0x87", sa)
	}

	props := &paho.PublishProperties{ResponseTopic: wire.ReplyTopic("p-alice")}
	props.User.Add(wire.SubProperty, "a-one")
	pr, err := panel.Publish(ctx, &paho.Publish{Topic: wire.CmdTopic(h1, "p-alice"), QoS: 1,
		Payload: []byte(`{"id":"1","op":"release.all"}`), Properties: props})
	if err != nil || pr.ReasonCode >= 0x80 {
		t.Fatalf("panel publish own cmd: %v %+v", err, pr)
	}
	select {
	case p := <-cmds:
		if got := p.Properties.User.Get(wire.SubProperty); got != "p-alice" {
			t.Errorf("agent sees mfd-sub %q, want p-alice", got)
		}
		if p.Properties.ResponseTopic != wire.ReplyTopic("p-alice") {
			t.Errorf("agent sees response topic %q", p.Properties.ResponseTopic)
		}
	case <-ctx.Done():
		t.Fatal("agent got no command")
	}

	pr, err = panel.Publish(ctx, &paho.Publish{Topic: wire.CmdTopic(h1, "p-bob"), QoS: 1, Payload: []byte(`{}`)})
	if err == nil && (pr == nil || pr.ReasonCode < 0x80) {
		t.Errorf("panel publish B's cmd: %+v, want refused", pr)
	}

	e.b.Revoke(panelA.Sub)
	select {
	case d := <-disc:
		if d.ReasonCode != 0x98 {
			t.Errorf("revoked panel: DISCONNECT 0x%02x, want 0x98", d.ReasonCode)
		}
	case <-time.After(time.Second):
		t.Errorf("revoked panel got no DISCONNECT within a second")
	}
}
