//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/openmfd/mfd/input"
)

// newTestX11 opens an injector on display and closes it when the test
// ends.
func newTestX11(tb testing.TB, display string, opts Options) input.Injector {
	tb.Helper()
	opts.Display = display
	inj, err := New(opts)
	if err != nil {
		tb.Fatalf("New(%q) = %v", display, err)
	}
	tb.Cleanup(func() { inj.Close() })
	return inj
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
