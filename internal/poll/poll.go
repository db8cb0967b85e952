// Package poll lets tests wait for a condition instead of sleeping a fixed
// time and hoping.
package poll

import (
	"testing"
	"time"
)

// Until calls fn every step until it returns nil, and fails tb with fn's
// last error once total has passed.
func Until(tb testing.TB, total, step time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(step)
	}
}
