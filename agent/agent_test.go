package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeInjector records every call as a line of text.
type fakeInjector struct {
	mu      sync.Mutex
	calls   []string
	backend string
	err     error
	gate    chan struct{} // when set, Type waits on it
}

var _ input.Injector = (*fakeInjector)(nil)

func (f *fakeInjector) rec(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeInjector) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeInjector) Backend() string {
	if f.backend == "" {
		return "fake"
	}
	return f.backend
}
func (f *fakeInjector) Caps() input.Caps {
	return input.Caps{Unicode: true, PointerAbs: true, Scroll: true}
}
func (f *fakeInjector) Screen() (int, int)             { return 1920, 1080 }
func (f *fakeInjector) KeyDown(k string) error         { return f.rec("down %s", k) }
func (f *fakeInjector) KeyUp(k string) error           { return f.rec("up %s", k) }
func (f *fakeInjector) Tap(k string, m []string) error { return f.rec("tap %s %v", k, m) }
func (f *fakeInjector) Type(s string) error {
	if f.gate != nil {
		<-f.gate
	}
	return f.rec("type %q", s)
}
func (f *fakeInjector) Move(x, y int, rel bool) error     { return f.rec("move %d,%d rel=%v", x, y, rel) }
func (f *fakeInjector) ButtonDown(b input.Button) error   { return f.rec("bdown %d", b) }
func (f *fakeInjector) ButtonUp(b input.Button) error     { return f.rec("bup %d", b) }
func (f *fakeInjector) Click(b input.Button, n int) error { return f.rec("click %d x%d", b, n) }
func (f *fakeInjector) Scroll(dx, dy int) error           { return f.rec("scroll %d,%d", dx, dy) }
func (f *fakeInjector) Close() error                      { return nil }

func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// recorder is a publisher that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	pub []*paho.Publish
}

func (r *recorder) Publish(_ context.Context, p *paho.Publish) (*paho.PublishResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pub = append(r.pub, p)
	return &paho.PublishResponse{}, nil
}

func (r *recorder) on(topic string) []*paho.Publish {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*paho.Publish
	for _, p := range r.pub {
		if p.Topic == topic {
			out = append(out, p)
		}
	}
	return out
}

var (
	testHost = ids.HostID(mustUUID("6f1c3a52-8d0e-4b7a-9c3f-2a5d6e7f8091"))
	subA     = ids.Subject("p-alice")
	subB     = ids.Subject("p-bob")
)

func mustUUID(s string) ids.HostID {
	h, err := ids.ParseHostID(s)
	if err != nil {
		panic(err)
	}
	return h
}

type testAgent struct {
	*Agent
	t   *testing.T
	inj *fakeInjector
	clk *clock.Fake
	rec *recorder
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestAgent returns a started worker with a recorder in place of the
// broker connection.
func newTestAgent(t *testing.T, mod func(*Options)) *testAgent {
	t.Helper()
	ta := &testAgent{t: t, inj: &fakeInjector{}, clk: newFakeClock(), rec: &recorder{}}
	opts := Options{Host: testHost, Name: "test", Injector: ta.inj, Clock: ta.clk, Logger: testLogger(t)}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.setPublisher(ta.rec)
	a.started.Store(true)
	go a.worker()
	t.Cleanup(func() { a.Close() })
	ta.Agent = a
	return ta
}

// send publishes payload to sub's cmd topic as the broker would deliver it.
func (ta *testAgent) send(sub ids.Subject, payload string) {
	ta.onPublish(&paho.Publish{Topic: wire.CmdTopic(testHost, sub), Payload: []byte(payload), QoS: 1})
}

// replies waits for n replies to sub and returns them.
func (ta *testAgent) replies(sub ids.Subject, n int) []wire.Reply {
	ta.t.Helper()
	var out []wire.Reply
	checkFor(ta.t, 5*time.Second, time.Millisecond, func() error {
		ps := ta.rec.on(wire.ReplyTopic(sub))
		if len(ps) < n {
			return fmt.Errorf("%d replies to %s, want %d", len(ps), sub, n)
		}
		out = out[:0]
		for _, p := range ps {
			var r wire.Reply
			if err := json.Unmarshal(p.Payload, &r); err != nil {
				ta.t.Fatalf("reply %q is not JSON: %v", p.Payload, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out
}

// sync waits until every queued task has run, by sending a marker command
// from a separate client and waiting for its answer.
func (ta *testAgent) sync() {
	ta.t.Helper()
	const marker = "p-sync"
	n := len(ta.rec.on(wire.ReplyTopic(marker)))
	ta.send(marker, `{"id":"sync-`+fmt.Sprint(n)+`","op":"test.sync"}`)
	ta.replies(marker, n+1)
}

func (ta *testAgent) wantCalls(want ...string) {
	ta.t.Helper()
	checkFor(ta.t, 5*time.Second, time.Millisecond, func() error {
		got := ta.inj.Calls()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("injector calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
}

func codeOf(r wire.Reply) string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}
