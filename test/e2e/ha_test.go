package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/xtest"
)

// This file plays Home Assistant's part: its stock MQTT integration speaks
// MQTT 3.1.1 over TLS on TCP (`--mqtt-tls`) with the username and password
// of `mfd clients add-integration`, a client identifier the user sets to
// the username, its default Will ("offline" on homeassistant/status) and
// birth message ("online" there), and it subscribes to the discovery
// prefix as it does.

// haAction is the host config's action that types "ha"; haToggle is a
// toggle whose state probe tests a flag file the test flips.
const (
	haAction = "type-ha"
	haToggle = "mic-muted"
)

// haConfig is the host config, with the toggle's flag file.
func haConfig(flag string) string {
	return `actions:
  - id: ` + haAction + `
    label: Type ha
    steps:
      - {op: text.type, text: "ha"}
  - id: ` + haToggle + `
    label: Mic muted
    icon: mdi:microphone-off
    steps:
      - {op: key.tap, key: f13}
    state:
      exec: [test, -e, "` + flag + `"]
      every: 500ms
`
}

// haTyped is what xev sees when the action runs.
var haTyped = xtest.Seq(xtest.KeyTap("0x68"), xtest.KeyTap("0x61"))

// haMsg is one PUBLISH an asyncClient received.
type haMsg struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

func (m haMsg) String() string {
	return fmt.Sprintf("{%s retain=%v %q}", m.topic, m.retain, m.payload)
}

// haWill is a CONNECT's Will.
type haWill struct {
	topic   string
	payload string
	retain  bool
}

// asyncClient is an MQTT client that reads in the background, so that a
// test can publish while messages arrive, and look back at every message
// it was sent. It speaks 3.1.1 or 5 over any net.Conn.
type asyncClient struct {
	t    *testing.T
	name string
	rc   *rawClient // its reader belongs to the read loop once connected
	v5   bool

	wmu    sync.Mutex
	nextID uint16

	mu   sync.Mutex
	msgs []haMsg
	end  error

	acks chan packet // PUBACK and SUBACK
	done chan struct{}
}

// haConnectPacket is connectPacket with an optional Will.
func haConnectPacket(v5 bool, clientID, user, pass string, will *haWill) []byte {
	var b bytes.Buffer
	b.Write(encStr("MQTT"))
	if v5 {
		b.WriteByte(5)
	} else {
		b.WriteByte(4)
	}
	flags := byte(0x02 | 0x80 | 0x40) // clean start, username, password
	if will != nil {
		flags |= 0x04
		if will.retain {
			flags |= 0x20
		}
	}
	b.WriteByte(flags)
	b.Write([]byte{0, 60}) // keepalive 60 s, Home Assistant's default
	if v5 {
		b.WriteByte(0)
	}
	b.Write(encStr(clientID))
	if will != nil {
		if v5 {
			b.WriteByte(0)
		}
		b.Write(encStr(will.topic))
		b.Write(encStr(will.payload))
	}
	b.Write(encStr(user))
	b.Write(encStr(pass))
	return frame(0x10, b.Bytes())
}

// dialAsync connects over conn and returns the client and the CONNACK
// code; a client refused is nil. The connection closes when the test ends.
func dialAsync(t *testing.T, name string, conn net.Conn, v5 bool, clientID, user, pass string, will *haWill) (*asyncClient, byte) {
	t.Helper()
	c := &asyncClient{t: t, name: name, rc: newRaw(conn, v5), v5: v5,
		acks: make(chan packet, 64), done: make(chan struct{})}
	if err := c.rc.send(haConnectPacket(v5, clientID, user, pass, will)); err != nil {
		t.Fatalf("%s: sending CONNECT: %v", name, err)
	}
	p, err := c.rc.read(5 * time.Second)
	if err != nil || p.typ != 2 || len(p.body) < 2 {
		t.Fatalf("%s: want CONNACK, got type %d (%v)", name, p.typ, err)
	}
	if code := p.body[1]; code != 0 {
		conn.Close()
		return nil, code
	}
	go c.readLoop()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	return c, 0
}

