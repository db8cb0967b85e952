package wsnet

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pair returns a client Conn and the server's raw WebSocket.
func pair(t *testing.T) (*Conn, *websocket.Conn) {
	t.Helper()
	srvc := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		srvc <- ws
	}))
	t.Cleanup(ts.Close)
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(ws)
	t.Cleanup(func() { c.Close() })
	s := <-srvc
	t.Cleanup(func() { s.Close() })
	return c, s
}

func TestEachWriteIsOneFrame(t *testing.T) {
	c, s := pair(t)
	for _, msg := range [][]byte{{0x30, 0x02, 'h', 'i'}, {0xc0, 0x00}} {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		mt, got, err := s.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(got, msg) {
			t.Errorf("frame = %d %x %v, want one binary frame %x", mt, got, err, msg)
		}
	}
}

func TestReadsRunAcrossFrames(t *testing.T) {
	c, s := pair(t)
	for _, part := range []string{"ab", "", "cde"} {
		if err := s.WriteMessage(websocket.BinaryMessage, []byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "abcde" {
		t.Errorf("ReadFull = %q, %v; want abcde", got, err)
	}
	_ = s.WriteMessage(websocket.TextMessage, []byte("x"))
	if _, err := c.Read(got); !errors.Is(err, ErrTextFrame) {
		t.Errorf("Read after a text frame = %v, want ErrTextFrame", err)
	}
}

func TestCloseFrameReadsAsEOF(t *testing.T) {
	c, s := pair(t)
	_ = s.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read after the peer's close frame = %v, want io.EOF", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = c.Close() // twice is fine
}

func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte{0xc0, 0}); err == nil {
		t.Errorf("Write past its deadline succeeded")
	}
}
