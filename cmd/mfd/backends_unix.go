//go:build !windows

package main

// The input backends this binary offers on Unix systems; each registers
// itself with package input where its system has it (the portal on Linux
// and the BSDs, uinput on Linux, X11 where cgo and Xlib are).
import (
	_ "github.com/openmfd/mfd/input/portal"
	_ "github.com/openmfd/mfd/input/uinput"
	_ "github.com/openmfd/mfd/input/x11"
)
