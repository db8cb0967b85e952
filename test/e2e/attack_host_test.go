package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// hostRow is `mfd clients list --json` with the host fields.
type hostRow struct {
	Sub         string `json:"sub"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	State       string `json:"state"`
	PairingCode string `json:"pairing_code"`
	Host        string `json:"host"`
	HostShort   string `json:"host_short"`
	HostName    string `json:"host_name"`
	HostTakenBy string `json:"host_taken_by"`
}

func (s *server) hostRows(t *testing.T) []hostRow {
	t.Helper()
	out, err := s.cli("clients", "list", "--json")
	if err != nil {
		t.Fatalf("mfd clients list --json: %v\n%s", err, out)
	}
	var rows []hostRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("mfd clients list --json printed %q: %v", out, err)
	}
	return rows
}

// TestHostIDTakeover (issue 11, case 1): an approved device that pairs as
// an agent under a host ID another agent holds (read from the status
// topics every client may read) is refused: 403 host_taken, no pending
// request, nothing to approve; so it gets no token and can read, press or
// overwrite nothing of that host. That holds for the server's own host and
// for a remote one; of two requests racing for a new host ID the second
// cannot be approved once the first is. clients list, the log line and the
// notification show the host by name and short ID.
func TestHostIDTakeover(t *testing.T) {
	s := startServer(t, withAgent(""))
	_, panel := s.pair("Tablet", "", nil)
	pc := atkPanelConn(t, s, panel, "watch", "127.0.0.1")
	if code, err := pc.subscribe(1, "mfd/v1/hosts/+/status"); err != nil || code > 2 {
		t.Fatalf("panel SUBSCRIBE status: %#x %v", code, err)
	}
	m, err := pc.readMessage(10 * time.Second)
	if err != nil {
		t.Fatalf("the server's own agent published no status: %v", err)
	}
	own := strings.Split(m.topic, "/")[3]
	t.Logf("the server's own host: %s", own)

	// A remote host, paired first.
	remote := atkNewHost()
	ag, agent := atkPairAgent(t, s, remote)
	if _, err := agent.rawClient.publish(1, "mfd/v1/hosts/"+remote+"/status", []byte(`{"host":"`+remote+`","name":"desk","online":true}`), true); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, host string }{
		{"the server's own host", own},
		{"a remote agent's host", remote},
	} {
		key := uuid.NewString()
		r := s.authorise(key, "desk", "agent", map[string]string{"host_id": tc.host})
		t.Logf("%s: POST /authorise as an agent for its host ID: %d %s", tc.name, r.Status, r.Raw)
		if r.Status != 403 || r.Error.Code != "host_taken" {
			t.Errorf("%s: a second agent for host %s got %d %s, want 403 host_taken", tc.name, tc.host[:8], r.Status, r.Raw)
		}
		for _, row := range s.hostRows(t) {
			if row.State == "pending" && row.Host == tc.host {
				t.Errorf("%s: a pending request for the taken host is listed: %+v", tc.name, row)
			}
		}
		if r.PairingCode != "" {
			if out, err := s.cli("clients", "approve", r.PairingCode); err == nil {
				t.Errorf("%s: the rogue request was approved: %s", tc.name, out)
			}
		}
		if a := s.authorise(key, "desk", "agent", map[string]string{"host_id": tc.host}); a.Token != "" {
			t.Errorf("%s: the rogue agent got a token", tc.name)
		}
	}

	// Two requests race for a new host ID: the first approved holds it;
	// the second is flagged in clients list and cannot be approved.
	fresh := atkNewHost()
	k1, k2 := uuid.NewString(), uuid.NewString()
	r1 := s.authorise(k1, "laptop", "agent", map[string]string{"host_id": fresh})
	r2 := s.authorise(k2, "laptop", "agent", map[string]string{"host_id": fresh})
	if r1.Status != 202 || r2.Status != 202 {
		t.Fatalf("racing requests for a new host: %d and %d, want 202 each", r1.Status, r2.Status)
	}
	if out, err := s.cli("clients", "approve", r1.PairingCode); err != nil {
		t.Fatalf("approve %s: %v %s", r1.PairingCode, err, out)
	}
	a1 := s.authorise(k1, "laptop", "agent", map[string]string{"host_id": fresh})
	var flagged bool
	for _, row := range s.hostRows(t) {
		if row.PairingCode == r2.PairingCode {
			flagged = row.HostTakenBy == a1.Sub && row.HostShort == fresh[:8]
			t.Logf("clients list --json, the second request: %+v", row)
		}
	}
	if !flagged {
		t.Errorf("clients list does not flag the second request for %s as taken by %s", fresh[:8], a1.Sub)
	}
	if text, err := s.cli("clients", "list"); err != nil || !strings.Contains(text, "laptop ("+fresh[:8]+") TAKEN by "+a1.Sub) {
		t.Errorf("clients list does not flag the second request as taken:\n%s", text)
	}
	if out, err := s.cli("clients", "approve", r2.PairingCode); err == nil || !strings.Contains(out, "already paired") {
		t.Errorf("approving the second request for a taken host: %v %s, want refused", err, out)
	}
	if a := s.authorise(k2, "laptop", "agent", map[string]string{"host_id": fresh}); a.Status != 403 || a.Error.Code != "host_taken" {
		t.Errorf("the second device afterwards: %d %s, want 403 host_taken", a.Status, a.Raw)
	}

	// The real host's status was never touched.
	sub := atkPanelConn(t, s, panel, "late", "127.0.0.1")
	if code, err := sub.subscribe(1, "mfd/v1/hosts/"+remote+"/status"); err != nil || code > 2 {
		t.Fatalf("SUBSCRIBE: %#x %v", code, err)
	}
	if m, err := sub.readMessage(3 * time.Second); err != nil || !strings.Contains(string(m.payload), `"name":"desk"`) {
		t.Errorf("the remote host's retained status: %q %v", m.payload, err)
	}

	// clients list (text and JSON), the log and the notification show
	// the host.
	var agentRow hostRow
	for _, row := range s.hostRows(t) {
		if row.Sub == ag.Sub {
			agentRow = row
		}
	}
	if agentRow.HostShort != remote[:8] || agentRow.HostName == "" || agentRow.Host != remote {
		t.Errorf("clients list --json for the remote agent: %+v, want host %s with its name and short ID", agentRow, remote)
	}
	text, err := s.cli("clients", "list")
	if err != nil || !strings.Contains(text, agentRow.HostName+" ("+remote[:8]+")") {
		t.Errorf("clients list does not show hosts by name and short ID:\n%s", text)
	}
	if out := s.out.String(); !strings.Contains(out, "host="+fresh[:8]) || !strings.Contains(out, "host_name=laptop") {
		t.Errorf("the pairing log line does not name the host %s:\n%s", fresh[:8], out)
	}
}
