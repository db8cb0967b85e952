package agent

import (
	"testing"
	"time"
)

func TestRenewIn(t *testing.T) {
	for _, tc := range []struct {
		left, jitter, want time.Duration
	}{
		{15 * time.Minute, 0, 14*time.Minute + 30*time.Second},
		{15 * time.Minute, 15 * time.Second, 14*time.Minute + 15*time.Second},
		{30 * time.Second, 0, 20 * time.Second},
		{30 * time.Second, 15 * time.Second, 20 * time.Second},
		{2 * time.Minute, 10 * time.Second, 80 * time.Second},
		{time.Second, 0, time.Second},
		{-time.Minute, 0, time.Second},
	} {
		if got := renewIn(tc.left, tc.jitter); got != tc.want {
			t.Errorf("renewIn(%v, %v) = %v, want %v", tc.left, tc.jitter, got, tc.want)
		}
	}
}
