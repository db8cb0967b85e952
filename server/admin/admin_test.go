package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/privdir"
	"github.com/openmfd/mfd/internal/testdir"
	"github.com/openmfd/mfd/internal/wire"
)

// leakIgnores names goroutines that live for the whole process by design
// (set per OS).
var leakIgnores []goleak.Option

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakIgnores...) }

// fakeHandler records what the channel asks of it and answers from fields.
type fakeHandler struct {
	mu    sync.Mutex
	calls []string
	input error
}

func (f *fakeHandler) rec(c string) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakeHandler) List() []authsvc.ClientInfo {
	f.rec("list")
	return []authsvc.ClientInfo{{Sub: "p-a", Name: "tablet", Role: wire.RolePanel, State: authsvc.StateApproved}}
}

func (f *fakeHandler) Approve(c string) (authsvc.ClientInfo, error) {
	f.rec("approve " + c)
	if c == "000000" {
		return authsvc.ClientInfo{}, errors.New("no pending request with code 000000")
	}
	return authsvc.ClientInfo{Sub: "p-a", State: authsvc.StateApproved}, nil
}

func (f *fakeHandler) Deny(c string) (authsvc.ClientInfo, error) {
	f.rec("deny " + c)
	return authsvc.ClientInfo{Sub: ids.Subject(c), State: authsvc.StateDenied}, nil
}

func (f *fakeHandler) Revoke(s string) (authsvc.ClientInfo, error) {
	f.rec("revoke " + s)
	return authsvc.ClientInfo{Sub: ids.Subject(s), State: authsvc.StateRevoked}, nil
}

func (f *fakeHandler) AddIntegration(n string) (ids.Subject, string, error) {
	f.rec("add_integration " + n)
	return "i-ha", "secret", nil
}

func (f *fakeHandler) Prune(d time.Duration, dry bool) ([]authsvc.ClientInfo, error) {
	f.rec("prune " + d.String())
	return nil, nil
}

func (f *fakeHandler) Stats() Stats {
	f.rec("stats")
	fds := 12
	return Stats{Goroutines: 7, HeapAlloc: 1 << 20, MQTTClients: 3, OpenFDs: &fds}
}

func (f *fakeHandler) SetInput(on bool) error {
	if on {
		f.rec("input on")
	} else {
		f.rec("input off")
	}
	return f.input
}

// stateDir makes a state dir as the server does: private to the user.
func stateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testdir.New(t), "state")
	if err := privdir.Make(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serve opens dir's admin channel with h until the test ends.
func serve(t *testing.T, dir string, h Handler) {
	t.Helper()
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(ctx, ln, h, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		<-done
	})
}

// TestRequestsReachTheHandler: every client call arrives as the typed
// request it is and its typed answer comes back; errors come back as
// errors.
func TestRequestsReachTheHandler(t *testing.T) {
	dir := stateDir(t)
	h := &fakeHandler{}
	serve(t, dir, h)
	checkPrivate(t, dir)
	ac, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()

	if list, err := ac.List(); err != nil || len(list) != 1 || list[0].Sub != "p-a" {
		t.Errorf("List() = %+v, %v; want p-a", list, err)
	}
	if _, err := ac.Approve("000000"); err == nil || !strings.Contains(err.Error(), "no pending request with code 000000") {
		t.Errorf("Approve(000000) = %v, want the handler's error", err)
	}
	if ci, err := ac.Approve("123456"); err != nil || ci.State != authsvc.StateApproved {
		t.Errorf("Approve(123456) = %+v, %v", ci, err)
	}
	if ci, err := ac.Deny("p-b"); err != nil || ci.Sub != "p-b" || ci.State != authsvc.StateDenied {
		t.Errorf("Deny(p-b) = %+v, %v", ci, err)
	}
	if ci, err := ac.Revoke("p-c"); err != nil || ci.State != authsvc.StateRevoked {
		t.Errorf("Revoke(p-c) = %+v, %v", ci, err)
	}
	if sub, tok, err := ac.AddIntegration("Home Assistant"); err != nil || sub != "i-ha" || tok != "secret" {
		t.Errorf("AddIntegration = %s, %s, %v", sub, tok, err)
	}
	if gone, err := ac.Prune(time.Hour, true); err != nil || len(gone) != 0 {
		t.Errorf("Prune = %v, %v; want an empty list", gone, err)
	}
	if _, err := ac.Prune(0, true); err == nil {
		t.Error("Prune(0) succeeded")
	}
	if st, err := ac.Stats(); err != nil || st.Goroutines != 7 || st.HeapAlloc != 1<<20 || st.MQTTClients != 3 || st.OpenFDs == nil || *st.OpenFDs != 12 || st.OpenHandles != nil {
		t.Errorf("Stats() = %+v, %v", st, err)
	}
	if err := ac.SetInput(false); err != nil {
		t.Errorf("SetInput(false) = %v", err)
	}
	if err := ac.SetInput(true); err != nil {
		t.Errorf("SetInput(true) = %v", err)
	}
	h.input = errors.New("this server runs no agent of its own")
	if err := ac.SetInput(true); err == nil || !strings.Contains(err.Error(), "no agent") {
		t.Errorf("SetInput with no agent = %v, want the handler's error", err)
	}
	want := "list, approve 000000, approve 123456, deny p-b, revoke p-c, add_integration Home Assistant, prune 1h0m0s, stats, input off, input on, input on"
	if got := strings.Join(h.calls, ", "); got != want {
		t.Errorf("handler saw %s\nwant %s", got, want)
	}
}

func TestListenRefusesSecondServer(t *testing.T) {
	dir := stateDir(t)
	serve(t, dir, &fakeHandler{})
	if ln, err := Listen(dir); err == nil || !strings.Contains(err.Error(), "another server") {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("second Listen = %v, want another server is running", err)
	}
	// The first server still answers.
	if _, err := Dial(dir); err != nil {
		t.Errorf("first server lost its channel: %v", err)
	}
}

func TestDialWithoutServer(t *testing.T) {
	dir := stateDir(t)
	if _, err := Dial(dir); err == nil || !strings.Contains(err.Error(), "is `mfd serve` running") {
		t.Errorf("Dial with no server = %v, want to be told to start one", err)
	}
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := Dial(dir); err == nil {
		t.Error("Dial after the channel closed succeeded")
	}
	var _ net.Listener = ln
}
