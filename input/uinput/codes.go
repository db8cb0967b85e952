package uinput

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// evdev holds every kernel constant this backend uses, by its name in
// linux/input-event-codes.h, linux/input.h or linux/uinput.h, so that a
// test can check each against the real headers with a C compiler.
var evdev = map[string]uint32{
	"EV_SYN": 0x00, "EV_KEY": 0x01, "EV_REL": 0x02,
	"SYN_REPORT": 0,
	"REL_X":      0x00, "REL_Y": 0x01, "REL_HWHEEL": 0x06, "REL_WHEEL": 0x08,
	"BTN_LEFT": 0x110, "BTN_RIGHT": 0x111, "BTN_MIDDLE": 0x112,
	"BUS_VIRTUAL": 0x06,

	"KEY_ESC": 1, "KEY_1": 2, "KEY_2": 3, "KEY_3": 4, "KEY_4": 5, "KEY_5": 6,
	"KEY_6": 7, "KEY_7": 8, "KEY_8": 9, "KEY_9": 10, "KEY_0": 11,
	"KEY_MINUS": 12, "KEY_EQUAL": 13, "KEY_BACKSPACE": 14, "KEY_TAB": 15,
	"KEY_Q": 16, "KEY_W": 17, "KEY_E": 18, "KEY_R": 19, "KEY_T": 20,
	"KEY_Y": 21, "KEY_U": 22, "KEY_I": 23, "KEY_O": 24, "KEY_P": 25,
	"KEY_LEFTBRACE": 26, "KEY_RIGHTBRACE": 27, "KEY_ENTER": 28,
	"KEY_LEFTCTRL": 29, "KEY_A": 30, "KEY_S": 31, "KEY_D": 32, "KEY_F": 33,
	"KEY_G": 34, "KEY_H": 35, "KEY_J": 36, "KEY_K": 37, "KEY_L": 38,
	"KEY_SEMICOLON": 39, "KEY_APOSTROPHE": 40, "KEY_GRAVE": 41,
	"KEY_LEFTSHIFT": 42, "KEY_BACKSLASH": 43, "KEY_Z": 44, "KEY_X": 45,
	"KEY_C": 46, "KEY_V": 47, "KEY_B": 48, "KEY_N": 49, "KEY_M": 50,
	"KEY_COMMA": 51, "KEY_DOT": 52, "KEY_SLASH": 53, "KEY_RIGHTSHIFT": 54,
	"KEY_KPASTERISK": 55, "KEY_LEFTALT": 56, "KEY_SPACE": 57,
	"KEY_CAPSLOCK": 58, "KEY_F1": 59, "KEY_F2": 60, "KEY_F3": 61,
	"KEY_F4": 62, "KEY_F5": 63, "KEY_F6": 64, "KEY_F7": 65, "KEY_F8": 66,
	"KEY_F9": 67, "KEY_F10": 68, "KEY_NUMLOCK": 69, "KEY_SCROLLLOCK": 70,
	"KEY_KP7": 71, "KEY_KP8": 72, "KEY_KP9": 73, "KEY_KPMINUS": 74,
	"KEY_KP4": 75, "KEY_KP5": 76, "KEY_KP6": 77, "KEY_KPPLUS": 78,
	"KEY_KP1": 79, "KEY_KP2": 80, "KEY_KP3": 81, "KEY_KP0": 82,
	"KEY_KPDOT": 83, "KEY_F11": 87, "KEY_F12": 88, "KEY_KPENTER": 96,
	"KEY_RIGHTCTRL": 97, "KEY_KPSLASH": 98, "KEY_SYSRQ": 99,
	"KEY_RIGHTALT": 100, "KEY_HOME": 102, "KEY_UP": 103, "KEY_PAGEUP": 104,
	"KEY_LEFT": 105, "KEY_RIGHT": 106, "KEY_END": 107, "KEY_DOWN": 108,
	"KEY_PAGEDOWN": 109, "KEY_INSERT": 110, "KEY_DELETE": 111,
	"KEY_MUTE": 113, "KEY_VOLUMEDOWN": 114, "KEY_VOLUMEUP": 115,
	"KEY_PAUSE": 119, "KEY_LEFTMETA": 125, "KEY_RIGHTMETA": 126,
	"KEY_COMPOSE": 127, "KEY_NEXTSONG": 163, "KEY_PLAYPAUSE": 164,
	"KEY_PREVIOUSSONG": 165, "KEY_STOPCD": 166, "KEY_F13": 183,
	"KEY_F14": 184, "KEY_F15": 185, "KEY_F16": 186, "KEY_F17": 187,
	"KEY_F18": 188, "KEY_F19": 189, "KEY_F20": 190, "KEY_F21": 191,
	"KEY_F22": 192, "KEY_F23": 193, "KEY_F24": 194, "KEY_PAUSECD": 201,
	"KEY_MICMUTE": 248,
}

