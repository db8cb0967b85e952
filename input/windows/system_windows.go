//go:build windows

package windows

import (
	"fmt"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                        = windows.NewLazySystemDLL("user32.dll")
	procSendInput                 = user32.NewProc("SendInput")
	procGetSystemMetrics          = user32.NewProc("GetSystemMetrics")
	procVkKeyScanExW              = user32.NewProc("VkKeyScanExW")
	procMapVirtualKeyExW          = user32.NewProc("MapVirtualKeyExW")
	procGetKeyboardLayout         = user32.NewProc("GetKeyboardLayout")
	procOpenInputDesktop          = user32.NewProc("OpenInputDesktop")
	procCloseDesktop              = user32.NewProc("CloseDesktop")
	procGetUserObjectInformationW = user32.NewProc("GetUserObjectInformationW")
	procSetProcessDpiAwarenessCtx = user32.NewProc("SetProcessDpiAwarenessContext")
	procSetProcessDPIAware        = user32.NewProc("SetProcessDPIAware")
)

// GetSystemMetrics indexes.
const (
	smCXScreen        = 0
	smCYScreen        = 1
	smXVirtualScreen  = 76
	smYVirtualScreen  = 77
	smCXVirtualScreen = 78
	smCYVirtualScreen = 79
)

// rawInput is INPUT on 64- and 32-bit Windows alike as far as SendInput
// reads it: the type, then the union, whose largest member is MOUSEINPUT.
// Keyboard events are written over the union as keybdInput.
type rawInput struct {
	typ   uint32
	union mouseInput
}

type mouseInput struct {
	dx, dy    int32
	mouseData uint32
	flags     uint32
	time      uint32
	extraInfo uintptr
}

type keybdInput struct {
	vk, scan  uint16
	flags     uint32
	time      uint32
	extraInfo uintptr
}

// winSystem is the real system: user32 and the process tokens.
type winSystem struct{}

func newSystem() system {
	// Without DPI awareness Windows scales what GetSystemMetrics reports
	// on a monitor set to more than 100%, and Screen would not be in
	// pixels. Per-monitor awareness (-4) needs Windows 10 1703; older
	// systems get system awareness.
	if procSetProcessDpiAwarenessCtx.Find() == nil {
		procSetProcessDpiAwarenessCtx.Call(^uintptr(3)) // DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2
	} else if procSetProcessDPIAware.Find() == nil {
		procSetProcessDPIAware.Call()
	}
	return winSystem{}
}

func (winSystem) sendInput(evs []event) (int, error) {
	raw := make([]rawInput, len(evs))
	for i, e := range evs {
		raw[i].typ = e.kind
		if e.kind == inputKeyboard {
			k := (*keybdInput)(unsafe.Pointer(&raw[i].union))
			k.vk, k.scan, k.flags = e.vk, e.scan, e.flags
			continue
		}
		m := &raw[i].union
		m.dx, m.dy, m.mouseData, m.flags = e.dx, e.dy, e.data, e.flags
	}
	n, _, err := procSendInput.Call(uintptr(len(raw)), uintptr(unsafe.Pointer(&raw[0])), unsafe.Sizeof(raw[0]))
	if int(n) == len(raw) {
		return len(raw), nil
	}
	return int(n), err
}

func metric(i int) int {
	v, _, _ := procGetSystemMetrics.Call(uintptr(i))
	return int(int32(v))
}

func (winSystem) primary() (int, int) { return metric(smCXScreen), metric(smCYScreen) }

func (winSystem) virtualScreen() (x, y, w, h int) {
	return metric(smXVirtualScreen), metric(smYVirtualScreen), metric(smCXVirtualScreen), metric(smCYVirtualScreen)
}

// layout returns the keyboard layout of the thread that owns the window
// in front: the one the user types in.
func layout() uintptr {
	var tid uint32
	if fg := windows.GetForegroundWindow(); fg != 0 {
		tid, _ = windows.GetWindowThreadProcessId(fg, nil)
	}
	hkl, _, _ := procGetKeyboardLayout.Call(uintptr(tid))
	return hkl
}

func (winSystem) keyScan(r rune) (uint16, uint8, bool) {
	v, _, _ := procVkKeyScanExW.Call(uintptr(r), layout())
	res := int16(v)
	if res == -1 {
		return 0, 0, false
	}
	return uint16(res & 0xff), uint8(res >> 8), true
}