func (c *asyncClient) readLoop() {
	defer close(c.done)
	for {
		p, err := c.rc.read(time.Hour)
		if err != nil {
			c.finish(err)
			return
		}
		switch p.typ {
		case 3:
			m, id, err := c.decode(p)
			if err != nil {
				c.finish(err)
				return
			}
			if m.qos == 1 {
				_ = c.write(frame(0x40, []byte{byte(id >> 8), byte(id)}))
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		case 4, 9:
			c.acks <- p
		case 14:
			reason := byte(0)
			if len(p.body) > 0 {
				reason = p.body[0]
			}
			c.finish(fmt.Errorf("server sent DISCONNECT %#x", reason))
			return
		}
	}
}

func (c *asyncClient) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end == nil {
		c.end = err
	}
}

func (c *asyncClient) decode(p packet) (haMsg, uint16, error) {
	m := haMsg{qos: (p.flags >> 1) & 3, retain: p.flags&1 == 1}
	b := p.body
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return m, 0, errors.New("short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(b))
	m.topic, b = string(b[2:2+n]), b[2+n:]
	var id uint16
	if m.qos > 0 {
		if len(b) < 2 {
			return m, 0, errors.New("short PUBLISH")
		}
		id, b = binary.BigEndian.Uint16(b), b[2:]
	}
	if c.v5 {
		pl, k := binary.Uvarint(b)
		if k <= 0 || int(pl) > len(b)-k {
			return m, 0, errors.New("bad PUBLISH properties")
		}
		b = b[k+int(pl):]
	}
	m.payload = b
	return m, id, nil
}

func (c *asyncClient) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.rc.send(b)
}

func (c *asyncClient) id() uint16 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// closed reports whether the connection has ended, and why.
func (c *asyncClient) closed() (bool, error) {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, c.end
	default:
		return false, nil
	}
}

// ack waits for the PUBACK or SUBACK (typ) of packet id.
func (c *asyncClient) ack(typ byte, id uint16) (packet, error) {
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-c.acks:
			if p.typ == typ && len(p.body) >= 2 && binary.BigEndian.Uint16(p.body) == id {
				return p, nil
			}
		case <-c.done:
			_, err := c.closed()
			return packet{}, fmt.Errorf("connection ended: %v", err)
		case <-timeout:
			return packet{}, fmt.Errorf("no answer to packet %d after 5s", id)
		}
	}
}

// subscribe subscribes to filter with subscription options opts (the
// QoS, plus 0x08 for Retain As Published on v5) and fails the test unless
// the SUBACK grants it.
func (c *asyncClient) subscribe(filter string, opts byte) {
	c.t.Helper()
	id := c.id()
	var b bytes.Buffer
	b.Write([]byte{byte(id >> 8), byte(id)})
	if c.v5 {
		b.WriteByte(0)
	}
	b.Write(encStr(filter))
	b.WriteByte(opts)
	if err := c.write(frame(0x82, b.Bytes())); err != nil {
		c.t.Fatalf("%s: SUBSCRIBE %s: %v", c.name, filter, err)
	}
	p, err := c.ack(9, id)
	if err != nil {
		c.t.Fatalf("%s: SUBSCRIBE %s: %v", c.name, filter, err)
	}
	i := 2
	if c.v5 {
		pl, k := binary.Uvarint(p.body[2:])
		i += k + int(pl)
	}
	if i >= len(p.body) || p.body[i] >= 0x80 {
		c.t.Fatalf("%s: SUBSCRIBE %s refused: SUBACK % x", c.name, filter, p.body)
	}
}

// publish sends a PUBLISH. At QoS 1 it waits for the PUBACK and returns
// its reason code (0 on 3.1.1), or an error when the server hung up
// instead.
func (c *asyncClient) publish(topic string, payload []byte, qos byte, retain bool) (byte, error) {
	var id uint16
	var b bytes.Buffer
	b.Write(encStr(topic))
	if qos > 0 {
		id = c.id()
		b.Write([]byte{byte(id >> 8), byte(id)})
	}
	if c.v5 {
		b.WriteByte(0)
	}
	b.Write(payload)
	first := byte(0x30) | qos<<1
	if retain {
		first |= 1
	}
	if err := c.write(frame(first, b.Bytes())); err != nil {
		return 0, err
	}
	if qos == 0 {
		return 0, nil
	}
	p, err := c.ack(4, id)
	if err != nil {
		return 0, err
	}
	if len(p.body) > 2 {
		return p.body[2], nil
	}
	return 0, nil
}

