package main

import (
	"github.com/openmfd/mfd/input/portal"
	"github.com/openmfd/mfd/input/wlroots"
)

func init() {
	advice["portal"] = portal.Advice
	advice["wlroots"] = wlroots.Advice
}
