package agent

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/gorilla/websocket"
)

func TestMQTTPacketLen(t *testing.T) {
	tests := []struct {
		in   []byte
		want int
		err  bool
	}{
		{nil, 0, false},
		{[]byte{0xc0}, 0, false},
		{[]byte{0xc0, 0x00}, 2, false},             // PINGREQ
		{[]byte{0x30, 0x05, 1, 2}, 7, false},       // incomplete body: length still known
		{[]byte{0x30, 0x80}, 0, false},             // length continues
		{[]byte{0x30, 0x80, 0x01}, 3 + 128, false}, // 128
		{[]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, 5 + 268435455, false},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, true},
	}
	for _, tt := range tests {
		got, err := mqttPacketLen(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("mqttPacketLen(% x) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// wsPeer is a WebSocket server that records each frame it gets and can
// send frames.
type wsPeer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	frames [][]byte
	conns  chan *websocket.Conn
}

func newWSPeer(t *testing.T) *wsPeer {
	t.Helper()
	p := &wsPeer{conns: make(chan *websocket.Conn, 1)}
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if c.Subprotocol() != "mqtt" {
			c.Close()
			return
		}
		p.conns <- c
		for {
			mt, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if mt == websocket.BinaryMessage {
				p.mu.Lock()
				p.frames = append(p.frames, b)
				p.mu.Unlock()
			}
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *wsPeer) Frames() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.frames...)
}

func TestWSConnOneFramePerPacket(t *testing.T) {
	peer := newWSPeer(t)
	u, _ := url.Parse("ws" + strings.TrimPrefix(peer.srv.URL, "http") + "/mqtt")
	c, err := dialWebSocket(t.Context(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-peer.conns

	// paho writes a packet in several pieces; each must arrive whole.
	pub := packets.NewControlPacket(packets.PUBLISH)
	pub.Content.(*packets.Publish).Topic = "mfd/v1/x"
	pub.Content.(*packets.Publish).Payload = bytes.Repeat([]byte("p"), 300) // two-byte length
	var want bytes.Buffer
	if _, err := pub.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	// Byte by byte, then two packets in one write.
	ping := []byte{0xc0, 0x00}
	for _, b := range want.Bytes() {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write(append(append([]byte{}, ping...), ping...)); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		f := peer.Frames()
		if len(f) != 4 {
			return errors.New("waiting for 4 frames")
		}
		if !bytes.Equal(f[0], want.Bytes()) || !bytes.Equal(f[1], want.Bytes()) || !bytes.Equal(f[2], ping) || !bytes.Equal(f[3], ping) {
			t.Fatalf("frames = % x, want the publish twice and two pings", f)
		}
		return nil
	})

	// Reads join a packet split over frames, and split frames holding two.
	msg := want.Bytes()
	for _, part := range [][]byte{msg[:1], msg[1:3], msg[3:], append(append([]byte{}, ping...), ping...)} {
		if err := server.WriteMessage(websocket.BinaryMessage, part); err != nil {
			t.Fatal(err)
		}
	}
	got, err := packets.ReadPacket(c)
	if err != nil {
		t.Fatalf("reading a packet over three frames: %v", err)
	}
	if p, ok := got.Content.(*packets.Publish); !ok || p.Topic != "mfd/v1/x" || len(p.Payload) != 300 {
		t.Errorf("read %v, want the publish", got)
	}
	for range 2 {
		got, err := packets.ReadPacket(c)
		if err != nil || got.Type != packets.PINGREQ {
			t.Fatalf("reading a ping: %v, %v", got, err)
		}
	}

	// A malformed header is refused rather than buffered forever.
	if _, err := c.Write([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}); !errors.Is(err, errMalformedPacket) {
		t.Errorf("Write(malformed) = %v, want errMalformedPacket", err)
	}
	server.Close()
}
