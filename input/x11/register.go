//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

import (
	"fmt"

	"github.com/openmfd/mfd/input"
)

// Order is the x11 backend's place in auto detection: after the Wayland
// backends (portal 10, wlroots 20), and before uinput (30). Detect accepts
// only an X11 session, so on Wayland, where $DISPLAY is XWayland and XTest
// reaches only X11 programs, uinput still comes next; in an X11 session
// where /dev/uinput happens to be writable, XTest wins, since it types any
// character and places the pointer, and uinput does neither.
const Order = 25

func init() {
	input.Register(input.Backend{
		Name:   "x11",
		Order:  Order,
		Detect: Detect,
		Open: func(o input.Options) (input.Injector, error) {
			env := o.Env
			if env == nil {
				env = input.OSEnv()
			}
			return New(Options{Display: env.Getenv("DISPLAY"), KeymapHold: o.KeymapHold, Logger: o.Logger})
		},
	})
}

// Detect accepts an X11 session: $DISPLAY set and no sign of Wayland.
func Detect(env input.Env) (bool, string) {
	d := env.Getenv("DISPLAY")
	switch {
	case d == "":
		return false, "$DISPLAY is not set: no X11 session"
	case env.Getenv("WAYLAND_DISPLAY") != "" || env.Getenv("XDG_SESSION_TYPE") == "wayland":
		return false, fmt.Sprintf("$DISPLAY=%s is XWayland in a Wayland session: XTest there reaches only X11 programs", d)
	}
	return true, fmt.Sprintf("an X11 session on $DISPLAY=%s", d)
}
