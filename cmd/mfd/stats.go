package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/openmfd/mfd/authsvc"
)

func runStats(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := stateDirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("stats: unexpected argument %q", pos[0])}
	}
	ac, err := authsvc.DialAdmin(*stateDir)
	if err != nil {
		return err
	}
	defer ac.Close()
	st, err := ac.Stats()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if f, ok := st[k].(float64); ok {
			fmt.Fprintf(stdout, "%-14s %.0f\n", k, f)
			continue
		}
		fmt.Fprintf(stdout, "%-14s %v\n", k, st[k])
	}
	return nil
}
