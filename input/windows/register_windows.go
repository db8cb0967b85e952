//go:build windows

package windows

import "github.com/openmfd/mfd/input"

// Order is the windows backend's place in auto detection; on Windows it
// is the only backend.
const Order = 10

func init() {
	input.Register(input.Backend{
		Name:   "windows",
		Order:  Order,
		Detect: Detect,
		Open:   func(o input.Options) (input.Injector, error) { return New(o) },
	})
}

// New returns an Injector that sends input with SendInput to the desktop
// of the session this process runs in. It is safe for concurrent use;
// Close it to release what it holds.
func New(o input.Options) (input.Injector, error) {
	return newInjector(newSystem(), o.Logger), nil
}
