package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/mosqtest"
	"github.com/openmfd/mfd/internal/wire"
)

// startMosquitto runs a private Mosquitto with password auth on a free
// loopback port and returns its address.
func startMosquitto(t *testing.T, users map[string]string) string {
	t.Helper()
	return mosqtest.Run(t, mosqtest.Options{Users: users}).Addr
}

// mqttClient is a plain paho client standing in for a panel.
type mqttClient struct {
	t   *testing.T
	cli *paho.Client
	mu  sync.Mutex
	got []*paho.Publish
}

func dialClient(t *testing.T, addr, user, pass, clientID string) *mqttClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	mc := &mqttClient{t: t}
	mc.cli = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			mc.mu.Lock()
			mc.got = append(mc.got, pr.Packet)
			mc.mu.Unlock()
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := mc.cli.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: true}); err != nil {
		t.Fatalf("connecting the test client: %v", err)
	}
	t.Cleanup(func() {
		_ = mc.cli.Disconnect(&paho.Disconnect{})
		<-mc.cli.Done()
	})
	return mc
}

func (mc *mqttClient) subscribe(topics ...string) {
	mc.t.Helper()
	var subs []paho.SubscribeOptions
	for _, tp := range topics {
		subs = append(subs, paho.SubscribeOptions{Topic: tp, QoS: 1, RetainAsPublished: true})
	}
	if _, err := mc.cli.Subscribe(mc.t.Context(), &paho.Subscribe{Subscriptions: subs}); err != nil {
		mc.t.Fatalf("subscribing: %v", err)
	}
}

