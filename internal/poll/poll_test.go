package poll

import (
	"errors"
	"testing"
	"time"
)

func TestUntilReturnsOnceTrue(t *testing.T) {
	n := 0
	Until(t, time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Errorf("fn ran %d times, want 3", n)
	}
}

// recorder catches Fatalf without ending the test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = format
	panic(r)
}

func TestUntilFailsWithLastError(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		Until(r, 20*time.Millisecond, time.Millisecond, func() error { return errors.New("never") })
	}()
	if r.msg == "" {
		t.Errorf("Until did not fail when fn never held")
	}
}
