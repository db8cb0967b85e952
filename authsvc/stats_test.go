package authsvc

import (
	"strings"
	"testing"
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
