package authsvc

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/testdir"
	"github.com/openmfd/mfd/internal/wire"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		approveForever(dir)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, leakIgnores...)
}

// leakIgnores names goroutines that live for the whole process by design
// (set per OS).
var leakIgnores []goleak.Option

// syncBuffer collects log output from many goroutines.
type syncBuffer = syncbuf.Buffer

// recordingNotifier remembers every pairing request.
type recordingNotifier struct {
	mu   sync.Mutex
	reqs []PairingRequest
}

func (n *recordingNotifier) NotifyPairing(r PairingRequest) {
	n.mu.Lock()
	n.reqs = append(n.reqs, r)
	n.mu.Unlock()
}

func (n *recordingNotifier) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.reqs)
}

// recordingRevoker remembers every revoked subject.
type recordingRevoker struct {
	mu   sync.Mutex
	subs []string
}

func (r *recordingRevoker) Revoke(sub ids.Subject) {
	r.mu.Lock()
	r.subs = append(r.subs, string(sub))
	r.mu.Unlock()
}

func (r *recordingRevoker) revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.subs...)
}

type testEnv struct {
	svc   *Service
	clock *clock.Fake
	logs  *syncBuffer
	notes *recordingNotifier
	dir   string
}

// newTestService makes a Service on a fresh state dir with a fake clock.
// mod may adjust the options.
func newTestService(t testing.TB, mod func(*Options)) *testEnv {
	t.Helper()
	env := &testEnv{clock: clock.NewFake(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)), logs: &syncBuffer{}, notes: &recordingNotifier{}, dir: testdir.New(t)}
	opts := Options{
		StateDir: env.dir,
		Name:     "testhost",
		Version:  "0.0.0-test",
		Clock:    env.clock,
		Logger:   slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notifier: env.notes,
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	env.svc = s
	return env
}

func startService(t *testing.T, env *testEnv) {
	t.Helper()
	if err := env.svc.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until

// pair runs a client through POST-equivalent pairing and approval and
// returns its key and subject.
func (env *testEnv) pair(t *testing.T, role wire.Role, host ids.HostID) (ids.ClientKey, ids.Subject) {
	t.Helper()
	key := ids.NewClientKey()
	req := authoriseReq{key: key, name: "test " + string(role), role: role, host: host}
	res := env.svc.authorise(req, "192.0.2.1")
	if res.out != outPending {
		t.Fatalf("authorise: outcome %d, want pending", res.out)
	}
	if _, err := env.svc.Approve(res.entry.code); err != nil {
		t.Fatalf("Approve(%s): %v", res.entry.code, err)
	}
	return key, res.entry.sub
}

// token returns a fresh token for sub.
func (env *testEnv) token(t *testing.T, sub ids.Subject) string {
	t.Helper()
	tok, err := env.svc.Reissue(sub)
	if err != nil {
		t.Fatalf("Reissue(%s): %v", sub, err)
	}
	return tok.Token
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