// code returns the value of a kernel constant of evdev; an unknown name is
// a programming error caught at init.
func code(name string) uint16 {
	v, ok := evdev[name]
	if !ok {
		panic("uinput: no kernel constant " + name)
	}
	return uint16(v)
}

// keyPos is where a keysym is on the US QWERTY layout: an evdev key code,
// with Shift or without.
type keyPos struct {
	code  uint16
	shift bool
}

// usLayout maps the keysyms of input/keys, and of every printable ASCII
// character, to their place on a US QWERTY keyboard.
var usLayout = map[uint32]keyPos{}

// layoutFree holds the keysyms whose key means the same on every layout
// (Enter, arrows, F-keys, modifiers, media keys): a host whose layout is
// not US still gets these.
var layoutFree = map[uint32]bool{}

func init() {
	// Printable ASCII: the unshifted and shifted character of each key.
	rows := []struct{ plain, shifted string }{
		{"`1234567890-=", "~!@#$%^&*()_+"},
		{"qwertyuiop[]\\", "QWERTYUIOP{}|"},
		{"asdfghjkl;'", "ASDFGHJKL:\""},
		{"zxcvbnm,./", "ZXCVBNM<>?"},
	}
	names := [][]string{
		{"KEY_GRAVE", "KEY_1", "KEY_2", "KEY_3", "KEY_4", "KEY_5", "KEY_6", "KEY_7", "KEY_8", "KEY_9", "KEY_0", "KEY_MINUS", "KEY_EQUAL"},
		{"KEY_Q", "KEY_W", "KEY_E", "KEY_R", "KEY_T", "KEY_Y", "KEY_U", "KEY_I", "KEY_O", "KEY_P", "KEY_LEFTBRACE", "KEY_RIGHTBRACE", "KEY_BACKSLASH"},
		{"KEY_A", "KEY_S", "KEY_D", "KEY_F", "KEY_G", "KEY_H", "KEY_J", "KEY_K", "KEY_L", "KEY_SEMICOLON", "KEY_APOSTROPHE"},
		{"KEY_Z", "KEY_X", "KEY_C", "KEY_V", "KEY_B", "KEY_N", "KEY_M", "KEY_COMMA", "KEY_DOT", "KEY_SLASH"},
	}
	for i, r := range rows {
		if len(r.plain) != len(names[i]) || len(r.shifted) != len(names[i]) {
			panic("uinput: layout row " + strconv.Itoa(i) + " does not match its key names")
		}
		for j, n := range names[i] {
			usLayout[uint32(r.plain[j])] = keyPos{code: code(n)}
			usLayout[uint32(r.shifted[j])] = keyPos{code: code(n), shift: true}
		}
	}
	usLayout[' '] = keyPos{code: code("KEY_SPACE")}

	free := map[uint32]string{
		0xff0d: "KEY_ENTER", 0xff1b: "KEY_ESC", 0xff09: "KEY_TAB",
		0xff08: "KEY_BACKSPACE", 0xffff: "KEY_DELETE", 0xff63: "KEY_INSERT",
		0xff50: "KEY_HOME", 0xff57: "KEY_END", 0xff55: "KEY_PAGEUP",
		0xff56: "KEY_PAGEDOWN", 0xff51: "KEY_LEFT", 0xff52: "KEY_UP",
		0xff53: "KEY_RIGHT", 0xff54: "KEY_DOWN", 0xffe5: "KEY_CAPSLOCK",
		0xff61: "KEY_SYSRQ", 0xff67: "KEY_COMPOSE", 0xff13: "KEY_PAUSE",
		0xff14: "KEY_SCROLLLOCK", 0xff7f: "KEY_NUMLOCK",

		0x1008ff12: "KEY_MUTE", 0x1008ff11: "KEY_VOLUMEDOWN",
		0x1008ff13: "KEY_VOLUMEUP", 0x1008ff14: "KEY_PLAYPAUSE",
		0x1008ff15: "KEY_STOPCD", 0x1008ff16: "KEY_PREVIOUSSONG",
		0x1008ff17: "KEY_NEXTSONG", 0x1008ff31: "KEY_PAUSECD",
		0x1008ffb2: "KEY_MICMUTE",

		0xffe3: "KEY_LEFTCTRL", 0xffe4: "KEY_RIGHTCTRL",
		0xffe1: "KEY_LEFTSHIFT", 0xffe2: "KEY_RIGHTSHIFT",
		0xffe9: "KEY_LEFTALT", 0xffea: "KEY_RIGHTALT",
		0xfe03: "KEY_RIGHTALT", // ISO_Level3_Shift is AltGr, the right Alt key
		0xffeb: "KEY_LEFTMETA", 0xffec: "KEY_RIGHTMETA",

		0xff8d: "KEY_KPENTER", 0xffaa: "KEY_KPASTERISK", 0xffab: "KEY_KPPLUS",
		0xffad: "KEY_KPMINUS", 0xffae: "KEY_KPDOT", 0xffaf: "KEY_KPSLASH",
		0xffb0: "KEY_KP0", 0xffb1: "KEY_KP1", 0xffb2: "KEY_KP2",
		0xffb3: "KEY_KP3", 0xffb4: "KEY_KP4", 0xffb5: "KEY_KP5",
		0xffb6: "KEY_KP6", 0xffb7: "KEY_KP7", 0xffb8: "KEY_KP8",
		0xffb9: "KEY_KP9",
	}
	for n := 1; n <= 24; n++ {
		free[0xffbe+uint32(n-1)] = "KEY_F" + strconv.Itoa(n) // XK_F1..XK_F24
	}
	for sym, n := range free {
		usLayout[sym] = keyPos{code: code(n)}
		layoutFree[sym] = true
	}
}

