package x11

import (
	"log/slog"
	"time"
)

// DefaultKeymapHold is Options.KeymapHold when it is zero. At 50 ms a
// client on a loaded machine (xev, under CI's parallel tests) sometimes read
// a key after its binding was undone and saw no keysym; 150 ms costs only
// text with more distinct missing characters than there are spare keycodes
// (long CJK text is paced at about 19 characters per hold).
const DefaultKeymapHold = 150 * time.Millisecond

// Options configures New. The zero value drives $DISPLAY without
// delays and logs nothing.
type Options struct {
	// Display is the X display name (":0"); empty means $DISPLAY.
	Display string
	// KeyDelay is a pause after every key press and release, for
	// applications that drop keys sent back to back. Zero (the default)
	// sends them without pause.
	KeyDelay time.Duration
	// KeymapHold is how long a spare keycode bound to a character that is
	// not in the keymap keeps that binding after its last use before the
	// original (empty) mapping is put back or the keycode is bound to
	// another character. Clients look the keysym up only when they read
	// the key event, so undoing the binding at once would make them see
	// nothing. It counts from when a client that reads 1000 key events a
	// second would have read that last use, since a long text is sent
	// faster than clients read it. Zero means DefaultKeymapHold.
	KeymapHold time.Duration
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
}
