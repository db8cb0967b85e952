package server

import (
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/openmfd/mfd/server/admin"
)

var getProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// countOpenFiles counts the process's open handles: Windows' file
// descriptors, and what a leak of sockets, pipes or files grows.
func countOpenFiles(st *admin.Stats) {
	var n uint32
	if ok, _, _ := getProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); ok != 0 {
		st.OpenHandles = &n
	}
}