// mustPublish publishes and fails the test unless the server took it.
func (c *asyncClient) mustPublish(topic string, payload []byte, qos byte) {
	c.t.Helper()
	code, err := c.publish(topic, payload, qos, false)
	if err != nil || code >= 0x80 {
		c.t.Fatalf("%s: PUBLISH %s %q = %#x, %v; want it accepted", c.name, topic, payload, code, err)
	}
}

// mark returns how many messages have arrived so far, for since.
func (c *asyncClient) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// since returns the messages that arrived after mark.
func (c *asyncClient) since(mark int) []haMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs[mark:])
}

// waitMsg polls until a message after mark satisfies ok, and returns the
// first that does.
func (c *asyncClient) waitMsg(what string, mark int, ok func(haMsg) bool) haMsg {
	c.t.Helper()
	var found haMsg
	checkFor(c.t, 10*time.Second, 10*time.Millisecond, func() error {
		msgs := c.since(mark)
		for _, m := range msgs {
			if ok(m) {
				found = m
				return nil
			}
		}
		if dead, err := c.closed(); dead {
			c.t.Fatalf("%s: connection ended (%v) while waiting for %s; got %v", c.name, err, what, msgs)
		}
		return fmt.Errorf("%s: no %s yet; got %v", c.name, what, msgs)
	})
	return found
}

// haCred is a credential from `mfd clients add-integration --json`.
type haCred struct {
	Sub   string `json:"sub"`
	Token string `json:"token"`
}

func haAddIntegration(t *testing.T, s *server, name string) haCred {
	t.Helper()
	out, err := s.cli("clients", "add-integration", "--name", name, "--json")
	if err != nil {
		t.Fatalf("mfd clients add-integration --name %s --json: %v\n%s", name, err, out)
	}
	var in haCred
	if err := json.Unmarshal([]byte(out), &in); err != nil || in.Sub == "" || in.Token == "" {
		t.Fatalf("add-integration --json printed %q, want {sub, token} (%v)", out, err)
	}
	return in
}

// haDefaultWill is the Will Home Assistant's MQTT integration sets.
var haDefaultWill = &haWill{topic: "homeassistant/status", payload: "offline"}

// connectHA connects as Home Assistant does: MQTT 3.1.1 over TLS to
// --mqtt-tls, with its default Will, and subscribes to discovery.
func connectHA(t *testing.T, s *server, in haCred, clientID string) *asyncClient {
	t.Helper()
	c, code := dialAsync(t, "home assistant", dialTLS(t, s.tlsAddr), false, clientID, in.Sub, in.Token, haDefaultWill)
	if code != 0 {
		t.Fatalf("CONNECT as Home Assistant (3.1.1 over TLS, with its default Will) = %#x, want 0", code)
	}
	// What Home Assistant subscribes to for discovery.
	c.subscribe("homeassistant/+/+/config", 0)
	c.subscribe("homeassistant/+/+/+/config", 0)
	return c
}

// haHostStatus is the part of a host's status Home Assistant reads.
type haHostStatus struct {
	Host   string `json:"host"`
	Online bool   `json:"online"`
	Input  string `json:"input"`
}

func haStatusOf(t *testing.T, m haMsg) haHostStatus {
	t.Helper()
	var st haHostStatus
	if err := json.Unmarshal(m.payload, &st); err != nil {
		t.Fatalf("status on %s is not JSON: %q", m.topic, m.payload)
	}
	return st
}

// haHostOf waits, as watcher, for the local host's status to say it is
// online with X11 input, and returns its host ID.
func haHostOf(t *testing.T, watcher *asyncClient) string {
	t.Helper()
	watcher.subscribe("mfd/v1/hosts/+/status", 1)
	m := watcher.waitMsg("an online host with x11 input", 0, func(m haMsg) bool {
		st := haStatusOf(t, m)
		return st.Online && st.Input == "x11"
	})
	return haStatusOf(t, m).Host
}

// startHAServer starts Xvfb, xev and `mfd serve` with its agent and the
// config above; it returns the toggle's flag file too.
func startHAServer(t *testing.T) (*server, *xtest.Xev, string) {
	t.Helper()
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	dir := t.TempDir()
	flag := filepath.Join(dir, "mic-muted")
	cfg := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(cfg, []byte(haConfig(flag)), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, withAgent(display), withConfig(cfg)), xev, flag
}

// haPanel is an approved panel on MQTT 5 over WSS, subscribed to its
// replies.
type haPanel struct {
	sub string
	c   *asyncClient
}

