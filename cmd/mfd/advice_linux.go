package main

import "github.com/openmfd/mfd/input/wlroots"

func init() { advice["wlroots"] = wlroots.Advice }
