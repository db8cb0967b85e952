package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawClient is a deliberately small MQTT client written from the spec, so
// that the server is tested by something other than the paho library it
// was built against, and so that tests can send malformed packets.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	v5   bool
	// pending are PUBLISH packets read while waiting for another packet,
	// kept for readMessage.
	pending []packet
}

// packet is one MQTT control packet as read off the wire.
type packet struct {
	typ   byte // high nibble of the first byte
	flags byte
	body  []byte
}

func encLen(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func encStr(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return append(b, s...)
}

func frame(first byte, body []byte) []byte {
	return append(append([]byte{first}, encLen(len(body))...), body...)
}

// connectPacket builds a CONNECT; v5 adds an empty property block.
func connectPacket(v5 bool, clientID, user, pass string, keepalive uint16) []byte {
	var b bytes.Buffer
	b.Write(encStr("MQTT"))
	if v5 {
		b.WriteByte(5)
	} else {
		b.WriteByte(4)
	}
	flags := byte(0x02) // clean start
	if user != "" {
		flags |= 0x80
	}
	if pass != "" {
		flags |= 0x40
	}
	b.WriteByte(flags)
	b.Write([]byte{byte(keepalive >> 8), byte(keepalive)})
	if v5 {
		b.WriteByte(0)
	}
	b.Write(encStr(clientID))
	if user != "" {
		b.Write(encStr(user))
	}
	if pass != "" {
		b.Write(encStr(pass))
	}
	return frame(0x10, b.Bytes())
}

func dialWSS(t *testing.T, base, origin, subprotocol string) (net.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true},
		HandshakeTimeout: 5 * time.Second,
	}
	if subprotocol != "" {
		d.Subprotocols = []string{subprotocol}
	}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := d.Dial("wss://"+base+"/mqtt", h)
	if err != nil {
		return nil, resp, err
	}
	return &wsConn{ws: ws}, resp, nil
}

func dialTLS(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	return c
}

func newRaw(c net.Conn, v5 bool) *rawClient {
	return &rawClient{conn: c, r: bufio.NewReader(c), v5: v5}
}

func (c *rawClient) send(b []byte) error {
	_, err := c.conn.Write(b)
	return err
}

func (c *rawClient) read(timeout time.Duration) (packet, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	first, err := c.r.ReadByte()
	if err != nil {
		return packet{}, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		d, err := c.r.ReadByte()
		if err != nil {
			return packet{}, err
		}
		n += int(d&0x7f) * mul
		if d&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return packet{}, err
	}
	return packet{typ: first >> 4, flags: first & 0x0f, body: body}, nil
}

// connect sends CONNECT and returns the CONNACK reason code.
func (c *rawClient) connect(clientID, user, pass string) (byte, error) {
	if err := c.send(connectPacket(c.v5, clientID, user, pass, 30)); err != nil {
		return 0, err
	}
	p, err := c.read(5 * time.Second)
	if err != nil {
		return 0, fmt.Errorf("reading CONNACK: %w", err)
	}
	if p.typ != 2 || len(p.body) < 2 {
		return 0, fmt.Errorf("want CONNACK, got type %d", p.typ)
	}
	return p.body[1], nil
}

// subscribe sends SUBSCRIBE for one filter at QoS 0 and returns the SUBACK
// reason code.
func (c *rawClient) subscribe(id uint16, filter string) (byte, error) {
	var b bytes.Buffer
	b.Write([]byte{byte(id >> 8), byte(id)})
	if c.v5 {
		b.WriteByte(0)
	}
	b.Write(encStr(filter))
	b.WriteByte(0)
	if err := c.send(frame(0x82, b.Bytes())); err != nil {
		return 0, err
	}
	for {
		p, err := c.read(5 * time.Second)
		if err != nil {
			return 0, fmt.Errorf("reading SUBACK: %w", err)
		}
		if p.typ == 3 {
			c.pending = append(c.pending, p) // a retained PUBLISH may arrive first
			continue
		}
		if p.typ != 9 {
			return 0, fmt.Errorf("want SUBACK, got type %d", p.typ)
		}
		i := 2
		if c.v5 {
			pl, n := binary.Uvarint(p.body[2:])
			i += n + int(pl)
		}
		if i >= len(p.body) {
			return 0, errors.New("short SUBACK")
		}
		return p.body[i], nil
	}
}