func newHAPanel(t *testing.T, s *server) *haPanel {
	t.Helper()
	_, a := s.pair("kitchen panel", "panel", nil)
	conn, resp, err := dialWSS(t, s.addr, "", "mqtt")
	if err != nil {
		t.Fatalf("WebSocket upgrade: %v (%v)", err, resp)
	}
	c, code := dialAsync(t, "panel", conn, true, a.Sub, a.Sub, a.Token, nil)
	if code != 0 {
		t.Fatalf("CONNECT as a panel = %#x, want 0", code)
	}
	c.subscribe("mfd/v1/clients/"+a.Sub+"/reply", 0)
	return &haPanel{sub: a.Sub, c: c}
}

type haReply struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (r haReply) String() string {
	if r.Error != nil {
		return fmt.Sprintf("{id %q ok %v error %s}", r.ID, r.OK, r.Error.Code)
	}
	return fmt.Sprintf("{id %q ok %v}", r.ID, r.OK)
}

// run sends a command to host and returns the agent's reply to it.
func (p *haPanel) run(t *testing.T, host string, cmd map[string]any) haReply {
	t.Helper()
	b, _ := json.Marshal(cmd)
	mark := p.c.mark()
	p.c.mustPublish("mfd/v1/hosts/"+host+"/cmd/"+p.sub, b, 0)
	var r haReply
	p.c.waitMsg(fmt.Sprintf("the reply to %s", b), mark, func(m haMsg) bool {
		var x haReply
		if json.Unmarshal(m.payload, &x) == nil && x.ID == cmd["id"] {
			r = x
			return true
		}
		return false
	})
	return r
}

// haDoc is the part of a discovery document Home Assistant needs.
type haDoc struct {
	Name         string   `json:"name"`
	UniqueID     string   `json:"unique_id"`
	CommandTopic string   `json:"command_topic"`
	PayloadPress string   `json:"payload_press"`
	StateTopic   string   `json:"state_topic"`
	PayloadOn    string   `json:"payload_on"`
	PayloadOff   string   `json:"payload_off"`
	StateOn      string   `json:"state_on"`
	StateOff     string   `json:"state_off"`
	EventTypes   []string `json:"event_types"`
	Availability []struct {
		Topic         string `json:"topic"`
		ValueTemplate string `json:"value_template"`
	} `json:"availability"`
	Device struct {
		Identifiers []string `json:"identifiers"`
		Name        string   `json:"name"`
	} `json:"device"`
}

// haDiscoveryTopics are the documents the host must publish.
func haDiscoveryTopics(host string) (button, sw, event string) {
	node := "mfd-" + host
	return "homeassistant/button/" + node + "/" + haAction + "/config",
		"homeassistant/switch/" + node + "/input/config",
		"homeassistant/event/" + node + "/press/config"
}

