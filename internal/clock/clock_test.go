package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersWhenDue(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewFake(start)
	var ran []string
	c.AfterFunc(2*time.Second, func() { ran = append(ran, "two") })
	c.AfterFunc(time.Second, func() { ran = append(ran, "one") })
	stopped := c.AfterFunc(time.Second, func() { ran = append(ran, "stopped") })
	if !stopped.Stop() {
		t.Errorf("Stop of a pending timer = false, want true")
	}
	if got := c.Pending(); got != 2 {
		t.Errorf("Pending() = %d, want 2 (one of three stopped)", got)
	}
	c.Advance(999 * time.Millisecond)
	if len(ran) != 0 {
		t.Fatalf("after 999ms ran %v, want nothing", ran)
	}
	c.Advance(time.Millisecond)
	if got := c.Now(); !got.Equal(start.Add(time.Second)) {
		t.Errorf("Now() = %v, want %v", got, start.Add(time.Second))
	}
	if len(ran) != 1 || ran[0] != "one" {
		t.Fatalf("after 1s ran %v, want [one]", ran)
	}
	c.Advance(time.Hour)
	if len(ran) != 2 || ran[1] != "two" {
		t.Fatalf("after an hour ran %v, want [one two]", ran)
	}
	if got := c.Pending(); got != 0 {
		t.Errorf("Pending() after all ran = %d, want 0", got)
	}
	if stopped.Stop() {
		t.Errorf("Stop of a stopped timer = true, want false")
	}
}

func TestRealAfterFuncRuns(t *testing.T) {
	var c Clock = Real{}
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Errorf("Real{}.Now() is %v away from time.Now()", d)
	}
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Real{}.AfterFunc did not run within 10s")
	}
	if !c.AfterFunc(time.Hour, func() {}).Stop() {
		t.Errorf("Stop of a pending real timer = false, want true")
	}
}
