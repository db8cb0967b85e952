//go:build !cgo || nox11 || !(linux || freebsd || netbsd || openbsd)

package agent

import "fmt"

// NewX11 reports ErrNoInput: this binary was built without the X11 backend
// (no cgo, the nox11 tag, or a system without X11). The caller falls back
// to NewUnavailable.
func NewX11(opts X11Options) (Injector, error) {
	return nil, fmt.Errorf("opening the X display: built without X11 support: %w", ErrNoInput)
}
