package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

// pendingByAddr counts the pending requests `mfd clients list --json`
// shows, per remote address.
func pendingByAddr(t *testing.T, s *server) (map[string]int, []string) {
	t.Helper()
	out, err := s.cli("clients", "list", "--json")
	if err != nil {
		t.Fatalf("clients list: %v %s", err, out)
	}
	var rows []struct {
		State       string `json:"state"`
		PairingCode string `json:"pairing_code"`
		RemoteAddr  string `json:"remote_addr"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	var codes []string
	for _, r := range rows {
		if r.State == "pending" {
			per[r.RemoteAddr]++
			codes = append(codes, r.PairingCode)
		}
	}
	return per, codes
}

// TestPairingFloodIsBounded: requests from many addresses fill at most
// the pending list (32), one address holds at most 2 pending requests, the
// overflow gets 429 too_many_pending with Retry-After, one address's burst
// gets 429 rate_limited, and denying a request frees its place.
func TestPairingFloodIsBounded(t *testing.T) {
	s := startServer(t)
	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	for a := 0; a < 20; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := atkHTTPS(atkSrc())
			for i := 0; i < 4; i++ {
				r := atkAuthoriseFrom(t, s, hc, uuid.NewString(), fmt.Sprintf("flood %d.%d", a, i), "", "")
				mu.Lock()
				statuses[fmt.Sprint(r.Status, " ", r.Error.Code)]++
				mu.Unlock()
				switch {
				case r.Status == 429 && (r.Error.Code != "too_many_pending" || r.Header.Get("Retry-After") == ""):
					t.Errorf("429 %s without Retry-After %q", r.Raw, r.Header.Get("Retry-After"))
				case r.Status != 202 && r.Status != 429:
					t.Errorf("a flood request got %d %s", r.Status, r.Raw)
				}
			}
		}()
	}
	wg.Wait()
	per, codes := pendingByAddr(t, s)
	t.Logf("answers: %v; pending per address: %v", statuses, per)
	if len(codes) != 32 {
		t.Errorf("mfd clients list shows %d pending out of 80 requests from 20 addresses, want exactly the bound, 32", len(codes))
	}
	for addr, n := range per {
		if n > 2 {
			t.Errorf("address %s holds %d pending requests, over the per-address bound of 2", addr, n)
		}
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

// TestPairingFloodCannotLockOut (issue 11, case 7): 8 addresses filled
// the 32 pending places (4 each) and denying one let the attacker refill
// it at once. Now one address holds at most 2, so 8 addresses hold at
// most 16 and a real device still gets a code; an address whose request
// was denied waits a minute (429 rate_limited with Retry-After) before it
// may file again; and once more addresses fill the list, a request from
// an address with none pending takes the place of the newest request of
// an address holding two, so a lockout takes 32 addresses.
func TestPairingFloodCannotLockOut(t *testing.T) {
	s := startServer(t)
	flood := func(addrs, each int) map[string]int {
		var mu sync.Mutex
		statuses := map[string]int{}
		var wg sync.WaitGroup
		for a := 0; a < addrs; a++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := atkHTTPS(atkSrc())
				for i := 0; i < each; i++ {
					r := atkAuthoriseFrom(t, s, hc, uuid.NewString(), "flood", "", "")
					mu.Lock()
					statuses[fmt.Sprint(r.Status, " ", r.Error.Code)]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return statuses
	}
	answers := flood(8, 10)
	per, codes := pendingByAddr(t, s)
	t.Logf("8 addresses x 10 requests: %v; %d pending", answers, len(codes))
	if len(codes) > 16 {
		t.Errorf("8 addresses hold %d pending requests, want at most 16", len(codes))
	}

	tablet := atkHTTPS(atkSrc())
	key := uuid.NewString()
	r := atkAuthoriseFrom(t, s, tablet, key, "Kitchen tablet", "", "")
	if r.Status != 202 {
		t.Fatalf("a real device during the flood got %d %s, want 202", r.Status, r.Raw)
	}
	if out, err := s.cli("clients", "approve", r.PairingCode); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	if a := atkAuthoriseFrom(t, s, tablet, key, "Kitchen tablet", "", ""); a.Status != 200 {
		t.Errorf("the real device after approval: %d %s", a.Status, a.Raw)
	}

	// Deny a flood request: its address cannot refill the place.
	var denied string
	for addr := range per {
		denied = addr
		break
	}
	out, err := s.cli("clients", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		PairingCode string `json:"pairing_code"`
		RemoteAddr  string `json:"remote_addr"`
	}
	_ = json.Unmarshal([]byte(out), &rows)
	for _, row := range rows {
		if row.RemoteAddr == denied && row.PairingCode != "" {
			if out, err := s.cli("clients", "deny", row.PairingCode); err != nil {
				t.Fatalf("deny: %v %s", err, out)
			}
			break
		}
	}
	again := atkAuthoriseFrom(t, s, atkHTTPS(denied), uuid.NewString(), "flood", "", "")
	t.Logf("the denied address asks again: %d %s, Retry-After %q", again.Status, again.Error.Code, again.Header.Get("Retry-After"))
	if ra, _ := strconv.Atoi(again.Header.Get("Retry-After")); again.Status != 429 || again.Error.Code != "rate_limited" || ra < 50 {
		t.Errorf("the denied address asking again: %d %s Retry-After %q, want 429 rate_limited for about a minute", again.Status, again.Raw, again.Header.Get("Retry-After"))
	}

	// 16 more addresses fill the list; a newcomer still gets a place:
	// locking everyone out takes as many addresses as there are places.
	answers = flood(16, 3)
	_, codes = pendingByAddr(t, s)
	t.Logf("16 more addresses x 3 requests: %v; %d pending", answers, len(codes))
	if len(codes) != 32 {
		t.Errorf("%d pending after 24 addresses flooded, want the list full (32)", len(codes))
	}
	if r := atkAuthoriseFrom(t, s, atkHTTPS(atkSrc()), uuid.NewString(), "Phone", "", ""); r.Status != 202 {
		t.Errorf("a newcomer into the full list got %d %s, want 202 (room made)", r.Status, r.Raw)
	}
	per, codes = pendingByAddr(t, s)
	if len(codes) != 32 {
		t.Errorf("%d pending after the newcomer, want 32", len(codes))
	}
	for addr, n := range per {
		if n > 2 {
			t.Errorf("address %s holds %d pending", addr, n)
		}
	}
}
