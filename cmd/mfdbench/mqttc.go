package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// mqttClient is the bench's panel: a deliberately small MQTT 5 client that
// writes each packet with one Write (one WebSocket frame), publishes at
// QoS 0 as the browser panel does, and hands every received PUBLISH to
// onPublish on its reader goroutine with the time it was read. Packets are
// encoded and decoded with mochi's packets package.
type mqttClient struct {
	conn      net.Conn
	wmu       sync.Mutex
	buf       bytes.Buffer
	onPublish func(topic string, payload []byte, at time.Time)

	acks chan packets.Packet // CONNACK, SUBACK
	done chan struct{}
	err  error
}

// mqttConnect sends CONNECT on conn and waits for a successful CONNACK.
func mqttConnect(ctx context.Context, conn net.Conn, clientID, user, pass string, onPublish func(string, []byte, time.Time)) (*mqttClient, error) {
	c := &mqttClient{conn: conn, onPublish: onPublish, acks: make(chan packets.Packet, 4), done: make(chan struct{})}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 5,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        300,
			ClientIdentifier: clientID,
		},
	}
	if user != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(pass)
	}
	go c.readLoop()
	if err := c.write(func(b *bytes.Buffer) error { return pk.ConnectEncode(b) }); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sending CONNECT: %w", err)
	}
	ack, err := c.waitAck(ctx, packets.Connack)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if ack.ReasonCode != 0 {
		conn.Close()
		return nil, fmt.Errorf("CONNACK 0x%02x", ack.ReasonCode)
	}
	return c, nil
}

func (c *mqttClient) waitAck(ctx context.Context, typ byte) (packets.Packet, error) {
	select {
	case pk := <-c.acks:
		if pk.FixedHeader.Type != typ {
			return pk, fmt.Errorf("got packet type %d, want %d", pk.FixedHeader.Type, typ)
		}
		return pk, nil
	case <-c.done:
		return packets.Packet{}, fmt.Errorf("connection ended: %w", c.err)
	case <-ctx.Done():
		return packets.Packet{}, ctx.Err()
	}
}

func (c *mqttClient) write(enc func(*bytes.Buffer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf.Reset()
	if err := enc(&c.buf); err != nil {
		return err
	}
	_, err := c.conn.Write(c.buf.Bytes())
	return err
}

// subscribe subscribes to one filter at QoS 0 and waits for the SUBACK.
func (c *mqttClient) subscribe(ctx context.Context, filter string) error {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		ProtocolVersion: 5,
		PacketID:        1,
		Filters:         packets.Subscriptions{{Filter: filter}},
	}
	if err := c.write(func(b *bytes.Buffer) error { return pk.SubscribeEncode(b) }); err != nil {
		return fmt.Errorf("sending SUBSCRIBE: %w", err)
	}
	ack, err := c.waitAck(ctx, packets.Suback)
	if err != nil {
		return err
	}
	if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] >= 0x80 {
		return fmt.Errorf("SUBACK %v for %s", ack.ReasonCodes, filter)
	}
	return nil
}

// publish sends a QoS 0 PUBLISH with a 10 s Message Expiry, as panels do.
func (c *mqttClient) publish(topic string, payload []byte) error {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish},
		ProtocolVersion: 5,
		TopicName:       topic,
		Payload:         payload,
		Properties:      packets.Properties{MessageExpiryInterval: 10},
	}
	return c.write(func(b *bytes.Buffer) error { return pk.PublishEncode(b) })
}

// close sends DISCONNECT and closes the connection.
func (c *mqttClient) close() {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: 5}
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.write(func(b *bytes.Buffer) error { return pk.DisconnectEncode(b) })
	_ = c.conn.Close()
	<-c.done
}

func (c *mqttClient) readLoop() {
	defer close(c.done)
	r := bufio.NewReaderSize(c.conn, 16<<10)
	for {
		hb, err := r.ReadByte()
		if err != nil {
			c.err = err
			return
		}
		at := time.Now()
		var fh packets.FixedHeader
		if err := fh.Decode(hb); err != nil {
			c.err = err
			return
		}
		n, _, err := packets.DecodeLength(r)
		if err != nil {
			c.err = err
			return
		}
		fh.Remaining = n
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			c.err = err
			return
		}
		pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 5}
		switch fh.Type {
		case packets.Connack:
			err = pk.ConnackDecode(body)
			c.acks <- pk
		case packets.Suback:
			err = pk.SubackDecode(body)
			c.acks <- pk
		case packets.Publish:
			if err = pk.PublishDecode(body); err == nil && c.onPublish != nil {
				c.onPublish(pk.TopicName, pk.Payload, at)
			}
		case packets.Disconnect:
			_ = pk.DisconnectDecode(body)
			c.err = fmt.Errorf("server sent DISCONNECT 0x%02x", pk.ReasonCode)
			return
		}
		if err != nil {
			c.err = fmt.Errorf("decoding packet type %d: %w", fh.Type, err)
			return
		}
	}
}

var errNoReply = errors.New("no reply")
