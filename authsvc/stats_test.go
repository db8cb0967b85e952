package authsvc

import (
	"net/http"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/ids"
)

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
