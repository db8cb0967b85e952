package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/openmfd/mfd/input"
)

// inputFlag adds --input to fs.
func inputFlag(fs *flag.FlagSet) *string {
	return fs.String("input", "auto", "input backend: "+strings.Join(input.Names(), ", "))
}

// checkInputName reports a usage error for a name --input does not take.
func checkInputName(name string) error {
	if !slices.Contains(input.Names(), name) {
		return usageError{fmt.Sprintf("--input %q: this build has %s", name, strings.Join(input.Names(), ", "))}
	}
	return nil
}

// openInput opens the backend --input names. With auto, a host where no
// backend fits still runs: it answers every command with no_input, and
// the log says why each backend was passed over. A backend the user named
// that does not open is an error.
func openInput(log *slog.Logger, name, stateDir string) (input.Injector, error) {
	inj, ch, err := input.Open(name, input.Options{Logger: log.With("part", "input"), StateDir: stateDir})
	for _, f := range ch.Findings {
		log.Debug("input backend", "backend", f.Backend, "fits", f.OK, "chosen", f.Chosen, "why", f.Why)
	}
	switch {
	case err == nil:
		f, _ := ch.Chosen()
		log.Info("input backend chosen", "backend", inj.Backend(), "why", f.Why)
		return inj, nil
	case name == "auto" && errors.Is(err, input.ErrNoInput):
		log.Warn("no input backend fits this session: remote input is unavailable on this host (mfd doctor tells more)", "err", err)
		return inj, nil
	}
	return nil, err
}