// deviceKeys returns every key and button code the virtual device
// declares, each once.
func deviceKeys() []uint16 {
	seen := map[uint16]bool{}
	var out []uint16
	add := func(c uint16) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, p := range usLayout {
		add(p.code)
	}
	add(code("KEY_LEFTSHIFT"))
	for _, b := range []string{"BTN_LEFT", "BTN_RIGHT", "BTN_MIDDLE"} {
		add(code(b))
	}
	return out
}

// The ioctl requests of linux/uinput.h, built as the kernel's _IO and
// _IOW macros build them on the architectures whose ioctl encoding is the
// generic one (asm-generic/ioctl.h: 2 direction bits at 30, 14 size bits
// at 16, the type at 8, the number at 0).
const (
	iocWrite     = 1
	uinputIoctl  = 'U'
	sizeofInt    = 4
	sizeofSetup  = 92 // struct uinput_setup
	sizeofInput  = 8  // struct input_id
	maxNameBytes = 80 // UINPUT_MAX_NAME_SIZE
)

func ioc(dir, typ, nr, size uint32) uint32 { return dir<<30 | size<<16 | typ<<8 | nr }

var (
	uiDevCreate  = ioc(0, uinputIoctl, 1, 0)
	uiDevDestroy = ioc(0, uinputIoctl, 2, 0)
	uiDevSetup   = ioc(iocWrite, uinputIoctl, 3, sizeofSetup)
	uiSetEvBit   = ioc(iocWrite, uinputIoctl, 100, sizeofInt)
	uiSetKeyBit  = ioc(iocWrite, uinputIoctl, 101, sizeofInt)
	uiSetRelBit  = ioc(iocWrite, uinputIoctl, 102, sizeofInt)
)

// deviceID is struct input_id.
type deviceID struct {
	bustype, vendor, product, version uint16
}

// encodeSetup lays out struct uinput_setup: struct input_id (four u16),
// char name[UINPUT_MAX_NAME_SIZE] NUL-padded, u32 ff_effects_max, in the
// machine's byte order.
func encodeSetup(id deviceID, name string, ffEffectsMax uint32) ([]byte, error) {
	if len(name) >= maxNameBytes || !utf8.ValidString(name) {
		return nil, fmt.Errorf("device name %q: not valid UTF-8 under %d bytes", name, maxNameBytes)
	}
	b := make([]byte, sizeofSetup)
	ne := binary.NativeEndian
	ne.PutUint16(b[0:], id.bustype)
	ne.PutUint16(b[2:], id.vendor)
	ne.PutUint16(b[4:], id.product)
	ne.PutUint16(b[6:], id.version)
	copy(b[sizeofInput:], name)
	ne.PutUint32(b[sizeofInput+maxNameBytes:], ffEffectsMax)
	return b, nil
}

// wordBytes is the size of a C long, which struct input_event's time
// fields are (__kernel_ulong_t on 32-bit systems since Linux 5.0, the two
// longs of struct timeval before, the same bytes).
const wordBytes = strconv.IntSize / 8

// sizeofEvent is sizeof(struct input_event): 24 bytes on 64-bit systems,
// 16 on 32-bit ones.
const sizeofEvent = 2*wordBytes + 8

// appendEvent appends struct input_event {time; u16 type; u16 code; s32
// value} to b. The time is left zero: the kernel stamps events written to
// uinput itself.
func appendEvent(b []byte, typ, code uint16, value int32) []byte {
	var e [sizeofEvent]byte
	ne := binary.NativeEndian
	ne.PutUint16(e[2*wordBytes:], typ)
	ne.PutUint16(e[2*wordBytes+2:], code)
	ne.PutUint32(e[2*wordBytes+4:], uint32(value))
	return append(b, e[:]...)
}