func (winSystem) scanCode(vk uint16) uint16 {
	const mapvkVKToVSC = 0
	sc, _, _ := procMapVirtualKeyExW.Call(uintptr(vk), mapvkVKToVSC, layout())
	return uint16(sc)
}

func (winSystem) foreground() uintptr { return uintptr(windows.GetForegroundWindow()) }

func (winSystem) refusal(fg uintptr) (string, bool) {
	if why := inputDesktopRefusal(); why != "" {
		return why, true
	}
	if fg == 0 {
		return "", false
	}
	return uipiRefusal(windows.HWND(fg))
}

// inputDesktopRefusal reports when the desktop that receives input is not
// the user's: the session is locked, or a UAC prompt or the Ctrl+Alt+Del
// screen (the secure desktop) is in front. No program outside it may send
// input there.
func inputDesktopRefusal() string {
	const desktopReadObjects = 0x0001
	h, _, err := procOpenInputDesktop.Call(0, 0, desktopReadObjects)
	if h == 0 {
		return fmt.Sprintf("the input desktop cannot be opened (%v): the session is locked or a secure desktop (a UAC prompt, the Ctrl+Alt+Del screen) is in front, and Windows lets no program type there", err)
	}
	defer procCloseDesktop.Call(h)
	const uoiName = 2
	var buf [64]uint16
	var n uint32
	ok, _, _ := procGetUserObjectInformationW.Call(h, uoiName, uintptr(unsafe.Pointer(&buf[0])), unsafe.Sizeof(buf), uintptr(unsafe.Pointer(&n)))
	if ok == 0 {
		return ""
	}
	name := windows.UTF16ToString(buf[:])
	if !strings.EqualFold(name, "Default") {
		return fmt.Sprintf("the input desktop is %q, not the user's: the session is locked or a secure desktop (a UAC prompt, the Ctrl+Alt+Del screen) is in front, and Windows lets no program type there", name)
	}
	return ""
}

// uipiRefusal reports when the process that owns window fg runs at a
// higher integrity level than this one, which is how an elevated program
// ("Run as administrator") is shielded from input of programs that are
// not: User Interface Privilege Isolation.
func uipiRefusal(fg windows.HWND) (string, bool) {
	var pid uint32
	if _, err := windows.GetWindowThreadProcessId(fg, &pid); err != nil || pid == 0 {
		return "", false
	}
	own, err := integrity(windows.GetCurrentProcessToken())
	if err != nil {
		return "", false
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return fmt.Sprintf("the window in front belongs to process %d, which mfd may not even inspect (%v): it probably runs as administrator, and Windows (UIPI) blocks input to it from programs that do not", pid, err), false
	}
	defer windows.CloseHandle(p)
	exe := fmt.Sprintf("process %d", pid)
	var name [windows.MAX_PATH]uint16
	size := uint32(len(name))
	if windows.QueryFullProcessImageName(p, 0, &name[0], &size) == nil {
		exe = fmt.Sprintf("%s (process %d)", filepath.Base(windows.UTF16ToString(name[:size])), pid)
	}
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return fmt.Sprintf("the window in front, %s, cannot be inspected (%v): it probably runs as administrator, and Windows (UIPI) blocks input to it from programs that do not", exe, err), false
	}
	defer tok.Close()
	theirs, err := integrity(tok)
	if err != nil || theirs <= own {
		return "", false
	}
	return fmt.Sprintf("the window in front, %s, runs as administrator (integrity level %#x, mfd's is %#x), and Windows (UIPI) blocks input to it from programs that do not: bring another window to the front, or run mfd as administrator", exe, theirs, own), true
}

// integrity returns the integrity level of tok: the last sub-authority
// of its mandatory label (0x2000 medium, 0x3000 high).
func integrity(tok windows.Token) (uint32, error) {
	var n uint32
	windows.GetTokenInformation(tok, windows.TokenIntegrityLevel, nil, 0, &n)
	if n == 0 {
		return 0, fmt.Errorf("reading the token's integrity level: no size")
	}
	buf := make([]byte, n)
	if err := windows.GetTokenInformation(tok, windows.TokenIntegrityLevel, &buf[0], n, &n); err != nil {
		return 0, fmt.Errorf("reading the token's integrity level: %w", err)
	}
	label := (*windows.Tokenmandatorylabel)(unsafe.Pointer(&buf[0]))
	sid := label.Label.Sid
	c := sid.SubAuthorityCount()
	if c == 0 {
		return 0, fmt.Errorf("reading the token's integrity level: empty SID")
	}
	return sid.SubAuthority(uint32(c) - 1), nil
}
