//go:build !cgo || nox11 || !(linux || freebsd || netbsd || openbsd)

package x11

import (
	"fmt"

	"github.com/openmfd/mfd/input"
)

// New reports input.ErrNoInput: this binary was built without the X11 backend
// (no cgo, the nox11 tag, or a system without X11). The caller falls back
// to input.Unavailable.
func New(opts Options) (input.Injector, error) {
	return nil, fmt.Errorf("opening the X display: built without X11 support: %w", input.ErrNoInput)
}
