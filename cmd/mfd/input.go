package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/openmfd/mfd/server/admin"
)

// runInput switches remote input on this host's own agent (the one inside
// `mfd serve`) on or off: off, every client's command is answered
// input_off until it is on again. Home Assistant does the same through the
// host's input/set topic.
func runInput(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd input", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mfd input on|off [--state-dir DIR]")
		fs.PrintDefaults()
	}
	stateDir := stateDirFlag(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "on" && pos[0] != "off") {
		fs.Usage()
		return usageError{"input: want exactly one of on or off"}
	}
	ac, err := admin.Dial(*stateDir)
	if err != nil {
		return err
	}
	defer ac.Close()
	if err := ac.SetInput(pos[0] == "on"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "remote input on this host: %s\n", pos[0])
	return nil
}
