package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// atkConn is a CONNECT with the fields the identity attacks vary.
type atkConn struct {
	v5            bool
	clientID      string
	user, pass    string
	keepStart     bool   // clean start (session) 0: resume a kept session
	sessionExpiry uint32 // v5 Session Expiry Interval
	willTopic     string // a Will when set
	willPayload   string
	willRetain    bool
	willQoS       byte
	willDelay     uint32 // v5 Will Delay Interval
}

func (o atkConn) packet() []byte {
	var b bytes.Buffer
	b.Write(encStr("MQTT"))
	if o.v5 {
		b.WriteByte(5)
	} else {
		b.WriteByte(4)
	}
	var flags byte
	if !o.keepStart {
		flags |= 0x02
	}
	if o.willTopic != "" {
		flags |= 0x04 | o.willQoS<<3
		if o.willRetain {
			flags |= 0x20
		}
	}
	if o.user != "" {
		flags |= 0x80
	}
	if o.pass != "" {
		flags |= 0x40
	}
	b.WriteByte(flags)
	b.Write([]byte{0, 30})
	if o.v5 {
		if o.sessionExpiry > 0 {
			b.Write([]byte{5, 0x11})
			b.Write(binary.BigEndian.AppendUint32(nil, o.sessionExpiry))
		} else {
			b.WriteByte(0)
		}
	}
	b.Write(encStr(o.clientID))
	if o.willTopic != "" {
		if o.v5 && o.willDelay > 0 {
			b.Write([]byte{5, 0x18})
			b.Write(binary.BigEndian.AppendUint32(nil, o.willDelay))
		} else if o.v5 {
			b.WriteByte(0)
		}
		b.Write(encStr(o.willTopic))
		b.Write(encStr(o.willPayload))
	}
	if o.user != "" {
		b.Write(encStr(o.user))
	}
	if o.pass != "" {
		b.Write(encStr(o.pass))
	}
	return frame(0x10, b.Bytes())
}

// atkSession is a raw client and its CONNACK.
type atkSession struct {
	*rawClient
	code           byte
	sessionPresent bool
}

// atkOpen dials s over "wss" or "tls" and sends o's CONNECT.
func atkOpen(s *server, over string, o atkConn) (*atkSession, error) {
	c, err := atkDial(s, over, "")
	if err != nil {
		return nil, err
	}
	rc := newRaw(c, o.v5)
	if err := rc.send(o.packet()); err != nil {
		rc.close()
		return nil, err
	}
	p, err := rc.read(5 * time.Second)
	if err != nil || p.typ != 2 || len(p.body) < 2 {
		rc.close()
		return nil, fmt.Errorf("reading CONNACK: %v (type %d)", err, p.typ)
	}
	return &atkSession{rawClient: rc, code: p.body[1], sessionPresent: p.body[0]&1 == 1}, nil
}

// atkUserProp is an MQTT 5 user property.
type atkUserProp struct{ k, v string }

// atkPub is a PUBLISH as sent or received by the identity attacks.
type atkPub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	id      uint16
	user    []atkUserProp
}

// publish sends p (properties only on v5).
func (c *atkSession) publish(p atkPub) error {
	var b bytes.Buffer
	b.Write(encStr(p.topic))
	if p.qos > 0 {
		b.Write([]byte{byte(p.id >> 8), byte(p.id)})
	}
	if c.v5 {
		var props bytes.Buffer
		for _, u := range p.user {
			props.WriteByte(0x26)
			props.Write(encStr(u.k))
			props.Write(encStr(u.v))
		}
		b.Write(encLen(props.Len()))
		b.Write(props.Bytes())
	}
	b.Write(p.payload)
	first := byte(0x30) | p.qos<<1
	if p.retain {
		first |= 1
	}
	return c.send(frame(first, b.Bytes()))
}

// next reads packets until a PUBLISH, which it decodes (user properties
// included) and acknowledges; a DISCONNECT or a closed connection is an
// error, and so is nothing within timeout.
func (c *atkSession) next(timeout time.Duration) (atkPub, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return atkPub{}, errors.New("no PUBLISH before the deadline")
		}
		p, err := c.read(left)
		if err != nil {
			return atkPub{}, err
		}
		switch p.typ {
		case 14:
			return atkPub{}, fmt.Errorf("DISCONNECT %x", p.body)
		case 3:
			return c.decode(p)
		}
	}
}

func (c *atkSession) decode(p packet) (atkPub, error) {
	m := atkPub{qos: p.flags >> 1 & 3, retain: p.flags&1 == 1}
	b := p.body
	short := errors.New("short PUBLISH")
	str := func() (string, error) {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return "", short
		}
		n := int(binary.BigEndian.Uint16(b))
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, nil
	}
	var err error
	if m.topic, err = str(); err != nil {
		return m, err
	}
	if m.qos > 0 {
		if len(b) < 2 {
			return m, short
		}
		m.id = binary.BigEndian.Uint16(b)
		b = b[2:]
		_ = c.send(frame(0x40, []byte{byte(m.id >> 8), byte(m.id)}))
	}
	if c.v5 {
		n, k := binary.Uvarint(b)
		if k <= 0 || int(n) > len(b)-k {
			return m, short
		}
		props := b[k : k+int(n)]
		b = b[k+int(n):]
		for len(props) > 0 {
			id := props[0]
			props = props[1:]
			switch id {
			case 0x01:
				props = props[1:]
			case 0x02:
				props = props[4:]
			case 0x0b:
				_, k := binary.Uvarint(props)
				props = props[k:]
			case 0x03, 0x08, 0x09:
				props = props[2+int(binary.BigEndian.Uint16(props)):]
			case 0x26:
				kl := int(binary.BigEndian.Uint16(props))
				key := string(props[2 : 2+kl])
				props = props[2+kl:]
				vl := int(binary.BigEndian.Uint16(props))
				m.user = append(m.user, atkUserProp{key, string(props[2 : 2+vl])})
				props = props[2+vl:]
			default:
				return m, fmt.Errorf("unexpected PUBLISH property %#x", id)
			}
		}
	}
	m.payload = b
	return m, nil
}
