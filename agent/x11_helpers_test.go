//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package agent

import "testing"

// newTestX11 opens an injector on display and closes it when the test
// ends.
func newTestX11(tb testing.TB, display string, opts X11Options) Injector {
	tb.Helper()
	opts.Display = display
	inj, err := NewX11(opts)
	if err != nil {
		tb.Fatalf("NewX11(%q) = %v", display, err)
	}
	tb.Cleanup(func() { inj.Close() })
	return inj
}