// publish sends a QoS 1 PUBLISH and returns the PUBACK reason code (v5;
// 0 for 3.1.1, which has none) or the DISCONNECT reason if the server hung
// up instead.
func (c *rawClient) publish(id uint16, topic string, payload []byte, retain bool) (byte, error) {
	return c.publishWith(id, topic, payload, retain, pubProps{})
}

// publishWith is publish with props on v5 (ignored on 3.1.1). PUBACKs of
// other packet IDs are passed over.
func (c *rawClient) publishWith(id uint16, topic string, payload []byte, retain bool, props pubProps) (byte, error) {
	var b bytes.Buffer
	b.Write(encStr(topic))
	b.Write([]byte{byte(id >> 8), byte(id)})
	if c.v5 {
		b.Write(encProps(props))
	}
	b.Write(payload)
	first := byte(0x32)
	if retain {
		first |= 1
	}
	if err := c.send(frame(first, b.Bytes())); err != nil {
		return 0, err
	}
	for {
		p, err := c.read(5 * time.Second)
		if err != nil {
			return 0, fmt.Errorf("reading PUBACK: %w", err)
		}
		switch p.typ {
		case 3:
			c.pending = append(c.pending, p)
		case 4:
			if len(p.body) >= 2 && binary.BigEndian.Uint16(p.body) != id {
				continue
			}
			if len(p.body) > 2 {
				return p.body[2], nil
			}
			return 0, nil
		case 14:
			if len(p.body) > 0 {
				return p.body[0], errors.New("disconnected")
			}
			return 0, errors.New("disconnected")
		}
	}
}

// waitDisconnect reads until the server sends DISCONNECT or closes; it
// returns the DISCONNECT reason code, or 0 with io.EOF for a bare close.
func (c *rawClient) waitDisconnect(timeout time.Duration) (byte, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p, err := c.read(time.Until(deadline))
		if err != nil {
			return 0, err
		}
		if p.typ == 14 {
			if len(p.body) > 0 {
				return p.body[0], nil
			}
			return 0, nil
		}
	}
	return 0, errors.New("no disconnect before the deadline")
}

func (c *rawClient) close() { c.conn.Close() }

// wsConn adapts a WebSocket to net.Conn, one binary frame per Write.
type wsConn struct {
	ws  *websocket.Conn
	buf []byte
}

func (w *wsConn) Read(p []byte) (int, error) {
	for len(w.buf) == 0 {
		typ, b, err := w.ws.ReadMessage()
		if err != nil {
			return 0, err
		}
		if typ == websocket.BinaryMessage {
			w.buf = b
		}
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}

func (w *wsConn) Write(p []byte) (int, error) {
	if err := w.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsConn) Close() error         { return w.ws.Close() }
func (w *wsConn) LocalAddr() net.Addr  { return w.ws.LocalAddr() }
func (w *wsConn) RemoteAddr() net.Addr { return w.ws.RemoteAddr() }
func (w *wsConn) SetDeadline(t time.Time) error {
	_ = w.ws.SetReadDeadline(t)
	return w.ws.SetWriteDeadline(t)
}
func (w *wsConn) SetReadDeadline(t time.Time) error  { return w.ws.SetReadDeadline(t) }
func (w *wsConn) SetWriteDeadline(t time.Time) error { return w.ws.SetWriteDeadline(t) }

// pubProps are the MQTT 5 PUBLISH properties the tests send and read.
type pubProps struct {
	responseTopic string
	correlation   []byte
	expiry        *uint32 // Message Expiry Interval, seconds
	user          [][2]string
}

// message is one PUBLISH as received.
type message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   pubProps
}

