package main

// The input backends only Linux has; each registers itself with package
// input.
import _ "github.com/openmfd/mfd/input/wlroots"
