package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestInputSwitchFromTheHost: `mfd input off` on the host makes every
// client's command fail with input_off, and the retained input topic says
// OFF; `mfd input on` serves them again. A server without an agent says
// why it cannot.
func TestInputSwitchFromTheHost(t *testing.T) {
	s := startServer(t, withAgent("")) // no display: input "unavailable"
	p := newPanel(t, s, "switch watcher")
	st := waitStatus(t, p.connect("/status"), "the host online", func(h hostStatus) bool { return h.Online })

	ping := func(id string) reply {
		t.Helper()
		p.send(st.Host, map[string]any{"id": id, "op": "release.all"}, id)
		return p.nextReply(id)
	}
	if r := ping("before"); r.Error != nil && r.Error.Code == "input_off" {
		t.Fatalf("input is off before anyone switched it: %v", r)
	}
	if out, err := s.cli("input", "off"); err != nil || !strings.Contains(out, "off") {
		t.Fatalf("mfd input off: %v %q", err, out)
	}
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if r := ping(fmt.Sprint("off-", time.Now().UnixNano())); r.Error == nil || r.Error.Code != "input_off" {
			return fmt.Errorf("after mfd input off the reply is %v, want input_off", r)
		}
		return nil
	})
	watch := p.connect("/input")
	if code, err := watch.subscribe(9, "mfd/v1/hosts/"+st.Host+"/input"); err != nil || code != 0 {
		t.Fatalf("SUBSCRIBE input = %#x %v", code, err)
	}
	m, err := watch.readMessage(5 * time.Second)
	if err != nil || string(m.payload) != "OFF" || !m.retain {
		t.Fatalf("retained input = %q retain %v (%v), want OFF retained", m.payload, m.retain, err)
	}
	if out, err := s.cli("input", "on"); err != nil {
		t.Fatalf("mfd input on: %v %q", err, out)
	}
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if r := ping(fmt.Sprint("on-", time.Now().UnixNano())); r.Error != nil && r.Error.Code == "input_off" {
			return fmt.Errorf("after mfd input on the reply is still %v", r)
		}
		return nil
	})
	if out, err := s.cli("input", "sideways"); err == nil {
		t.Errorf("mfd input sideways succeeded: %q", out)
	}

	bare := startServer(t) // --no-agent
	if out, err := bare.cli("input", "off"); err == nil || !strings.Contains(out, "no agent") {
		t.Errorf("mfd input off on a server without an agent: %v %q, want an error saying it has no agent", err, out)
	}
}
