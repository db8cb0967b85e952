//go:build linux

package wlroots

import (
	"fmt"
	"slices"
	"strings"

	"github.com/openmfd/mfd/input/keys"
)

// evdev maps every canonical contract key name to the Linux evdev code of
// that key on a US keyboard (linux/input-event-codes.h). The virtual
// keyboard sends these codes, so programs that read keycodes (games,
// toolkits matching shortcuts by key position) see what a real US
// keyboard would send.
var evdev = map[string]uint32{
	"esc": 1, "1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
	"-": 12, "=": 13, "backspace": 14, "tab": 15,
	"q": 16, "w": 17, "e": 18, "r": 19, "t": 20, "y": 21, "u": 22, "i": 23, "o": 24, "p": 25,
	"[": 26, "]": 27, "enter": 28, "lctrl": 29,
	"a": 30, "s": 31, "d": 32, "f": 33, "g": 34, "h": 35, "j": 36, "k": 37, "l": 38,
	";": 39, "'": 40, "`": 41, "lshift": 42, "\\": 43,
	"z": 44, "x": 45, "c": 46, "v": 47, "b": 48, "n": 49, "m": 50, ",": 51, ".": 52, "/": 53,
	"rshift": 54, "num_multiply": 55, "lalt": 56, "space": 57, "capslock": 58,
	"f1": 59, "f2": 60, "f3": 61, "f4": 62, "f5": 63, "f6": 64, "f7": 65, "f8": 66, "f9": 67, "f10": 68,
	"numlock": 69, "scrolllock": 70, "num7": 71, "num8": 72, "num9": 73, "num_minus": 74,
	"num4": 75, "num5": 76, "num6": 77, "num_plus": 78, "num1": 79, "num2": 80, "num3": 81,
	"num0": 82, "num_decimal": 83,
	// 84 is unassigned in evdev; AltGr has no key of its own on a US
	// keyboard, and Right Alt is "ralt" here.
	"altgr": 84,
	"f11":   87, "f12": 88, "num_enter": 96, "rctrl": 97, "num_divide": 98, "printscreen": 99,
	"ralt": 100, "home": 102, "up": 103, "pageup": 104, "left": 105, "right": 106, "end": 107,
	"down": 108, "pagedown": 109, "insert": 110, "delete": 111,
	"audio_mute": 113, "audio_vol_down": 114, "audio_vol_up": 115, "pause": 119,
	"lsuper": 125, "rsuper": 126, "menu": 127,
	"audio_next": 163, "audio_play": 164, "audio_prev": 165, "audio_stop": 166,
	"f13": 183, "f14": 184, "f15": 185, "f16": 186, "f17": 187, "f18": 188,
	"f19": 189, "f20": 190, "f21": 191, "f22": 192, "f23": 193, "f24": 194,
	"audio_pause": 201, "audio_mic_mute": 248,
}

// shifted maps the characters a US keyboard types with Shift to the key
// that types them.
var shifted = map[rune]string{
	'!': "1", '@': "2", '#': "3", '$': "4", '%': "5", '^': "6", '&': "7", '*': "8", '(': "9", ')': "0",
	'_': "-", '+': "=", '{': "[", '}': "]", ':': ";", '"': "'", '~': "`", '|': "\\",
	'<': ",", '>': ".", '?': "/",
}

// The names the contract gives modifier keys that have no evdev entry of
// their own: each stands for its left-hand key.
var modKeyAlias = map[string]string{"ctrl": "lctrl", "shift": "lshift", "alt": "lalt", "super": "lsuper"}

// Real modifier masks of wl_keyboard.modifiers: xkbcommon numbers the
// eight real modifiers Shift, Lock, Control, Mod1…Mod5 in this order in
// every keymap.
const (
	modShift   = 1 << 0
	modLock    = 1 << 1 // Caps Lock
	modControl = 1 << 2
	modMod1    = 1 << 3 // Alt
	modMod2    = 1 << 4 // Num Lock
	modMod4    = 1 << 6 // Super
	modMod5    = 1 << 7 // ISO_Level3_Shift (AltGr)
)

// modBit returns the modifier a canonical key name sets while held.
func modBit(name string) uint32 {
	if n, ok := modKeyAlias[name]; ok {
		name = n
	}
	switch name {
	case "lshift", "rshift":
		return modShift
	case "lctrl", "rctrl":
		return modControl
	case "lalt", "ralt":
		return modMod1
	case "lsuper", "rsuper":
		return modMod4
	case "altgr":
		return modMod5
	}
	return 0
}

