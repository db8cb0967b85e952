//go:build windows

package main

// The input backend this binary offers on Windows; it registers itself
// with package input.
import _ "github.com/openmfd/mfd/input/windows"
