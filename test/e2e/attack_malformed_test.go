package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// A malformed-packet case in the spirit of Mosquitto's broker tests
// (test/broker/02-*, 03-*, 12-*): raw bytes sent before CONNECT (pre) or
// after a good one (post). Whatever the bytes, the server must close the
// connection, without a successful answer, and stay up, leaving no client
// behind.
type atkMalformed struct {
	name string
	pre  bool   // sent instead of CONNECT
	v5   bool   // the protocol the connection speaks
	b    []byte // the bytes
}

func atkHex(s string) []byte {
	var out []byte
	for _, f := range strings.Fields(s) {
		var v byte
		fmt.Sscanf(f, "%02x", &v)
		out = append(out, v)
	}
	return out
}

// atkConnectBody builds a CONNECT body by hand: protocol name and level,
// flags, keepalive, properties (v5) and payload, each given raw.
func atkConnectBody(name string, level, flags byte, props, payload []byte) []byte {
	var b bytes.Buffer
	b.Write(encStr(name))
	b.WriteByte(level)
	b.WriteByte(flags)
	b.Write([]byte{0, 30})
	if level == 5 {
		b.Write(props)
	}
	b.Write(payload)
	return b.Bytes()
}

// atkMalformedCases is the table: every packet type truncated, remaining
// lengths short, long and over-long, bad property IDs, reserved flags and
// types, for MQTT 3.1.1 and 5.
func atkMalformedCases() []atkMalformed {
	var cs []atkMalformed
	add := func(pre, v5 bool, name string, b []byte) {
		cs = append(cs, atkMalformed{name: name, pre: pre, v5: v5, b: b})
	}
	for _, v5 := range []bool{false, true} {
		level := byte(4)
		noProps := []byte{}
		if v5 {
			level = 5
			noProps = []byte{0}
		}
		id := encStr("m")
		conn := func(flags byte, props, payload []byte) []byte {
			return frame(0x10, atkConnectBody("MQTT", level, flags, props, payload))
		}
		good := conn(0x02, noProps, id)
		pre := func(name string, b []byte) { add(true, v5, name, b) }
		post := func(name string, b []byte) { add(false, v5, name, b) }

		// CONNECT, before anything else.
		pre("CONNECT remaining length 0", atkHex("10 00"))
		pre("CONNECT remaining length 1", atkHex("10 01 00"))
		pre("CONNECT remaining length short by one", append(atkHex("10"), append(encLen(len(good)-3), good[2:len(good)-1]...)...))
		pre("CONNECT remaining length long by one, then silence", append(atkHex("10"), append(encLen(len(good)-1), good[2:]...)...))
		pre("CONNECT remaining length as five bytes", atkHex("10 ff ff ff ff 01"))
		pre("CONNECT remaining length over the packet cap", append(atkHex("10"), encLen(16<<10+1)...))
		pre("CONNECT remaining length 256 MiB", atkHex("10 ff ff ff 7f"))
		pre("CONNECT truncated protocol name", atkHex("10 04 00 04 4d 51"))
		pre("CONNECT protocol name MQTX", frame(0x10, atkConnectBody("MQTX", level, 0x02, noProps, id)))
		pre("CONNECT protocol name MQIsdp (3.1)", frame(0x10, atkConnectBody("MQIsdp", 3, 0x02, nil, id)))
		pre("CONNECT protocol level 3", frame(0x10, atkConnectBody("MQTT", 3, 0x02, nil, id)))
		pre("CONNECT protocol level 6", frame(0x10, atkConnectBody("MQTT", 6, 0x02, nil, id)))
		pre("CONNECT protocol level 0", frame(0x10, atkConnectBody("MQTT", 0, 0x02, nil, id)))
		pre("CONNECT fixed header flags set", append([]byte{0x1f}, good[1:]...))
		pre("CONNECT reserved connect flag", conn(0x03, noProps, id))
		pre("CONNECT will QoS 3", conn(0x1e, noProps, append(append(id, willProps(v5)...), append(encStr("t"), encStr("w")...)...)))
		pre("CONNECT will retain without will flag", conn(0x22, noProps, id))
		pre("CONNECT will flag, no will topic", conn(0x06, noProps, id))
		pre("CONNECT password flag, no password", conn(0x42, noProps, id))
		pre("CONNECT username flag, no username", conn(0x82, noProps, id))
		pre("CONNECT client id longer than the packet", conn(0x02, noProps, atkHex("00 40 61 62")))
		pre("CONNECT client id not UTF-8", conn(0x02, noProps, append(atkHex("00 02"), 0xc3, 0x28)))
		pre("CONNECT client id with NUL", conn(0x02, noProps, append(atkHex("00 02"), 'a', 0)))
		pre("CONNECT keepalive missing", frame(0x10, append(encStr("MQTT"), level, 0x02)))
		pre("CONNECT username over the packet", conn(0xc2, noProps, append(id, atkHex("ff ff 61")...)))
		pre("CONNECT trailing garbage", conn(0x02, noProps, append(id, 1, 2, 3)))
		if v5 {
			pre("CONNECT v5 property id 0xff", conn(0x02, atkHex("02 ff 00"), id))
			pre("CONNECT v5 property id 0x00", conn(0x02, atkHex("02 00 00"), id))
			pre("CONNECT v5 server-only property (assigned client id)", conn(0x02, atkHex("04 12 00 01 61"), id))
			pre("CONNECT v5 property length past the packet", conn(0x02, atkHex("7f 11"), id))
			pre("CONNECT v5 property length as five bytes", conn(0x02, atkHex("ff ff ff ff 01"), id))
			pre("CONNECT v5 property truncated (session expiry, 2 of 4)", conn(0x02, atkHex("03 11 00 00"), id))
			pre("CONNECT v5 session expiry twice", conn(0x02, atkHex("0a 11 00 00 00 01 11 00 00 00 02"), id))
			pre("CONNECT v5 receive maximum 0", conn(0x02, atkHex("03 21 00 00"), id))
			pre("CONNECT v5 maximum packet size 0", conn(0x02, atkHex("05 27 00 00 00 00"), id))
			pre("CONNECT v5 user property truncated", conn(0x02, atkHex("05 26 00 05 61 62"), id))
			pre("CONNECT v5 auth method, no data, unknown", conn(0x02, atkHex("06 15 00 03 78 79 7a"), id))
			pre("CONNECT v5 will property id 0xff", conn(0x06, noProps, append(append(id, atkHex("02 ff 00")...), append(encStr("t"), encStr("w")...)...)))
		}
		// Something other than CONNECT first.
		for _, p := range []struct {
			name string
			b    string
		}{
			{"PUBLISH first", "30 05 00 01 61 00 78"},
			{"PUBACK first", "40 02 00 01"},
			{"SUBSCRIBE first", "82 06 00 01 00 01 23 00"},
			{"UNSUBSCRIBE first", "a2 05 00 01 00 01 23"},
			{"PINGREQ first", "c0 00"},
			{"DISCONNECT first", "e0 00"},
			{"AUTH first", "f0 00"},
			{"CONNACK first", "20 02 00 00"},
			{"reserved type 0 first", "00 00"},
			{"one byte and silence", "10"},
			{"HTTP on the MQTT port", "47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a 0d 0a"},
		} {
			pre(p.name, atkHex(p.b))
		}

		// After a good CONNECT.
		pk := func(first byte, body string, v5body string) []byte {
			if v5 && v5body != "" {
				return frame(first, atkHex(v5body))
			}
			return frame(first, atkHex(body))
		}
		post("second CONNECT", good)
		post("PUBLISH remaining length 0", atkHex("30 00"))
		post("PUBLISH topic length past the packet", atkHex("30 03 00 05 61"))
		post("PUBLISH QoS 3", pk(0x36, "00 01 61 00 01 78", "00 01 61 00 01 00 78"))
		post("PUBLISH QoS 1 without packet id", atkHex("32 03 00 01 61"))
		post("PUBLISH QoS 1 packet id 0", pk(0x32, "00 01 61 00 00 78", "00 01 61 00 00 00 78"))
		post("PUBLISH wildcard in topic", pk(0x30, "00 03 61 2f 23 78", "00 03 61 2f 23 00 78"))
		post("PUBLISH topic not UTF-8", pk(0x30, "00 02 c3 28 78", "00 02 c3 28 00 78"))
		post("PUBLISH DUP on QoS 0", pk(0x38, "00 01 61 78", "00 01 61 00 78"))
		post("PUBLISH over the packet cap", append(atkHex("30"), encLen(16<<10+1)...))
		post("PUBLISH remaining length as five bytes", atkHex("30 80 80 80 80 01"))
		post("PUBLISH truncated, then silence", atkHex("30 7f 00 01 61"))
		if v5 {
			post("PUBLISH v5 property id 0xff", frame(0x30, atkHex("00 01 61 02 ff 00 78")))
			post("PUBLISH v5 property length past the packet", frame(0x30, atkHex("00 01 61 7f 01 00")))
			post("PUBLISH v5 topic alias 0", frame(0x30, atkHex("00 01 61 03 23 00 00 78")))
			post("PUBLISH v5 topic alias past the maximum", frame(0x30, atkHex("00 00 03 23 00 05 78")))
			post("PUBLISH v5 subscription identifier from a client", frame(0x30, atkHex("00 01 61 02 0b 01 78")))
			post("PUBLISH v5 payload format twice", frame(0x30, atkHex("00 01 61 04 01 01 01 01 78")))
			post("PUBLISH v5 empty topic, no alias", frame(0x30, atkHex("00 00 00 78")))
		}
		post("PUBACK truncated", atkHex("40 01 00"))
		post("PUBREC truncated", atkHex("50 01 00"))
		post("PUBREL wrong flags", atkHex("60 02 00 01"))
		post("PUBREL truncated", atkHex("62 01 00"))
		post("PUBCOMP truncated", atkHex("70 01 00"))
		post("SUBSCRIBE wrong flags", pk(0x80, "00 01 00 01 61 00", "00 01 00 00 01 61 00"))
		post("SUBSCRIBE no filter", pk(0x82, "00 01", "00 01 00"))
		post("SUBSCRIBE truncated filter (mochi #501)", atkHex("82 06 00 01 00 00 01 61"))
		post("SUBSCRIBE truncated after packet id", atkHex("82 03 00 01 05"))
		post("SUBSCRIBE filter without options", pk(0x82, "00 01 00 01 61", "00 01 00 00 01 61"))
		post("SUBSCRIBE QoS 3", pk(0x82, "00 01 00 01 61 03", "00 01 00 00 01 61 03"))
		post("SUBSCRIBE reserved option bits", pk(0x82, "00 01 00 01 61 c0", "00 01 00 00 01 61 c0"))
		post("SUBSCRIBE packet id 0", pk(0x82, "00 00 00 01 61 00", "00 00 00 00 01 61 00"))
		post("SUBSCRIBE empty filter", pk(0x82, "00 01 00 00 00", "00 01 00 00 00 00"))
		post("SUBSCRIBE bad wildcard", pk(0x82, "00 01 00 03 61 23 62 00", "00 01 00 00 03 61 23 62 00"))
		if v5 {
			post("SUBSCRIBE v5 property id 0xff", frame(0x82, atkHex("00 01 02 ff 00 00 01 61 00")))
			post("SUBSCRIBE v5 subscription identifier 0", frame(0x82, atkHex("00 01 02 0b 00 00 01 61 00")))
			post("SUBSCRIBE v5 retain handling 3", frame(0x82, atkHex("00 01 00 00 01 61 30")))
			post("SUBSCRIBE v5 no local on a shared filter", frame(0x82, atkHex("00 01 00 00 09 24 73 68 61 72 65 2f 67 2f 61 04")))
		}
		post("UNSUBSCRIBE wrong flags", pk(0xa0, "00 01 00 01 61", "00 01 00 00 01 61"))
		post("UNSUBSCRIBE no filter", pk(0xa2, "00 01", "00 01 00"))
		post("UNSUBSCRIBE truncated filter", pk(0xa2, "00 01 00 05 61", "00 01 00 00 05 61"))
		post("PINGREQ with a body", atkHex("c0 01 00"))
		post("CONNACK from a client", atkHex("20 02 00 00"))
		post("SUBACK from a client", atkHex("90 03 00 01 00"))
		post("UNSUBACK from a client", atkHex("b0 02 00 01"))
		post("PINGRESP from a client", atkHex("d0 00"))
		post("reserved type 0", atkHex("00 00"))
		post("DISCONNECT wrong flags", atkHex("e1 00"))
		if v5 {
			post("DISCONNECT v5 property length past the packet", atkHex("e0 03 00 05 00"))
			post("DISCONNECT v5 property id 0xff", atkHex("e0 04 00 02 ff 00"))
			post("AUTH v5 truncated", atkHex("f0 02 19 05"))
			post("AUTH v5 unknown method", frame(0xf0, append([]byte{0x19, 6, 0x15}, encStr("xyz")...)))
			post("AUTH v5 reason 0x18 from a client", atkHex("f0 02 18 00"))
		} else {
			post("AUTH on 3.1.1", atkHex("f0 00"))
		}
	}
	return cs
}