// keyCode returns the evdev code of a canonical contract key name.
func keyCode(name string) (uint32, bool) {
	if n, ok := modKeyAlias[name]; ok {
		name = n
	}
	c, ok := evdev[name]
	return c, ok
}

// loc is where a keysym sits in the keymap: the evdev code, and whether
// Shift is needed (the second level).
type loc struct {
	code  uint32
	shift bool
}

// baseLevels lists the keysyms of each base key, level by level.
var baseLevels = func() map[uint32][]uint32 {
	levels := map[uint32][]uint32{}
	for name, code := range evdev {
		k, ok := keys.Lookup(name)
		if !ok {
			panic("wlroots: evdev table names an unknown key " + name)
		}
		syms := []uint32{k.Keysym}
		if len(name) == 1 && 'a' <= name[0] && name[0] <= 'z' {
			syms = append(syms, k.Keysym-'a'+'A')
		}
		levels[code] = syms
	}
	for r, name := range shifted {
		code := evdev[name]
		levels[code] = append(levels[code], uint32(r))
	}
	return levels
}()

// baseLocs is the inverse of baseLevels: where the base keymap has each
// keysym. For a keysym two keys carry (Shift_L only on lshift), the lower
// code wins, so the choice is stable.
var baseLocs = func() map[uint32]loc {
	m := map[uint32]loc{}
	for code, syms := range baseLevels {
		for lvl, s := range syms {
			if old, ok := m[s]; ok && old.code < code {
				continue
			}
			m[s] = loc{code: code, shift: lvl == 1}
		}
	}
	return m
}()

// maxCode is the highest evdev code the keymap uses: X keycodes are
// evdev codes plus 8 and stop at 255, and programs running under XWayland
// would not see a higher one.
const maxCode = 255 - 8

// spareCodes are the evdev codes the base keymap leaves free, in order:
// the keys Type binds characters to.
var spareCodes = func() []uint32 {
	used := map[uint32]bool{}
	for _, c := range evdev {
		used[c] = true
	}
	var out []uint32
	for c := uint32(1); c <= maxCode; c++ {
		if !used[c] {
			out = append(out, c)
		}
	}
	return out
}()

// keymapText returns an XKB keymap (format xkb_v1) with the base keys of
// a US keyboard and, on spare codes, extra: one keysym per key, one level,
// as wtype builds its keymap. Keysyms are written as numbers, which
// xkbcommon reads like names, so no keysym name table is needed.
func keymapText(extra []uint32) string {
	var b strings.Builder
	codes := make([]uint32, 0, len(baseLevels)+len(extra))
	for c := range baseLevels {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("xkb_keymap {\nxkb_keycodes \"mfd\" {\n  minimum = 8;\n  maximum = 255;\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  <K%d> = %d;\n", c, c+8)
	}
	for i := range extra {
		fmt.Fprintf(&b, "  <K%d> = %d;\n", spareCodes[i], spareCodes[i]+8)
	}
	b.WriteString("};\nxkb_types \"mfd\" { include \"complete\" };\n")
	b.WriteString("xkb_compatibility \"mfd\" { include \"complete\" };\n")
	b.WriteString("xkb_symbols \"mfd\" {\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  key <K%d> { [", c)
		for i, s := range baseLevels[c] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "0x%x", s)
		}
		b.WriteString("] };\n")
	}
	for i, s := range extra {
		fmt.Fprintf(&b, "  key <K%d> { [0x%x] };\n", spareCodes[i], s)
	}
	// Without a modifier map the modifier keys would set no modifier in
	// the compositor's and the programs' keyboard state.
	for _, m := range []struct{ mod, keys string }{
		{"Shift", "<K42>, <K54>"},
		{"Control", "<K29>, <K97>"},
		{"Mod1", "<K56>, <K100>"},
		{"Mod2", "<K69>"},
		{"Mod4", "<K125>, <K126>"},
		{"Mod5", "<K84>"},
		{"Lock", "<K58>"},
	} {
		fmt.Fprintf(&b, "  modifier_map %s { %s };\n", m.mod, m.keys)
	}
	b.WriteString("};\n};\n")
	return b.String()
}
