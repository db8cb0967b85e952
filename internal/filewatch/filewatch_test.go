package filewatch

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWatchSeesEveryWayOfSaving saves the file as editors do and expects a
// call after each; writes to other files of the directory call nothing.
func TestWatchSeesEveryWayOfSaving(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	w, err := Watch(path, 100*time.Millisecond, func() { calls.Add(1) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	want := int32(0)
	expect := func(what string) {
		t.Helper()
		want++
		poll.Until(t, 5*time.Second, 5*time.Millisecond, func() error {
			if n := calls.Load(); n < want {
				return fmt.Errorf("%s: %d calls, want %d", what, n, want)
			}
			return nil
		})
	}
	if err := os.WriteFile(path, []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("writing in place")

	tmp := filepath.Join(dir, ".host.yaml.swp")
	if err := os.WriteFile(tmp, []byte("c"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("renaming a new file over it")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("d"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("removing and creating it")

	// A burst of writes is one change once it settles, and another file
	// is none: after a last, marked write only one more call comes.
	for i := range 5 {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("a burst of writes")
	if n := calls.Load(); n != want {
		t.Errorf("%d calls after a burst of 5 writes, want %d (one per settled burst)", n, want)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
