package windows

import "github.com/openmfd/mfd/input/keys"

// Virtual-key codes (WinUser.h) the backend names.
const (
	vkBack     = 0x08
	vkTab      = 0x09
	vkReturn   = 0x0d
	vkPause    = 0x13
	vkCapital  = 0x14
	vkEscape   = 0x1b
	vkSpace    = 0x20
	vkPrior    = 0x21
	vkNext     = 0x22
	vkEnd      = 0x23
	vkHome     = 0x24
	vkLeft     = 0x25
	vkUp       = 0x26
	vkRight    = 0x27
	vkDown     = 0x28
	vkSnapshot = 0x2c
	vkInsert   = 0x2d
	vkDelete   = 0x2e
	vkLWin     = 0x5b
	vkRWin     = 0x5c
	vkApps     = 0x5d
	vkNumpad0  = 0x60
	vkMultiply = 0x6a
	vkAdd      = 0x6b
	vkSubtract = 0x6d
	vkDecimal  = 0x6e
	vkDivide   = 0x6f
	vkF1       = 0x70
	vkNumLock  = 0x90
	vkScroll   = 0x91
	vkLShift   = 0xa0
	vkRShift   = 0xa1
	vkLControl = 0xa2
	vkRControl = 0xa3
	vkLMenu    = 0xa4
	vkRMenu    = 0xa5

	vkVolumeMute     = 0xad
	vkVolumeDown     = 0xae
	vkVolumeUp       = 0xaf
	vkMediaNextTrack = 0xb0
	vkMediaPrevTrack = 0xb1
	vkMediaStop      = 0xb2
	vkMediaPlayPause = 0xb3
)

// vkey is a virtual key with the flag Windows needs to tell it from its
// twin on the numeric keypad or the other side of the keyboard.
type vkey struct {
	vk       uint16
	extended bool // KEYEVENTF_EXTENDEDKEY: the E0-prefixed scan code
}

// symVK maps the keysyms of input/keys that are the same key on every
// layout to their virtual keys. Letters and digits are computed in
// keyVK; printable punctuation depends on the layout and is looked up
// when it is typed.
var symVK = map[uint32]vkey{
	0xff0d:     {vkReturn, false},   // enter
	0xff1b:     {vkEscape, false},   // esc
	0xff09:     {vkTab, false},      // tab
	0x0020:     {vkSpace, false},    // space
	0xff08:     {vkBack, false},     // backspace
	0xffff:     {vkDelete, true},    // delete
	0xff63:     {vkInsert, true},    // insert
	0xff50:     {vkHome, true},      // home
	0xff57:     {vkEnd, true},       // end
	0xff55:     {vkPrior, true},     // pageup
	0xff56:     {vkNext, true},      // pagedown
	0xff51:     {vkLeft, true},      // left
	0xff52:     {vkUp, true},        // up
	0xff53:     {vkRight, true},     // right
	0xff54:     {vkDown, true},      // down
	0xffe5:     {vkCapital, false},  // capslock
	0xff61:     {vkSnapshot, true},  // printscreen
	0xff67:     {vkApps, true},      // menu
	0xff13:     {vkPause, false},    // pause
	0xff14:     {vkScroll, false},   // scrolllock
	0xff7f:     {vkNumLock, true},   // numlock
	0xff8d:     {vkReturn, true},    // num_enter: Enter with E0
	0xffaa:     {vkMultiply, false}, // num_multiply
	0xffab:     {vkAdd, false},      // num_plus
	0xffad:     {vkSubtract, false}, // num_minus
	0xffae:     {vkDecimal, false},  // num_decimal
	0xffaf:     {vkDivide, true},    // num_divide
	0xffe3:     {vkLControl, false}, // ctrl, lctrl
	0xffe4:     {vkRControl, true},  // rctrl
	0xffe1:     {vkLShift, false},   // shift, lshift
	0xffe2:     {vkRShift, false},   // rshift: told apart by its scan code
	0xffe9:     {vkLMenu, false},    // alt, lalt
	0xffea:     {vkRMenu, true},     // ralt
	0xfe03:     {vkRMenu, true},     // altgr: right Alt, which layouts with AltGr turn into Ctrl+Alt
	0xffeb:     {vkLWin, true},      // super, lsuper
	0xffec:     {vkRWin, true},      // rsuper
	0x1008ff12: {vkVolumeMute, true},
	0x1008ff11: {vkVolumeDown, true},
	0x1008ff13: {vkVolumeUp, true},
	0x1008ff14: {vkMediaPlayPause, true}, // audio_play: Windows has one play/pause key
	0x1008ff31: {vkMediaPlayPause, true}, // audio_pause
	0x1008ff15: {vkMediaStop, true},
	0x1008ff16: {vkMediaPrevTrack, true},
	0x1008ff17: {vkMediaNextTrack, true},
}

// symMicMute is XF86AudioMicMute. Windows defines no virtual key for it:
// keyboards that have the key send a vendor's HID usage or a shortcut of
// the conferencing program.
const symMicMute = 0x1008ffb2

// keyVK returns the virtual key of a key that is the same on every layout,
// or false for printable punctuation (and microphone mute).
func keyVK(k keys.Key) (vkey, bool) {
	s := k.Keysym
	switch {
	case 'a' <= s && s <= 'z':
		return vkey{vk: uint16(s - 'a' + 'A')}, true // VK_A..VK_Z
	case '0' <= s && s <= '9':
		return vkey{vk: uint16(s)}, true // VK_0..VK_9
	case 0xffbe <= s && s <= 0xffbe+23:
		return vkey{vk: uint16(vkF1 + s - 0xffbe)}, true // F1..F24
	case 0xffb0 <= s && s <= 0xffb9:
		return vkey{vk: uint16(vkNumpad0 + s - 0xffb0)}, true // num0..num9
	}
	v, ok := symVK[s]
	return v, ok
}

// isShift, isCtrl and isAlt tell the modifier virtual keys apart.
func isShift(vk uint16) bool { return vk == vkLShift || vk == vkRShift }
func isCtrl(vk uint16) bool  { return vk == vkLControl || vk == vkRControl }
func isAlt(vk uint16) bool   { return vk == vkLMenu || vk == vkRMenu }

// sameMod reports whether virtual keys a and b do the same work: either
// Shift for Shift, either Ctrl for Ctrl, either Alt for Alt, else only a
// key for itself.
func sameMod(a, b uint16) bool {
	switch {
	case isShift(b):
		return isShift(a)
	case isCtrl(b):
		return isCtrl(a)
	case isAlt(b):
		return isAlt(a)
	}
	return a == b
}
