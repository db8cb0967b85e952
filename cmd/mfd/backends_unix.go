//go:build !windows

package main

// The input backends this binary offers on Unix systems; each registers
// itself with package input.
import _ "github.com/openmfd/mfd/input/x11"