// waitFor waits for a message on topic matching fn and returns it.
func (mc *mqttClient) waitFor(topic string, fn func(*paho.Publish) bool) *paho.Publish {
	mc.t.Helper()
	var found *paho.Publish
	checkFor(mc.t, 10*time.Second, 5*time.Millisecond, func() error {
		mc.mu.Lock()
		defer mc.mu.Unlock()
		for i, p := range mc.got {
			if p.Topic == topic && fn(p) {
				found = p
				mc.got = append(mc.got[:i:i], mc.got[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("no matching message on %s yet", topic)
	})
	return found
}

func statusIs(online bool) func(*paho.Publish) bool {
	return func(p *paho.Publish) bool {
		var s wire.Status
		return json.Unmarshal(p.Payload, &s) == nil && s.Online == online
	}
}

func TestAgentAgainstMosquitto(t *testing.T) {
	addr := startMosquitto(t, map[string]string{"agent": "agent-pw", "p-panel": "panel-pw"})
	inj := &fakeInjector{}
	var refuse atomic.Bool
	u, _ := url.Parse("mqtt://" + addr)
	a, err := New(Options{
		Host: testHost, Name: "desk", Version: "test", Injector: inj, Logger: testLogger(t),
		Config: &Config{Actions: []Action{{ID: "hello", Label: "Hello", Steps: []Step{{Op: wire.OpKeyTap, cmd: command{Op: wire.OpKeyTap, Key: "h"}}}}}},
		Conn: ConnOptions{
			Servers: []*url.URL{u},
			Credentials: func(context.Context) (string, string, error) {
				if refuse.Load() {
					return "", "", errors.New("no credentials for now")
				}
				return "agent", "agent-pw", nil
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	panel := dialClient(t, addr, "p-panel", "panel-pw", "p-panel/tab")
	const sub = ids.Subject("p-panel")
	panel.subscribe(wire.StatusTopic(testHost), wire.ActionsTopic(testHost), wire.InputTopic(testHost), wire.ReplyTopic(sub)+"/#", wire.ReplyTopic(sub))

	st := panel.waitFor(wire.StatusTopic(testHost), statusIs(true))
	var s wire.Status
	_ = json.Unmarshal(st.Payload, &s)
	if !st.Retain || s.Host != testHost || s.Name != "desk" || s.Input != "fake" || s.Screen == nil || s.Screen.W != 1920 {
		t.Errorf("status = %s (retain %v)", st.Payload, st.Retain)
	}
	panel.waitFor(wire.ActionsTopic(testHost), func(p *paho.Publish) bool { return strings.Contains(string(p.Payload), `"id":"hello"`) })
	panel.waitFor(wire.InputTopic(testHost), func(p *paho.Publish) bool { return string(p.Payload) == "ON" })

	// The subscriptions are made asynchronously after the connect; send
	// until the first command is answered.
	rt := wire.ReplyTopic(sub) + "/tab"
	send := func(payload string, corr string, respTopic string) {
		exp := uint32(10)
		p := &paho.Publish{Topic: wire.CmdTopic(testHost, sub), QoS: 1, Payload: []byte(payload),
			Properties: &paho.PublishProperties{MessageExpiry: &exp, ResponseTopic: respTopic, CorrelationData: []byte(corr)}}
		if _, err := panel.cli.Publish(t.Context(), p); err != nil {
			t.Fatalf("publishing: %v", err)
		}
	}
	send(`{"id":"c1","op":"key.tap","key":"a","mods":["ctrl"]}`, "corr-1", rt)
	r := panel.waitFor(rt, func(p *paho.Publish) bool { return string(p.Properties.CorrelationData) == "corr-1" })
	if string(r.Payload) != `{"id":"c1","ok":true}` {
		t.Errorf("reply = %s", r.Payload)
	}
	// The same id again: answered, not run.
	send(`{"id":"c1","op":"key.tap","key":"a","mods":["ctrl"]}`, "corr-2", rt)
	panel.waitFor(rt, func(p *paho.Publish) bool { return string(p.Properties.CorrelationData) == "corr-2" })
	// No response topic: the client's reply topic.
	send(`{"id":"c2","op":"key.fly"}`, "", "")
	r = panel.waitFor(wire.ReplyTopic(sub), func(*paho.Publish) bool { return true })
	if !strings.Contains(string(r.Payload), `"code":"unknown_op"`) {
		t.Errorf("reply to an unknown op = %s", r.Payload)
	}
	// A press, then a held key. An action runs beside the command lane,
	// so wait for its step before the key.down, whose order would
	// otherwise be the scheduler's.
	if _, err := panel.cli.Publish(t.Context(), &paho.Publish{Topic: wire.PressTopic(testHost, "hello"), QoS: 1, Payload: []byte("PRESS")}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := strings.Join(inj.Calls(), ", "); got != "tap a [ctrl], tap h []" {
			return fmt.Errorf("calls: %s", got)
		}
		return nil
	})
	send(`{"id":"c3","op":"key.down","key":"shift"}`, "corr-3", rt)
	panel.waitFor(rt, func(p *paho.Publish) bool { return string(p.Properties.CorrelationData) == "corr-3" })
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := strings.Join(inj.Calls(), ", "); got != "tap a [ctrl], tap h [], down shift" {
			return fmt.Errorf("calls: %s", got)
		}
		return nil
	})

	// The agent's connection dies without a DISCONNECT and it cannot come
	// back: the broker publishes the Will, and the held key is released.
	refuse.Store(true)
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	conn.Close()
	panel.waitFor(wire.StatusTopic(testHost), statusIs(false))
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if c := inj.Calls(); c[len(c)-1] != "up shift" {
			return fmt.Errorf("calls: %v", c)
		}
		return nil
	})

	// It comes back on its own, with fresh credentials.
	refuse.Store(false)
	panel.waitFor(wire.StatusTopic(testHost), statusIs(true))

	// Close publishes offline.
	a.Close()
	panel.waitFor(wire.StatusTopic(testHost), statusIs(false))
}

func TestAgentWrongPasswordRetries(t *testing.T) {
	addr := startMosquitto(t, map[string]string{"agent": "agent-pw"})
	var attempts atomic.Int32
	u, _ := url.Parse("mqtt://" + addr)
	a, err := New(Options{Host: testHost, Injector: &fakeInjector{}, Logger: testLogger(t),
		Conn: ConnOptions{Servers: []*url.URL{u}, Credentials: func(context.Context) (string, string, error) {
			attempts.Add(1)
			return "agent", "wrong", nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Backoff starts small: several attempts within a second or two.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := attempts.Load(); n < 4 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	a.Close()
}

// TestAgentKilledLeavesWill runs an agent in a child process, kills it
// with SIGKILL, and checks that the broker marks the host offline with
// the agent's retained Will.
func TestAgentKilledLeavesWill(t *testing.T) {
	addr := startMosquitto(t, map[string]string{"agent": "agent-pw", "p-panel": "panel-pw"})
	panel := dialClient(t, addr, "p-panel", "panel-pw", "p-panel/tab")
	panel.subscribe(wire.StatusTopic(testHost))
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentHelperProcess$")
	cmd.Env = append(os.Environ(), "MFD_AGENT_HELPER_BROKER="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	panel.waitFor(wire.StatusTopic(testHost), statusIs(true))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	panel.waitFor(wire.StatusTopic(testHost), statusIs(false))
	// A client that arrives later finds the retained offline status.
	late := dialClient(t, addr, "p-panel", "panel-pw", "p-panel/late")
	late.subscribe(wire.StatusTopic(testHost))
	st := late.waitFor(wire.StatusTopic(testHost), statusIs(false))
	if !st.Retain {
		t.Errorf("the Will's status is not retained")
	}
}

// TestAgentHelperProcess is the child of TestAgentKilledLeavesWill; it
// does nothing unless run by it.
func TestAgentHelperProcess(t *testing.T) {
	addr := os.Getenv("MFD_AGENT_HELPER_BROKER")
	if addr == "" {
		return
	}
	u, _ := url.Parse("mqtt://" + addr)
	a, err := New(Options{Host: testHost, Injector: &fakeInjector{}, Conn: ConnOptions{Servers: []*url.URL{u},
		Credentials: func(context.Context) (string, string, error) { return "agent", "agent-pw", nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {} // until killed
}
