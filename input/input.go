// Package input defines how the agent drives a host's keyboard and pointer:
// the Injector interface every backend implements, what a backend can do
// (Caps), and the registry through which backends are chosen.
//
// The package never imports a backend. Each backend package (input/x11,
// input/windows, …) calls Register from its init, behind its own build
// tags, as image/png registers itself with package image; a binary imports
// the backends it wants for that side effect.
package input

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNoInput is returned by an Injector that has nothing to drive: no
// backend could be opened, or its display went away.
var ErrNoInput = errors.New("no input backend available")

// ErrUnsupported is returned, wrapped, by an Injector asked for something
// its backend cannot do, such as a character the active layout cannot type
// on a backend without Unicode text. The agent answers such a command with
// an error code; a backend never substitutes a wrong character.
var ErrUnsupported = errors.New("not supported by this input backend")

// ErrRefused is returned, wrapped, when the system refused input the
// backend sent: on Windows an elevated window in front (UIPI), the secure
// desktop or a locked session. The wrapping error says which, in words a
// user can act on.
var ErrRefused = errors.New("input refused by the system")

// Button is a mouse button.
type Button int

// The mouse buttons of the contract.
const (
	ButtonLeft Button = iota + 1
	ButtonRight
	ButtonMiddle
)

// Caps says what a backend can do. It is published in the host's status as
// "caps". The zero Caps can do none of these.
type Caps struct {
	// Unicode is true when Type can type any character, not only those
	// the active keyboard layout maps.
	Unicode bool `json:"unicode"`
	// PointerAbs is true when Move can place the pointer at screen
	// coordinates (rel false).
	PointerAbs bool `json:"pointer_abs"`
	// Scroll is true when Scroll works.
	Scroll bool `json:"scroll"`
}

// Injector drives a host's keyboard and pointer. Keys are contract key
// names already checked with keys.Lookup. Implementations serialise all
// calls themselves (X11 onto one OS thread, for example), so an Injector is
// safe for concurrent use; callers still send commands in order from one
// goroutine.
type Injector interface {
	// Backend names the backend for the status topic: "x11", "wlroots",
	// "portal", "uinput", "windows" or "unavailable".
	Backend() string
	// Caps reports what the backend can do.
	Caps() Caps
	// Screen returns the screen size in pixels, or zeros if unknown.
	Screen() (w, h int)
	// KeyDown and KeyUp press and release one key.
	KeyDown(key string) error
	KeyUp(key string) error
	// Tap presses mods (contract modifier names, aliases resolved), taps
	// key, and releases mods in reverse order.
	Tap(key string, mods []string) error
	// Type types text: '\n' as Enter and '\t' as Tab, any other character
	// as itself or not at all (ErrUnsupported). It leaves the keymap as it
	// found it and never touches the clipboard.
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

// Options are what every backend is opened with. Backends read what they
// need and ignore the rest; the zero value is valid.
type Options struct {
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
	// StateDir is where a backend may keep state between runs (the
	// portal's restore token, for example); empty keeps nothing.
	StateDir string
	// KeymapHold is how long a backend that binds characters into the
	// keymap to type them keeps a binding after its last use before it
	// restores the original. Zero means the backend's default.
	KeymapHold time.Duration
	// Env is the environment the backend reads ($DISPLAY,
	// $WAYLAND_DISPLAY…); nil means the process's own.
	Env Env
}

// MaxScrollSteps bounds one Scroll call on every backend, so that a bad
// command cannot keep the injector busy for long.
const MaxScrollSteps = 1000

// CheckScroll reports an error when dx or dy is past MaxScrollSteps.
func CheckScroll(dx, dy int) error {
	if dx > MaxScrollSteps || -dx > MaxScrollSteps || dy > MaxScrollSteps || -dy > MaxScrollSteps {
		return fmt.Errorf("scrolling: %d, %d steps is over %d", dx, dy, MaxScrollSteps)
	}
	return nil
}
