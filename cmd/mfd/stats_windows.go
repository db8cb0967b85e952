package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var getProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// addOpenFiles counts the process's open handles: Windows' file
// descriptors, and what a leak of sockets, pipes or files grows.
func addOpenFiles(st map[string]any) {
	var n uint32
	if ok, _, _ := getProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); ok != 0 {
		st["open_handles"] = n
	}
}
