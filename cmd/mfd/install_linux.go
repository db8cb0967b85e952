package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openmfd/mfd/internal/atomicfile"
)

// On Linux `mfd install` writes a systemd user unit and enables it. It is
// part of graphical-session.target, systemd's convention for a service of
// the desktop session: started once the desktop has given the user
// manager $DISPLAY or $WAYLAND_DISPLAY (GNOME and KDE do), stopped when
// the session ends.

const unitName = "mfd.service"

// unitPath returns where the user unit lives: $XDG_CONFIG_HOME, else
// ~/.config, /systemd/user/mfd.service.
func unitPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the config dir: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "systemd", "user", unitName), nil
}

// systemdUnit returns the unit that runs exe with args, with env (KEY=VALUE)
// in its environment.
func systemdUnit(exe string, args, env []string) (string, error) {
	cmd := []string{exe}
	cmd = append(cmd, args...)
	var quoted []string
	for _, a := range cmd {
		q, err := systemdQuote(a)
		if err != nil {
			return "", err
		}
		quoted = append(quoted, q)
	}
	var b strings.Builder
	b.WriteString("# Written by `mfd install`; `mfd uninstall` removes it.\n")
	b.WriteString("[Unit]\nDescription=mfd: this desktop as a multi-function display server\n")
	b.WriteString("PartOf=graphical-session.target\nAfter=graphical-session.target\n\n")
	b.WriteString("[Service]\n")
	for _, kv := range env {
		q, err := systemdQuote(kv)
		if err != nil {
			return "", err
		}
		b.WriteString("Environment=" + q + "\n")
	}
	b.WriteString("ExecStart=" + strings.Join(quoted, " ") + "\n")
	b.WriteString("Restart=on-failure\nRestartSec=5s\n\n")
	b.WriteString("[Install]\nWantedBy=graphical-session.target\n")
	return b.String(), nil
}

// systemdQuote quotes one word of a unit's command line or environment:
// systemd splits on spaces, reads C escapes in quotes and expands %
// specifiers and $ variables, so each of those is escaped.
func systemdQuote(s string) (string, error) {
	if strings.ContainsAny(s, "\n\r\x00") {
		return "", fmt.Errorf("%q: a line break cannot go into a systemd unit", s)
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return esc, nil
	}
	return `"` + esc + `"`, nil
}

func install(_ context.Context, exe string, args []string, running bool, stdout io.Writer) error {
	path, err := unitPath()
	if err != nil {
		return err
	}
	var env []string
	if v := os.Getenv("MFD_TOKEN_TTL"); v != "" {
		env = append(env, "MFD_TOKEN_TTL="+v)
	}
	unit, err := systemdUnit(exe, args, env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.WriteFile(path, []byte(unit), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	enable := []string{"enable", "--now", unitName}
	if running {
		fmt.Fprintln(stdout, "a server is running on this state dir already: the unit starts it from your next logon")
		enable = []string{"enable", unitName}
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		fmt.Fprintf(stdout, "systemctl is not here, so nothing will start the unit: start `%s` from your desktop's autostart instead\n",
			strings.Join(append([]string{exe}, args...), " "))
		return nil
	}
	for _, c := range [][]string{{"daemon-reload"}, enable} {
		if err := systemctl(c...); err != nil {
			return fmt.Errorf("%w\nthe unit is written; once your user's systemd runs, do: systemctl --user %s", err, strings.Join(enable, " "))
		}
	}
	fmt.Fprintln(stdout, "mfd now starts with your desktop session; status: systemctl --user status mfd, log: journalctl --user -u mfd")
	// Desktops without systemd integration (a bare window manager, startx)
	// never reach graphical-session.target, nor give the user manager
	// their $DISPLAY: say what to add to their startup instead.
	if err := systemctl("is-active", "--quiet", "graphical-session.target"); err != nil {
		fmt.Fprintln(stdout, "but this session has no graphical-session.target, so nothing starts the unit at logon: add to your session's startup\n"+
			"  systemctl --user import-environment DISPLAY XAUTHORITY WAYLAND_DISPLAY && systemctl --user start mfd")
	}
	return nil
}

func uninstall(_ context.Context, stdout io.Writer) error {
	path, err := unitPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "not installed: %s does not exist\n", path)
		return nil
	}
	_, lookErr := exec.LookPath("systemctl")
	if lookErr == nil {
		if err := systemctl("disable", "--now", unitName); err != nil {
			fmt.Fprintf(stdout, "%v (removing the unit all the same)\n", err)
		}
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "removed %s\n", path)
	if lookErr == nil {
		if err := systemctl("daemon-reload"); err != nil {
			fmt.Fprintln(stdout, err)
		}
	}
	return nil
}

// systemctl runs systemctl --user with args.
func systemctl(args ...string) error {
	out, err := exec.Command("systemctl", append([]string{"--user"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl --user %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
