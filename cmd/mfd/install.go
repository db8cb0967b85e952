package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/openmfd/mfd/server/admin"
)

// runInstall makes `mfd serve`, with the flags given here, start when the
// user logs on: a systemd user unit on Linux, a per-user Run entry on
// Windows. Neither needs admin rights.
func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mfd install [serve flags]\n\nStart `mfd serve` with these flags when you log on (no admin rights needed).")
		fs.PrintDefaults()
	}
	sf := addServeFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("install: unexpected argument %q", pos[0])}
	}
	if err := checkInputName(*sf.inputName); err != nil {
		return err
	}
	serveArgs, err := sf.installArgs(fs)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("finding this program: %w", err)
	}
	// A server already running on the state dir would make the installed
	// one fail at once; it starts at the next logon instead.
	running := false
	if ac, err := admin.Dial(*sf.stateDir); err == nil {
		ac.Close()
		running = true
	}
	return install(ctx, exe, serveArgs, running, stdout)
}

// runUninstall undoes runInstall.
func runUninstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd uninstall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("uninstall: unexpected argument %q", pos[0])}
	}
	return uninstall(ctx, stdout)
}

// installArgs returns the arguments of the serve to install: serve, the
// state dir (always, made absolute: the logon session may not have the
// environment that chose it here) and every other flag given to install,
// paths made absolute, in a fixed order.
func (sf *serveFlags) installArgs(fs *flag.FlagSet) ([]string, error) {
	state, err := filepath.Abs(*sf.stateDir)
	if err != nil {
		return nil, fmt.Errorf("resolving the state dir: %w", err)
	}
	args := []string{"serve", "--state-dir", state}
	var names []string
	fs.Visit(func(f *flag.Flag) { names = append(names, f.Name) })
	slices.Sort(names)
	for _, name := range names {
		switch name {
		case "state-dir":
		case "no-agent", "debug":
			if v := fs.Lookup(name).Value.String(); v == "true" {
				args = append(args, "--"+name)
			}
		case "config":
			p := *sf.configPath
			if p != "" {
				if p, err = filepath.Abs(p); err != nil {
					return nil, fmt.Errorf("resolving --config: %w", err)
				}
			}
			args = append(args, "--config", p)
		default:
			args = append(args, "--"+name, fs.Lookup(name).Value.String())
		}
	}
	return args, nil
}
