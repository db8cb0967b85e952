package e2e

// Helpers for the second round of attacks (issue 11): SUBSCRIBE with many
// filters, PUBLISH with properties and an answer, DISCONNECT with a
// Session Expiry.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// atkSubscribeMany sends one SUBSCRIBE (v5) for filters at QoS 0 and
// returns the SUBACK's reason codes, one per filter.
func atkSubscribeMany(c *rawClient, id uint16, filters []string) ([]byte, error) {
	var b bytes.Buffer
	b.Write([]byte{byte(id >> 8), byte(id)})
	b.WriteByte(0)
	for _, f := range filters {
		b.Write(encStr(f))
		b.WriteByte(0)
	}
	if err := c.send(frame(0x82, b.Bytes())); err != nil {
		return nil, err
	}
	for {
		p, err := c.read(10 * time.Second)
		if err != nil {
			return nil, fmt.Errorf("reading SUBACK: %w", err)
		}
		if p.typ == 14 {
			return nil, fmt.Errorf("DISCONNECT %x instead of SUBACK", p.body)
		}
		if p.typ != 9 {
			continue
		}
		pl, n := binary.Uvarint(p.body[2:])
		i := 2 + n + int(pl)
		if i > len(p.body) {
			return nil, errors.New("short SUBACK")
		}
		return p.body[i:], nil
	}
}

// atkDisconnect sends a v5 DISCONNECT (reason 0) with a Session Expiry
// Interval property.
func atkDisconnect(c *rawClient, sessionExpiry uint32) error {
	props := append([]byte{0x11}, binary.BigEndian.AppendUint32(nil, sessionExpiry)...)
	body := append([]byte{0x00}, encLen(len(props))...)
	return c.send(frame(0xe0, append(body, props...)))
}

// atkPanel pairs a panel and connects it over WSS (MQTT 5) from src under
// client identifier sub/suffix.
func atkPanelConn(t *testing.T, s *server, a authResp, suffix, src string) *rawClient {
	t.Helper()
	c, err := atkDialWSS(s.addr, src)
	if err != nil {
		t.Fatalf("panel WebSocket: %v", err)
	}
	rc := newRaw(c, true)
	t.Cleanup(rc.close)
	if p, err := atkConnect(rc, a.Sub+"/"+suffix, a.Sub, a.Token, 60); err != nil || p.body[1] != 0 {
		t.Fatalf("panel CONNECT: %v %x", err, p.body)
	}
	return rc
}

// atkHeapMiB is the server's live heap in MiB, from mfd stats.
func atkHeapMiB(t *testing.T, s *server) float64 {
	t.Helper()
	return atkStats(t, s)["heap_alloc"] / (1 << 20)
}

// atkNewHost returns a fresh host ID.
func atkNewHost() string { return uuid.NewString() }
