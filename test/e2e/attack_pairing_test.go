package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// atkAuthoriseFrom posts a pairing request for key from source address src.
func atkAuthoriseFrom(t *testing.T, s *server, hc *http.Client, key, name, query, origin string) authResp {
	t.Helper()
	body := fmt.Sprintf(`{"client_id":%q,"name":%q}`, key, name)
	req, _ := http.NewRequest("POST", "https://"+s.addr+"/authorise"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /authorise: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a authResp
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("POST /authorise answered %s with %q", resp.Status, b)
	}
	a.Status, a.Header, a.Raw = resp.StatusCode, resp.Header, string(b)
	return a
}

// TestPairingFloodIsBounded: requests from many addresses fill at most
// the pending list (32), one address holds at most 4 pending requests, the
// overflow gets 429 too_many_pending with Retry-After, one address's burst
// gets 429 rate_limited, and denying a request frees its place.
func TestPairingFloodIsBounded(t *testing.T) {
	s := startServer(t)
	var mu sync.Mutex
	statuses := map[string]int{}
	var codes []string
	var wg sync.WaitGroup
	for a := 0; a < 12; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := atkHTTPS(atkSrc())
			for i := 0; i < 6; i++ {
				r := atkAuthoriseFrom(t, s, hc, uuid.NewString(), fmt.Sprintf("flood %d.%d", a, i), "", "")
				mu.Lock()
				key := fmt.Sprint(r.Status, " ", r.Error.Code)
				statuses[key]++
				if r.Status == 202 {
					codes = append(codes, r.PairingCode)
				}
				mu.Unlock()
				switch {
				case r.Status == 202 && i >= 4:
					t.Errorf("address %d got its request %d pending: over the per-address bound of 4", a, i+1)
				case r.Status == 429 && (r.Error.Code != "too_many_pending" || r.Header.Get("Retry-After") == ""):
					t.Errorf("429 %s without Retry-After %q", r.Raw, r.Header.Get("Retry-After"))
				case r.Status != 202 && r.Status != 429:
					t.Errorf("a flood request got %d %s", r.Status, r.Raw)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("answers: %v", statuses)
	if n := statuses["202 "]; n != 32 {
		t.Errorf("%d requests pending out of 72 from 12 addresses, want exactly the bound, 32", n)
	}
	pending := 0
	for _, r := range s.list() {
		if r.State == "pending" {
			pending++
		}
	}
	if pending != 32 {
		t.Errorf("mfd clients list shows %d pending, want 32", pending)
	}
	// One address polling fast: its bucket runs out.
	hc := atkHTTPS(atkSrc())
	key := uuid.NewString()
	var limited authResp
	for i := 0; i < 60 && limited.Status != 429; i++ {
		limited = atkAuthoriseFrom(t, s, hc, key, "poller", "", "")
	}
	if limited.Status != 429 || limited.Header.Get("Retry-After") == "" {
		t.Errorf("60 quick requests from one address: last %d %s, want 429 with Retry-After", limited.Status, limited.Raw)
	}
	// The user denies one: a real device gets its place.
	if out, err := s.cli("clients", "deny", codes[0]); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	if r := atkAuthoriseFrom(t, s, atkHTTPS(atkSrc()), uuid.NewString(), "real tablet", "", ""); r.Status != 202 {
		t.Errorf("after denying one flood request a new device got %d %s, want 202", r.Status, r.Raw)
	}
}

// TestForeignOriginVariants: every Origin that is not the server's own
// https origin is refused with 403 on /authorise and on the WebSocket
// upgrade; our own origin is the control.
func TestForeignOriginVariants(t *testing.T) {
	s := startServer(t)
	port := s.addr[strings.LastIndex(s.addr, ":")+1:]
	for _, o := range []string{
		"null",
		"https://evil.example",
		"http://" + s.addr,
		"https://127.0.0.1",
		"https://127.0.0.1:1",
		"https://" + s.addr + ".evil.example",
		"https://evil.example:" + port,
		"https://user@" + s.addr,
		"https://" + s.addr + "/path",
		"wss://" + s.addr,
		"file://",
		"https://",
	} {
		if r := atkAuthoriseFrom(t, s, insecure, uuid.NewString(), "x", "", o); r.Status != 403 {
			t.Errorf("POST /authorise with Origin %q = %d %s, want 403", o, r.Status, r.Raw)
		}
		_, resp, err := dialWSS(t, s.addr, o, "mqtt")
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("WebSocket upgrade with Origin %q: %v %v, want 403", o, err, resp)
		}
	}
	if r := atkAuthoriseFrom(t, s, insecure, uuid.NewString(), "x", "", "https://"+s.addr); r.Status != 202 {
		t.Errorf("the control, our own origin: %d %s", r.Status, r.Raw)
	}
}

// TestRacingPairingRequests: two devices with the same name ask at the
// same moment. Each gets its own code; approving one code approves only
// the device that holds it, even while the other waits on ?wait=; a code
// works once.
func TestRacingPairingRequests(t *testing.T) {
	s := startServer(t)
	k1, k2 := uuid.NewString(), uuid.NewString()
	var r1, r2 authResp
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r1 = atkAuthoriseFrom(t, s, atkHTTPS(atkSrc()), k1, "Kitchen tablet", "", "") }()
	go func() { defer wg.Done(); r2 = atkAuthoriseFrom(t, s, atkHTTPS(atkSrc()), k2, "Kitchen tablet", "", "") }()
	wg.Wait()
	if r1.Status != 202 || r2.Status != 202 || r1.PairingCode == r2.PairingCode {
		t.Fatalf("racing requests: %d %q and %d %q, want 202 each with its own code", r1.Status, r1.PairingCode, r2.Status, r2.PairingCode)
	}
	// Device 2 waits for a decision while device 1's code is approved.
	waiting := make(chan authResp, 1)
	go func() { waiting <- atkAuthoriseFrom(t, s, insecure, k2, "Kitchen tablet", "?wait=3", "") }()
	time.Sleep(300 * time.Millisecond)
	if out, err := s.cli("clients", "approve", r1.PairingCode); err != nil {
		t.Fatalf("approve %s: %v %s", r1.PairingCode, err, out)
	}
	if a := s.authorise(k1, "Kitchen tablet", "", nil); a.Status != 200 || a.Token == "" {
		t.Errorf("device 1 after its code was approved: %d %s", a.Status, a.Raw)
	}
	w := <-waiting
	if w.Status != 202 || w.PairingCode != r2.PairingCode {
		t.Errorf("device 2, waiting while device 1's code was approved: %d %s, want 202 with its own code %s", w.Status, w.Raw, r2.PairingCode)
	}
	if out, err := s.cli("clients", "approve", r1.PairingCode); err == nil {
		t.Errorf("approving a used code again succeeded: %s", out)
	}
	if out, err := s.cli("clients", "approve", r2.PairingCode); err != nil {
		t.Fatalf("approve %s: %v %s", r2.PairingCode, err, out)
	}
	a1, a2 := s.authorise(k1, "Kitchen tablet", "", nil), s.authorise(k2, "Kitchen tablet", "", nil)
	if a2.Status != 200 || a2.Sub == a1.Sub {
		t.Errorf("device 2 after its own code: %d sub %s (device 1 is %s)", a2.Status, a2.Sub, a1.Sub)
	}
}
