// Package keys is the contract's table of key and modifier names, shared by
// every input backend: each name maps to an X keysym, which backends
// translate to what their system takes (a keycode, a virtual key, an evdev
// code).
package keys

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownModifier is returned by ParseMods for a name that is not a
// contract modifier or one of its aliases.
var ErrUnknownModifier = errors.New("unknown modifier")

// Key is one entry of the contract's key-name table. The zero Key is not a
// key: Lookup reports false rather than returning it.
type Key struct {
	// Name is the canonical contract name; for an alias such as "return"
	// it is the name the alias stands for ("enter").
	Name string
	// Keysym is the X keysym the name stands for (X11/keysymdef.h and
	// XF86keysym.h values), whatever the backend.
	Keysym uint32
}

// keyTable maps every accepted key name, aliases included, to its key. It
// is built once by init and only read afterwards, so it is safe for
// concurrent use.
var keyTable = map[string]Key{}

// keyNames is the sorted list of keyTable's names.
var keyNames []string

// keyAliases maps an alias to the canonical name it stands for.
var keyAliases = map[string]string{
	"return": "enter",
	"escape": "esc",
	"del":    "delete",
	"ins":    "insert",
	"pgup":   "pageup",
	"pgdown": "pagedown",
	"print":  "printscreen",
	"cmd":    "super",
	"win":    "super",
	"meta":   "super",
}

// modNames maps every accepted modifier name to its canonical name.
var modNames = map[string]string{
	"ctrl":  "ctrl",
	"shift": "shift",
	"alt":   "alt",
	"super": "super",
	"cmd":   "super",
	"win":   "super",
	"meta":  "super",
}

func init() {
	add := func(name string, sym uint32) { keyTable[name] = Key{Name: name, Keysym: sym} }

	for c := 'a'; c <= 'z'; c++ {
		add(string(c), uint32(c)) // XK_a..XK_z are the ASCII codes
	}
	for c := '0'; c <= '9'; c++ {
		add(string(c), uint32(c))
	}
	// Every printable ASCII character that is neither a letter, a digit nor
	// space is named by itself; its Latin-1 keysym equals its code.
	for c := '!'; c <= '~'; c++ {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			continue
		}
		add(string(c), uint32(c))
	}
	for n := 1; n <= 24; n++ {
		add("f"+strconv.Itoa(n), 0xffbe+uint32(n-1)) // XK_F1..XK_F24
	}

	for name, sym := range map[string]uint32{
		"enter":       0xff0d, // XK_Return
		"esc":         0xff1b, // XK_Escape
		"tab":         0xff09,
		"space":       0x0020,
		"backspace":   0xff08,
		"delete":      0xffff,
		"insert":      0xff63,
		"home":        0xff50,
		"end":         0xff57,
		"pageup":      0xff55, // XK_Prior
		"pagedown":    0xff56, // XK_Next
		"left":        0xff51,
		"up":          0xff52,
		"right":       0xff53,
		"down":        0xff54,
		"capslock":    0xffe5,
		"printscreen": 0xff61, // XK_Print
		"menu":        0xff67,
		"pause":       0xff13,
		"scrolllock":  0xff14,
		"numlock":     0xff7f,

		"audio_mute":     0x1008ff12, // XF86XK_AudioMute
		"audio_vol_down": 0x1008ff11, // XF86XK_AudioLowerVolume
		"audio_vol_up":   0x1008ff13, // XF86XK_AudioRaiseVolume
		"audio_play":     0x1008ff14,
		"audio_stop":     0x1008ff15,
		"audio_prev":     0x1008ff16,
		"audio_next":     0x1008ff17,
		"audio_pause":    0x1008ff31,
		"audio_mic_mute": 0x1008ffb2,

		// Modifiers as keys: the plain name is the left-hand key.
		"ctrl":   0xffe3, // XK_Control_L
		"lctrl":  0xffe3,
		"rctrl":  0xffe4,
		"shift":  0xffe1,
		"lshift": 0xffe1,
		"rshift": 0xffe2,
		"alt":    0xffe9, // XK_Alt_L
		"lalt":   0xffe9,
		"ralt":   0xffea,
		"altgr":  0xfe03, // XK_ISO_Level3_Shift
		"super":  0xffeb, // XK_Super_L
		"lsuper": 0xffeb,
		"rsuper": 0xffec,

		"num_enter":    0xff8d, // XK_KP_Enter
		"num_multiply": 0xffaa,
		"num_plus":     0xffab,
		"num_minus":    0xffad,
		"num_decimal":  0xffae,
		"num_divide":   0xffaf,
	} {
		add(name, sym)
	}
	for n := 0; n <= 9; n++ {
		add("num"+strconv.Itoa(n), 0xffb0+uint32(n)) // XK_KP_0..XK_KP_9
	}
	for alias, name := range keyAliases {
		keyTable[alias] = keyTable[name]
	}

	for name := range keyTable {
		keyNames = append(keyNames, name)
	}
	slices.Sort(keyNames)
}

// Lookup returns the key a contract key name stands for. A
// one-character name is matched exactly ("A" is not "a"); longer names
// ignore case ("Enter", "F5"). An alias returns the key of the name it
// stands for, with that canonical Name.
func Lookup(name string) (Key, bool) {
	if k, ok := keyTable[name]; ok {
		return k, true
	}
	if len(name) < 2 {
		return Key{}, false
	}
	k, ok := keyTable[strings.ToLower(name)]
	return k, ok
}

// Names returns every name Lookup accepts, aliases included, sorted.
// The caller owns the returned slice.
func Names() []string {
	return slices.Clone(keyNames)
}

// ParseMods resolves contract modifier names ("ctrl", "shift", "alt",
// "super", and "cmd", "win", "meta" for "super") to their canonical names,
// in the order given, each at most once. An unknown name is an error that
// wraps ErrUnknownModifier. A nil or empty mods gives nil.
func ParseMods(mods []string) ([]string, error) {
	var out []string
	for _, m := range mods {
		canon, ok := modNames[m]
		if !ok {
			return nil, fmt.Errorf("parsing modifier %q: %w", m, ErrUnknownModifier)
		}
		if !slices.Contains(out, canon) {
			out = append(out, canon)
		}
	}
	return out, nil
}

// Find is Lookup with an error that names the key, for backends.
func Find(name string) (Key, error) {
	k, ok := Lookup(name)
	if !ok {
		return Key{}, fmt.Errorf("unknown key %q", name)
	}
	return k, nil
}

// RuneKeysym returns the X keysym that types r: Return and Tab for '\n'
// and '\t', the Latin-1 keysym below U+0100 (equal to the code point),
// else the Unicode keysym 0x01000000 + r. Other control characters,
// surrogates and runes past U+10FFFF are errors.
func RuneKeysym(r rune) (uint32, error) {
	switch {
	case r == '\n':
		return 0xff0d, nil // XK_Return
	case r == '\t':
		return 0xff09, nil // XK_Tab
	case r < 0x20 || r == 0x7f || (0x80 <= r && r < 0xa0):
		return 0, fmt.Errorf("control character %U", r)
	case r < 0x100:
		return uint32(r), nil
	case r > 0x10ffff || (0xd800 <= r && r < 0xe000):
		return 0, fmt.Errorf("invalid character %U", r)
	}
	return 0x01000000 | uint32(r), nil
}
