package main

// The input backends only Linux (and for the portal, the BSDs) has; each
// registers itself with package input.
import (
	_ "github.com/openmfd/mfd/input/portal"
	_ "github.com/openmfd/mfd/input/wlroots"
)
