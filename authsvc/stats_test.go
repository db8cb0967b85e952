package authsvc

import (
	"net/http"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/ids"
)

func TestAdminStats(t *testing.T) {
	env := newTestService(t, func(o *Options) {
		o.Stats = func() map[string]any { return map[string]any{"goroutines": 7, "clients": 0} }
	})
	startService(t, env)
	ac, err := DialAdmin(env.dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ac.Stats()
	if err != nil || st["goroutines"] != float64(7) || st["clients"] != float64(0) {
		t.Errorf("Stats() = %v, %v; want goroutines 7, clients 0", st, err)
	}

	bare := newTestService(t, nil)
	startService(t, bare)
	ac2, err := DialAdmin(bare.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac2.Stats(); err == nil || !strings.Contains(err.Error(), "no stats") {
		t.Errorf("Stats() without Options.Stats = %v, want an error", err)
	}
}

// TestPendingFullCode: a full pending list answers 429 too_many_pending, as
// topics.md says, not rate_limited, so a client can tell the two apart.
func TestPendingFullCode(t *testing.T) {
	env := newTestService(t, func(o *Options) { o.MaxPending = 1 })
	h := env.svc.Handler()
	if w := post(h, "/authorise", body(ids.NewClientKey().Reveal(), "a", ""), "192.0.2.1", nil); w.Code != http.StatusAccepted {
		t.Fatalf("first request: %d", w.Code)
	}
	w := post(h, "/authorise", body(ids.NewClientKey().Reveal(), "b", ""), "192.0.2.2", nil)
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), `"too_many_pending"`) || w.Header().Get("Retry-After") == "" {
		t.Errorf("request over a full list = %d %s (Retry-After %q), want 429 too_many_pending with Retry-After", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
}