// TestHomeAssistant is issue 5's first acceptance, in Home Assistant's
// shoes: discovery is retained and complete, a button press types on the
// host, the remote input switch turns a panel's commands off and on, Home
// Assistant's birth message brings discovery again, and stopping the
// server's agent makes the device unavailable.
func TestHomeAssistant(t *testing.T) {
	s, xev, flag := startHAServer(t)
	in := haAddIntegration(t, s, "HA")
	ha := connectHA(t, s, in, in.Sub)
	host := haHostOf(t, ha)
	statusTopic := "mfd/v1/hosts/" + host + "/status"
	btnTopic, swTopic, evTopic := haDiscoveryTopics(host)

	// (a) The discovery documents are retained and carry what Home
	// Assistant requires.
	docs := map[string]haDoc{}
	for _, topic := range []string{btnTopic, swTopic, evTopic} {
		m := ha.waitMsg("discovery on "+topic, 0, func(m haMsg) bool { return m.topic == topic })
		if !m.retain {
			t.Errorf("discovery on %s arrived at subscription without the retain flag: it is not retained", topic)
		}
		var d haDoc
		if err := json.Unmarshal(m.payload, &d); err != nil {
			t.Fatalf("discovery on %s is not JSON: %q", topic, m.payload)
		}
		docs[topic] = d
	}
	ids := map[string]bool{}
	for topic, d := range docs {
		if d.UniqueID == "" || ids[d.UniqueID] {
			t.Errorf("%s: unique_id %q is empty or not unique", topic, d.UniqueID)
		}
		ids[d.UniqueID] = true
		if d.Name == "" {
			t.Errorf("%s: no name", topic)
		}
		if len(d.Device.Identifiers) == 0 || d.Device.Name == "" {
			t.Errorf("%s: device %+v lacks identifiers or a name", topic, d.Device)
		}
		if !slices.Equal(d.Device.Identifiers, docs[btnTopic].Device.Identifiers) {
			t.Errorf("%s: device identifiers %v differ from the button's %v: one device per host", topic, d.Device.Identifiers, docs[btnTopic].Device.Identifiers)
		}
		if len(d.Availability) != 1 || d.Availability[0].Topic != statusTopic ||
			!strings.Contains(d.Availability[0].ValueTemplate, "value_json.online") {
			t.Errorf("%s: availability %+v, want the host's status %s with a template on value_json.online", topic, d.Availability, statusTopic)
		}
	}
	if d := docs[btnTopic]; d.CommandTopic != "mfd/v1/hosts/"+host+"/press/"+haAction || (d.PayloadPress != "" && d.PayloadPress != "PRESS") {
		t.Errorf("button: command_topic %q payload_press %q, want the host's press/%s and PRESS", d.CommandTopic, d.PayloadPress, haAction)
	}
	if d := docs[swTopic]; d.CommandTopic != "mfd/v1/hosts/"+host+"/input/set" || d.StateTopic != "mfd/v1/hosts/"+host+"/input" ||
		d.PayloadOn != "ON" || d.PayloadOff != "OFF" {
		t.Errorf("switch: %+v, want command input/set, state input, ON/OFF", d)
	}
	if d := docs[evTopic]; d.StateTopic != "mfd/v1/hosts/"+host+"/events" || !slices.Contains(d.EventTypes, "press") {
		t.Errorf("event: state_topic %q event_types %v, want the host's events and press", d.StateTopic, d.EventTypes)
	}
	// (f) The toggle is a binary_sensor of the same device, reading the
	// retained state its probe publishes: OFF, then ON once the host has
	// the flag file.
	bsTopic := "homeassistant/binary_sensor/mfd-" + host + "/" + haToggle + "/config"
	m := ha.waitMsg("discovery on "+bsTopic, 0, func(m haMsg) bool { return m.topic == bsTopic })
	var bs haDoc
	if err := json.Unmarshal(m.payload, &bs); err != nil || !m.retain {
		t.Fatalf("binary_sensor discovery %v: %v, want a retained JSON document", m, err)
	}
	stateTopic := "mfd/v1/hosts/" + host + "/state/" + haToggle
	if bs.StateTopic != stateTopic || bs.PayloadOn != "ON" || bs.PayloadOff != "OFF" || bs.Name != "Mic muted" ||
		!slices.Equal(bs.Device.Identifiers, docs[btnTopic].Device.Identifiers) || len(bs.Availability) != 1 || bs.Availability[0].Topic != statusTopic ||
		bs.UniqueID == "" || ids[bs.UniqueID] {
		t.Errorf("binary_sensor: %+v, want state_topic %s, ON/OFF, the host's device and availability, its own unique_id", bs, stateTopic)
	}
	ha.subscribe(stateTopic, 1)
	if m := ha.waitMsg("the toggle's retained state", 0, func(m haMsg) bool { return m.topic == stateTopic }); !m.retain || string(m.payload) != "OFF" {
		t.Errorf("state of %s at subscription: %v, want a retained OFF", haToggle, m)
	}
	mark := ha.mark()
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ha.waitMsg("the toggle's state ON after the host's flag appears", mark, func(m haMsg) bool {
		return m.topic == stateTopic && string(m.payload) == "ON"
	})

	// What the availability template reads: online is a JSON true now.
	ha.subscribe(docs[swTopic].StateTopic, 1)
	ha.subscribe(docs[evTopic].StateTopic, 0)

	// (b) Pressing the button (what Home Assistant sends to its
	// command_topic, at the QoS the document asks for) types on the host.
	ha.mustPublish(docs[btnTopic].CommandTopic, []byte("PRESS"), 1)
	xev.Expect(t, "Home Assistant pressing the button", haTyped...)
	// Every press runs: Home Assistant's PRESS carries no id to repeat.
	ha.mustPublish(docs[btnTopic].CommandTopic, []byte("PRESS"), 1)
	xev.Expect(t, "Home Assistant pressing the button again", haTyped...)

	// (c) The remote input switch.
	p := newHAPanel(t, s)
	if r := p.run(t, host, map[string]any{"id": "before-off", "op": "key.tap", "key": "x"}); !r.OK {
		t.Fatalf("a panel's key.tap before the switch: %v, want ok", r)
	}
	xev.Expect(t, "the panel's x before the switch", xtest.KeyTap("0x78")...)

	mark = ha.mark()
	ha.mustPublish(docs[swTopic].CommandTopic, []byte("OFF"), 1)
	ha.waitMsg("the input state OFF", mark, func(m haMsg) bool {
		return m.topic == docs[swTopic].StateTopic && string(m.payload) == "OFF"
	})
	// A client that subscribes now reads the retained state.
	fresh, code := dialAsync(t, "state reader", dialTLS(t, s.tlsAddr), false, in.Sub+"/state", in.Sub, in.Token, nil)
	if code != 0 {
		t.Fatalf("CONNECT as a second Home Assistant session = %#x", code)
	}
	fresh.subscribe(docs[swTopic].StateTopic, 0)
	if m := fresh.waitMsg("the retained input state", 0, func(haMsg) bool { return true }); !m.retain || string(m.payload) != "OFF" {
		t.Errorf("a new subscriber to %s got %v, want a retained OFF", docs[swTopic].StateTopic, m)
	}
	for i, c := range []map[string]any{
		{"id": "off-1", "op": "key.tap", "key": "y"},
		{"id": "off-2", "op": "text.type", "text": "no"},
		{"id": "off-3", "op": "action.run", "action": haAction},
	} {
		r := p.run(t, host, c)
		if r.OK || r.Error == nil || r.Error.Code != "input_off" {
			t.Errorf("command %d while remote input is off: reply %v, want error input_off", i, r)
		}
	}
	// Home Assistant's own button is off too.
	ha.mustPublish(docs[btnTopic].CommandTopic, []byte("PRESS"), 1)

	mark = ha.mark()
	ha.mustPublish(docs[swTopic].CommandTopic, []byte("ON"), 1)
	ha.waitMsg("the input state ON", mark, func(m haMsg) bool {
		return m.topic == docs[swTopic].StateTopic && string(m.payload) == "ON"
	})
	mark = ha.mark()
	if r := p.run(t, host, map[string]any{"id": "on-1", "op": "action.run", "action": haAction}); !r.OK {
		t.Fatalf("the panel's action.run after ON: %v, want ok", r)
	}
	// Exactly the one action: nothing sent while off was typed.
	xev.Expect(t, "the panel's action after the switch is on again (and nothing from while it was off)", haTyped...)
	// The event entity fires for the panel's press.
	ev := ha.waitMsg("the press event", mark, func(m haMsg) bool { return m.topic == docs[evTopic].StateTopic })
	var e struct {
		EventType string `json:"event_type"`
		Action    string `json:"action"`
		Sub       string `json:"sub"`
	}
	if err := json.Unmarshal(ev.payload, &e); err != nil || e.EventType != "press" || e.Action != haAction || e.Sub != p.sub {
		t.Errorf("event %q, want event_type press, action %s, sub %s", ev.payload, haAction, p.sub)
	}

	// (e) Home Assistant's birth message brings every discovery document
	// again, as live (not retained, not stale) messages.
	mark = ha.mark()
	ha.mustPublish("homeassistant/status", []byte("online"), 0)
	for _, topic := range []string{btnTopic, swTopic, evTopic} {
		m := ha.waitMsg("discovery re-sent on "+topic, mark, func(m haMsg) bool { return m.topic == topic })
		if m.retain {
			t.Errorf("%s after the birth message came with the retain flag: a stale copy, not a new publish", topic)
		}
		var d haDoc
		if err := json.Unmarshal(m.payload, &d); err != nil || d.UniqueID != docs[topic].UniqueID {
			t.Errorf("%s re-sent as %q, want the same document", topic, m.payload)
		}
	}

	// (d) Stopping the server stops its agent: the device becomes
	// unavailable. A second subscriber (MQTT 5, Retain As Published) sees
	// the status go to online false, published retained.
	watch, code := dialAsync(t, "status watcher", dialTLS(t, s.tlsAddr), true, in.Sub+"/watch", in.Sub, in.Token, nil)
	if code != 0 {
		t.Fatalf("CONNECT as a status watcher = %#x", code)
	}
	watch.subscribe(statusTopic, 0x08|1)
	if m := watch.waitMsg("the retained online status", 0, func(haMsg) bool { return true }); !haStatusOf(t, m).Online {
		t.Fatalf("status before stopping: %v, want online", m)
	}
	mark, haMark := watch.mark(), ha.mark()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	off := watch.waitMsg("the offline status", mark, func(m haMsg) bool { return !haStatusOf(t, m).Online })
	if !off.retain {
		t.Errorf("the offline status %v was not published retained", off)
	}
	if st := haStatusOf(t, off); st.Host != host {
		t.Errorf("the offline status names host %q, want %s", st.Host, host)
	}
	ha.waitMsg("the offline status (what the availability template reads)", haMark, func(m haMsg) bool {
		return m.topic == statusTopic && !haStatusOf(t, m).Online
	})
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Errorf("mfd serve did not exit within 10s of SIGTERM")
	}
}

