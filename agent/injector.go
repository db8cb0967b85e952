// Package agent turns commands from per-client MQTT topics into key, text
// and pointer input on the host it runs on.
package agent

import "errors"

// ErrNoInput is returned by an Injector that has no display to drive.
var ErrNoInput = errors.New("no input backend available")

// Button is a mouse button.
type Button int

// The mouse buttons of the contract.
const (
	ButtonLeft Button = iota + 1
	ButtonRight
	ButtonMiddle
)

// Injector drives a host's keyboard and pointer. Keys are contract key
// names already checked with LookupKey (keys.go). Implementations serialise
// all calls onto one OS thread themselves, so an Injector is safe for
// concurrent use; callers still send commands in order from one goroutine.
type Injector interface {
	// Backend names the backend for the status topic: "x11" or
	// "unavailable".
	Backend() string
	// Screen returns the screen size in pixels, or zeros if unknown.
	Screen() (w, h int)
	// KeyDown and KeyUp press and release one key.
	KeyDown(key string) error
	KeyUp(key string) error
	// Tap presses mods (contract modifier names, aliases resolved), taps
	// key, and releases mods in reverse order.
	Tap(key string, mods []string) error
	// Type types text: any Unicode, '\n' as Enter and '\t' as Tab. It
	// leaves the keymap as it found it and never touches the clipboard.
	Type(text string) error
	// Move moves the pointer to x, y, or by x, y when rel is true.
	Move(x, y int, rel bool) error
	// ButtonDown and ButtonUp press and release a mouse button.
	ButtonDown(b Button) error
	ButtonUp(b Button) error
	// Click clicks b count times.
	Click(b Button, count int) error
	// Scroll scrolls by dx, dy steps (positive dy scrolls down).
	Scroll(dx, dy int) error
	// Close releases everything still held and frees the backend.
	Close() error
}