// encProps encodes a v5 property block, length first.
func encProps(p pubProps) []byte {
	var b bytes.Buffer
	if p.expiry != nil {
		b.WriteByte(0x02)
		b.Write(binary.BigEndian.AppendUint32(nil, *p.expiry))
	}
	if p.responseTopic != "" {
		b.WriteByte(0x08)
		b.Write(encStr(p.responseTopic))
	}
	if p.correlation != nil {
		b.WriteByte(0x09)
		b.Write(encStr(string(p.correlation)))
	}
	for _, kv := range p.user {
		b.WriteByte(0x26)
		b.Write(encStr(kv[0]))
		b.Write(encStr(kv[1]))
	}
	return append(encLen(b.Len()), b.Bytes()...)
}

// sendPublish sends a QoS 0 PUBLISH, with props on v5 (ignored on 3.1.1),
// and does not wait for anything: QoS 0 has no answer.
func (c *rawClient) sendPublish(topic string, payload []byte, props pubProps) error {
	var b bytes.Buffer
	b.Write(encStr(topic))
	if c.v5 {
		b.Write(encProps(props))
	}
	b.Write(payload)
	return c.send(frame(0x30, b.Bytes()))
}

// readMessage reads until the next PUBLISH and decodes it; other packets
// (PINGRESP, PUBACK, SUBACK) are skipped, a DISCONNECT is an error. A
// QoS 1 PUBLISH is acknowledged.
func (c *rawClient) readMessage(timeout time.Duration) (message, error) {
	if len(c.pending) > 0 {
		p := c.pending[0]
		c.pending = c.pending[1:]
		return c.decodePublish(p)
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return message{}, errors.New("no PUBLISH before the deadline")
		}
		p, err := c.read(left)
		if err != nil {
			return message{}, err
		}
		switch p.typ {
		case 3:
			return c.decodePublish(p)
		case 14:
			reason := byte(0)
			if len(p.body) > 0 {
				reason = p.body[0]
			}
			return message{}, fmt.Errorf("server sent DISCONNECT %#x", reason)
		}
	}
}

func (c *rawClient) decodePublish(p packet) (message, error) {
	m := message{qos: (p.flags >> 1) & 3, retain: p.flags&1 == 1}
	b := p.body
	str := func() (string, error) {
		if len(b) < 2 {
			return "", errors.New("short PUBLISH")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", errors.New("short PUBLISH")
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, nil
	}
	var err error
	if m.topic, err = str(); err != nil {
		return m, err
	}
	var id uint16
	if m.qos > 0 {
		if len(b) < 2 {
			return m, errors.New("short PUBLISH")
		}
		id = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	if c.v5 {
		n, k := binary.Uvarint(b)
		if k <= 0 || int(n) > len(b)-k {
			return m, errors.New("bad PUBLISH properties")
		}
		props := b[k : k+int(n)]
		b = b[k+int(n):]
		if err := decodeProps(props, &m.props); err != nil {
			return m, err
		}
	}
	m.payload = b
	if m.qos == 1 {
		ack := []byte{byte(id >> 8), byte(id)}
		if err := c.send(frame(0x40, ack)); err != nil {
			return m, err
		}
	}
	return m, nil
}

// decodeProps reads the PUBLISH properties into out, skipping those the
// tests do not look at.
func decodeProps(b []byte, out *pubProps) error {
	short := errors.New("short property")
	str := func() (string, error) {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return "", short
		}
		n := int(binary.BigEndian.Uint16(b))
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, nil
	}
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		var err error
		switch id {
		case 0x01: // payload format
			if len(b) < 1 {
				return short
			}
			b = b[1:]
		case 0x02:
			if len(b) < 4 {
				return short
			}
			v := binary.BigEndian.Uint32(b)
			out.expiry = &v
			b = b[4:]
		case 0x03: // content type
			_, err = str()
		case 0x08:
			out.responseTopic, err = str()
		case 0x09:
			var s string
			s, err = str()
			out.correlation = []byte(s)
		case 0x0B: // subscription identifier
			_, k := binary.Uvarint(b)
			if k <= 0 {
				return short
			}
			b = b[k:]
		case 0x23: // topic alias
			if len(b) < 2 {
				return short
			}
			b = b[2:]
		case 0x26:
			var k, v string
			if k, err = str(); err == nil {
				v, err = str()
			}
			out.user = append(out.user, [2]string{k, v})
		default:
			return fmt.Errorf("unexpected PUBLISH property %#x", id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
