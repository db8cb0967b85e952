//go:build windows

// Command inputlog is a test program for Windows (and Wine): it shows a
// window that covers the primary monitor, takes the input focus and prints
// one line for every key, character, button, wheel and pointer move that
// reaches it, so that a test can check what an input backend sent:
//
//	ready hwnd=0x10020
//	keydown vk=0x41 ext=0 scan=0x1e
//	char U+0061 a
//	keyup vk=0x41 ext=0 scan=0x1e
//	button down left
//	button dblclk left
//	wheel v -120
//	wheel h 120
//	cursor 640,512
//
// Characters outside the Basic Multilingual Plane arrive as two WM_CHAR,
// a surrogate pair; inputlog joins them and prints one line. Key lines
// carry the generic virtual key the window sees (VK_SHIFT for either
// Shift), the extended-key flag and the scan code. Pointer positions are
// in desktop coordinates, where the pointer was when a WM_MOUSEMOVE was
// posted (GetMessagePos), printed when it changed; "ready" gives
// GetCursorPos. Button lines carry no position: under Wine the X server's
// late report of a pointer warp can move the pointer back for a moment,
// and a click's position would depend on that race.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
	procShowWindow       = user32.NewProc("ShowWindow")
	procSetForeground    = user32.NewProc("SetForegroundWindow")
	procSetFocus         = user32.NewProc("SetFocus")
	procGetCursorPos     = user32.NewProc("GetCursorPos")
	procGetMessagePos    = user32.NewProc("GetMessagePos")
	procGetSystemMetrics = user32.NewProc("GetSystemMetrics")
	procSetTimer         = user32.NewProc("SetTimer")
	procKillTimer        = user32.NewProc("KillTimer")
	procGetModuleHandleW = kernel32.NewProc("GetModuleHandleW")
)

const (
	wmKeyDown       = 0x0100
	wmKeyUp         = 0x0101
	wmChar          = 0x0102
	wmSysKeyDown    = 0x0104
	wmSysKeyUp      = 0x0105
	wmSysChar       = 0x0106
	wmTimer         = 0x0113
	wmMouseMove     = 0x0200
	wmLButtonDown   = 0x0201
	wmLButtonUp     = 0x0202
	wmLButtonDblClk = 0x0203
	wmRButtonDown   = 0x0204
	wmRButtonUp     = 0x0205
	wmRButtonDblClk = 0x0206
	wmMButtonDown   = 0x0207
	wmMButtonUp     = 0x0208
	wmMButtonDblClk = 0x0209
	wmMouseWheel    = 0x020a
	wmMouseHWheel   = 0x020e

	csDblClks = 0x0008
	wsPopup   = 0x80000000
	wsVisible = 0x10000000
	swShow    = 5
)

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

type msg struct {
	hwnd    windows.HWND
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
	private uint32
}

var (
	hwnd        windows.HWND
	highSurr    uint16 // a high surrogate waiting for its low half
	lastX       int32
	lastY       int32
	cursorKnown bool
	ready       bool
)

func out(format string, args ...any) {
	// One write per line: the test reads lines as they come.
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func cursor() (int32, int32) {
	var pt struct{ x, y int32 }
	procGetCursorPos.Call(uintptr(unsafe.Pointer(&pt)))
	return pt.x, pt.y
}

// msgPos is where the pointer was when the message being handled was
// posted: GetCursorPos would tell where it is now, after moves that
// followed.
func msgPos() (int32, int32) {
	p, _, _ := procGetMessagePos.Call()
	return int32(int16(p)), int32(int16(p >> 16))
}

func button(what, which string) { out("button %s %s", what, which) }

func wndProc(h windows.HWND, m uint32, wp, lp uintptr) uintptr {
	switch m {
	case wmKeyDown, wmSysKeyDown:
		out("keydown vk=%#02x ext=%d scan=%#02x", wp, lp>>24&1, lp>>16&0xff)
		return 0
	case wmKeyUp, wmSysKeyUp:
		out("keyup vk=%#02x ext=%d scan=%#02x", wp, lp>>24&1, lp>>16&0xff)
		return 0
	case wmChar, wmSysChar:
		u := uint16(wp)
		switch {
		case utf16.IsSurrogate(rune(u)) && u < 0xdc00:
			highSurr = u
		case utf16.IsSurrogate(rune(u)):
			r := utf16.DecodeRune(rune(highSurr), rune(u))
			highSurr = 0
			out("char U+%04X %c", r, r)
		default:
			if u < 0x20 {
				out("char U+%04X", u)
			} else {
				out("char U+%04X %c", u, rune(u))
			}
		}
		return 0
	case wmLButtonDown:
		button("down", "left")
	case wmLButtonUp:
		button("up", "left")
	case wmLButtonDblClk:
		button("dblclk", "left")
	case wmRButtonDown:
		button("down", "right")
	case wmRButtonUp:
		button("up", "right")
	case wmRButtonDblClk:
		button("dblclk", "right")
	case wmMButtonDown:
		button("down", "middle")
	case wmMButtonUp:
		button("up", "middle")
	case wmMButtonDblClk:
		button("dblclk", "middle")
	case wmMouseWheel:
		out("wheel v %d", int16(wp>>16))
		return 0
	case wmMouseHWheel:
		out("wheel h %d", int16(wp>>16))
		return 0
	case wmMouseMove:
		if x, y := msgPos(); !cursorKnown || x != lastX || y != lastY {
			lastX, lastY, cursorKnown = x, y, true
			if ready {
				out("cursor %d,%d", x, y)
			}
		}
		return 0
	case wmTimer:
		// Wait for the focus before saying ready: input sent earlier
		// would go elsewhere.
		fg := windows.GetForegroundWindow()
		if fg == h {
			procKillTimer.Call(uintptr(h), 1)
			ready = true
			x, y := cursor()
			lastX, lastY, cursorKnown = x, y, true
			out("ready hwnd=%#x cursor %d,%d", h, x, y)
		} else {
			procSetForeground.Call(uintptr(h))
			procSetFocus.Call(uintptr(h))
		}
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(uintptr(h), uintptr(m), wp, lp)
	return r
}

func main() {
	runtime.LockOSThread()
	inst, _, _ := procGetModuleHandleW.Call(0)
	name, _ := syscall.UTF16PtrFromString("mfdInputLog")
	wc := wndClassEx{
		style:     csDblClks,
		wndProc:   windows.NewCallback(wndProc),
		instance:  windows.Handle(inst),
		className: name,
	}
	wc.size = uint32(unsafe.Sizeof(wc))
	if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
		fmt.Fprintln(os.Stderr, "inputlog: RegisterClassExW:", err)
		os.Exit(1)
	}
	w, _, _ := procGetSystemMetrics.Call(0)
	h, _, _ := procGetSystemMetrics.Call(1)
	title, _ := syscall.UTF16PtrFromString("mfd input log")
	r, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(title)),
		wsPopup|wsVisible, 0, 0, w, h, 0, 0, inst, 0)
	if r == 0 {
		fmt.Fprintln(os.Stderr, "inputlog: CreateWindowExW:", err)
		os.Exit(1)
	}
	hwnd = windows.HWND(r)
	procShowWindow.Call(r, swShow)
	procSetForeground.Call(r)
	procSetFocus.Call(r)
	procSetTimer.Call(r, 1, uintptr(20*time.Millisecond/time.Millisecond), 0)
	var m msg
	for {
		ret, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(ret) <= 0 {
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}