// TestHomeAssistantCannotCommandAndIsRevoked is issue 5's second
// acceptance: an integration can press and switch but never send a
// panel's commands, and revoking it disconnects it at once.
func TestHomeAssistantCannotCommandAndIsRevoked(t *testing.T) {
	s, xev, _ := startHAServer(t)
	in := haAddIntegration(t, s, "HA")
	ha := connectHA(t, s, in, in.Sub)
	host := haHostOf(t, ha)
	p := newHAPanel(t, s)
	typeNo, _ := json.Marshal(map[string]any{"id": "ha-1", "op": "text.type", "text": "no"})

	// Another panel's cmd topic, at QoS 0: dropped. Its own sub's cmd
	// topic, at QoS 1: refused (a 3.1.1 client has no PUBACK reason code,
	// so the server ends the session).
	if _, err := ha.publish("mfd/v1/hosts/"+host+"/cmd/"+p.sub, typeNo, 0, false); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	code, err := ha.publish("mfd/v1/hosts/"+host+"/cmd/"+in.Sub, typeNo, 1, false)
	if err == nil && code < 0x80 {
		t.Errorf("an integration's PUBLISH to a cmd topic was accepted (PUBACK %#x)", code)
	}
	// Over MQTT 5 the refusal has a reason code.
	rc, c5 := connectWSS(t, s, in.Sub+"/v5", in.Sub, in.Token)
	if c5 != 0 {
		t.Fatalf("CONNECT as the integration over WSS (v5) = %#x", c5)
	}
	for _, sub := range []string{in.Sub, p.sub} {
		code, err := rc.publish(9, "mfd/v1/hosts/"+host+"/cmd/"+sub, typeNo, false)
		if err == nil && code < 0x80 {
			t.Errorf("v5 PUBLISH to cmd/%s as the integration: PUBACK %#x, want a refusal", sub, code)
		}
	}
	rc.close()

	// The panel's command is the only thing typed: had any of the above
	// reached the agent, xev would see "no" first.
	if r := p.run(t, host, map[string]any{"id": "z", "op": "key.tap", "key": "z"}); !r.OK {
		t.Fatalf("the panel's key.tap: %v, want ok", r)
	}
	xev.Expect(t, "only the panel's z", xtest.KeyTap("0x7a")...)

	// Revocation ends the integration's session at once.
	ha = connectHA(t, s, in, in.Sub)
	ha.subscribe("mfd/v1/hosts/+/status", 0)
	if out, err := s.cli("clients", "revoke", in.Sub); err != nil {
		t.Fatalf("mfd clients revoke %s: %v\n%s", in.Sub, err, out)
	}
	start := time.Now()
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if dead, _ := ha.closed(); !dead {
			return errors.New("the revoked integration is still connected")
		}
		return nil
	})
	t.Logf("revoked integration disconnected after %v", time.Since(start).Round(time.Millisecond))
	if _, code := dialAsync(t, "revoked", dialTLS(t, s.tlsAddr), false, in.Sub, in.Sub, in.Token, nil); code != v3NotAuthorized {
		t.Errorf("CONNECT with the revoked credential = %#x, want %#x", code, v3NotAuthorized)
	}
	if ev := xev.Pending(); len(ev) != 0 {
		t.Errorf("xev saw events nobody allowed: %v", ev)
	}
}