// willProps is the will property block for v5 (empty), nothing for 3.1.1.
func willProps(v5 bool) []byte {
	if v5 {
		return []byte{0}
	}
	return nil
}

// TestMalformedPacketTable sends every case of the table over WSS and over
// TLS TCP, many at once from distinct loopback addresses. Each connection
// must be closed by the server (after a good CONNECT the keepalive is 1 s,
// so even a packet that waits for more bytes is cut off; before CONNECT the
// 5 s handshake deadline does it), with no successful answer to the bad
// bytes. Afterwards the server is up, a panel is served, the broker holds
// exactly the clients it held before, and the heap is where it was.
func TestMalformedPacketTable(t *testing.T) {
	s := startServer(t)
	_, a := s.pair("A", "", nil)
	cases := atkMalformedCases()
	base := atkStats(t, s)
	t.Logf("%d cases x 2 transports; before: %v", len(cases), base)

	type result struct {
		over string
		c    atkMalformed
		err  string
	}
	var (
		mu       sync.Mutex
		failures []result
		wg       sync.WaitGroup
		sem      = make(chan struct{}, 48)
	)
	fail := func(over string, c atkMalformed, format string, args ...any) {
		mu.Lock()
		failures = append(failures, result{over, c, fmt.Sprintf(format, args...)})
		mu.Unlock()
	}
	for i, c := range cases {
		for _, over := range []string{"wss", "tls"} {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				conn, err := atkDial(s, over, atkSrc())
				if err != nil {
					fail(over, c, "dial: %v", err)
					return
				}
				rc := newRaw(conn, c.v5)
				defer rc.close()
				wait := 7 * time.Second
				if !c.pre {
					p, err := atkConnect(rc, fmt.Sprintf("%s/m%d-%s", a.Sub, i, over), a.Sub, a.Token, 1)
					if err != nil || p.body[1] != 0 {
						fail(over, c, "good CONNECT: %v %x", err, p.body)
						return
					}
					wait = 4 * time.Second
				}
				_ = rc.send(c.b)
				closed, got := atkClosed(rc, wait)
				if !closed {
					fail(over, c, "connection still open %v after the bytes (got %d packets)", wait, len(got))
				}
				for _, p := range got {
					switch {
					case p.typ == 2 && len(p.body) >= 2 && p.body[1] == 0:
						fail(over, c, "got CONNACK success")
					case p.typ == 9 && len(p.body) >= 3 && p.body[len(p.body)-1] < 0x80:
						fail(over, c, "got SUBACK granting %#x", p.body[len(p.body)-1])
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, f := range failures {
		t.Errorf("%s, %s (v5 %v): %s", f.over, f.c.name, f.c.v5, f.err)
	}
	if !s.alive() {
		t.Fatalf("mfd serve died:\n%s", s.out)
	}
	atkServed(t, s, a, time.Second)
	var after map[string]float64
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		after = atkStats(t, s)
		if after["mqtt_clients"] != base["mqtt_clients"] || after["mqtt_sessions"] != base["mqtt_sessions"] {
			return fmt.Errorf("broker holds %v clients and %v sessions, before the attack %v and %v: ghosts",
				after["mqtt_clients"], after["mqtt_sessions"], base["mqtt_clients"], base["mqtt_sessions"])
		}
		if after["goroutines"] > base["goroutines"]+10 {
			return fmt.Errorf("%v goroutines, %v before", after["goroutines"], base["goroutines"])
		}
		return nil
	})
	if grew := after["heap_alloc"] - base["heap_alloc"]; grew > 8<<20 {
		t.Errorf("live heap grew by %.0f bytes (from %.0f to %.0f), want flat", grew, base["heap_alloc"], after["heap_alloc"])
	}
	if strings.Contains(s.out.String(), "panic") {
		t.Logf("the server recovered from a panic (a defence, logged): %s", grepLines(s.out.String(), "panic"))
	}
	t.Logf("after: %v", after)
}

// grepLines returns the lines of s that contain word.
func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
