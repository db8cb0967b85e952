package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"golang.org/x/sys/windows/registry"
)

// On Windows `mfd install` adds a value to the current user's Run key:
// Windows starts the command at each logon of this user, in a console
// window of its own (closing it stops the server). No admin rights, no
// service, no scheduled task.

const (
	runKey   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "mfd"
)

// commandLine quotes exe and args for the Run value, as Windows programs
// parse their command line.
func commandLine(exe string, args []string) string {
	q := []string{syscall.EscapeArg(exe)}
	for _, a := range args {
		q = append(q, syscall.EscapeArg(a))
	}
	return strings.Join(q, " ")
}

func install(_ context.Context, exe string, args []string, running bool, stdout io.Writer) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("opening HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	cmd := commandLine(exe, args)
	if err := k.SetStringValue(runValue, cmd); err != nil {
		return fmt.Errorf("writing HKCU\\%s\\%s: %w", runKey, runValue, err)
	}
	fmt.Fprintf(stdout, "wrote HKCU\\%s\\%s = %s\n", runKey, runValue, cmd)
	fmt.Fprintln(stdout, "mfd now starts when you log on, in a window of its own; close that window to stop it")
	if !running {
		fmt.Fprintln(stdout, "to start it now, run: mfd serve (with the same flags)")
	}
	return nil
}

func uninstall(_ context.Context, stdout io.Writer) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		fmt.Fprintln(stdout, "not installed: no logon entry")
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValue); errors.Is(err, registry.ErrNotExist) {
		fmt.Fprintln(stdout, "not installed: no logon entry")
		return nil
	} else if err != nil {
		return fmt.Errorf("removing HKCU\\%s\\%s: %w", runKey, runValue, err)
	}
	fmt.Fprintf(stdout, "removed HKCU\\%s\\%s: mfd no longer starts at logon (a running server keeps running)\n", runKey, runValue)
	return nil
}
