// Package windows is the input backend for Windows desktops: it sends
// keys, text and pointer events with SendInput, through package syscall
// and golang.org/x/sys/windows, so the Windows build needs no cgo.
//
// Keys are virtual keys (the left-hand one for a plain modifier name);
// text goes as KEYEVENTF_UNICODE packets, characters outside the Basic
// Multilingual Plane as surrogate pairs, so no keyboard layout is changed
// and nothing touches the clipboard. Absolute pointer coordinates are
// Windows' desktop coordinates: the primary monitor's top-left corner is
// 0,0 and Screen reports its size; other monitors lie where the display
// settings put them (left of or above the primary one at negative
// coordinates), and the backend reaches them through
// MOUSEEVENTF_VIRTUALDESK. Relative moves go through the user's pointer
// speed and acceleration, as a mouse's do.
//
// When Windows takes fewer events than it was given (an elevated window
// in front, which UIPI shields from programs that are not elevated; the
// secure desktop of a UAC prompt or of Ctrl+Alt+Del; a locked session),
// the call fails with an error that wraps input.ErrRefused and says which,
// in words.
//
// The package registers itself as "windows" on Windows only; the rest of
// it builds everywhere, so its logic is tested on any system against a
// fake of the few Windows calls it makes.
package windows
