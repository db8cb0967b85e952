package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/portal"
	"github.com/openmfd/mfd/input/uinput"
)

// advice maps a backend's name to what a user does for it to work, for mfd
// doctor. Backend packages export their own (Advice); the per-OS files add
// those this build has.
var advice = map[string]func() string{
	"portal": portal.Advice,
	"uinput": uinput.Advice,
	"x11": func() string {
		return strings.TrimSpace(`
The x11 backend needs an X11 session: $DISPLAY set, and the X authority
($XAUTHORITY, else ~/.Xauthority) readable by the user mfd runs as. In a
Wayland session $DISPLAY is XWayland, where XTest reaches only X11
programs, so auto does not choose it there; --input x11 still forces it.`)
	},
}

// sessionVars are the variables detection reads, printed by mfd doctor.
var sessionVars = []string{
	"XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP", "WAYLAND_DISPLAY", "DISPLAY",
	"XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "SWAYSOCK", "HYPRLAND_INSTANCE_SIGNATURE",
}

// errNoBackend is mfd doctor's failure: nothing would drive this host.
var errNoBackend = errors.New("no input backend works in this session")

// runDoctor explains which input backend this host would use and why, and
// what to do where none fits.
func runDoctor(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mfd doctor [--input NAME] [--test-key] [--state-dir DIR]")
		fs.PrintDefaults()
	}
	name := inputFlag(fs)
	testKey := fs.Bool("test-key", false, "tap Shift through the chosen backend, into the focused window")
	stateDir := stateDirFlag(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return usageError{"doctor takes no arguments"}
	}
	if err := checkInputName(*name); err != nil {
		return err
	}
	return doctor(stdout, input.OSEnv(), *name, *stateDir, *testKey)
}

// doctor prints the session, every backend's verdict, the one chosen
// (opened, as mfd serve would), what to do, and the test key's fate.
func doctor(w io.Writer, env input.Env, name, stateDir string, testKey bool) error {
	explain(w, env)
	inj, ch, err := input.Open(name, input.Options{
		Env:      env,
		StateDir: stateDir,
		Logger:   slog.New(slog.DiscardHandler),
	})
	defer inj.Close()
	fmt.Fprintf(w, "\nChosen (--input %s)\n", ch.Requested)
	chosen, ok := ch.Chosen()
	if ok {
		c := inj.Caps()
		sw, sh := inj.Screen()
		fmt.Fprintf(w, "  %s: %s\n", chosen.Backend, chosen.Why)
		fmt.Fprintf(w, "  can type any character: %s; absolute pointer: %s; scroll: %s; screen %dx%d\n",
			yesNo(c.Unicode), yesNo(c.PointerAbs), yesNo(c.Scroll), sw, sh)
	} else {
		fmt.Fprintf(w, "  none: %v\n", err)
	}

	fmt.Fprintln(w, "\nWhat to do")
	var topics []string
	for _, f := range ch.Findings {
		if strings.Contains(f.Why, "opening it failed") || ch.Requested != "auto" && !f.Chosen {
			topics = append(topics, f.Backend)
		}
	}
	switch {
	case ok && len(topics) == 0:
		fmt.Fprintf(w, "  nothing: remote input works here through %s.\n", chosen.Backend)
		topics = append(topics, chosen.Backend)
	case ok:
		fmt.Fprintf(w, "  remote input works through %s; to use a backend tried before it:\n", chosen.Backend)
		topics = append(topics, chosen.Backend)
	default:
		fmt.Fprintln(w, "  remote input does not work here yet. What makes each backend work:")
		topics = topics[:0]
		for _, b := range input.Backends() {
			topics = append(topics, b.Name)
		}
	}
	for _, t := range topics {
		a, has := advice[t]
		if !has {
			continue
		}
		fmt.Fprintf(w, "\n  %s:\n", t)
		for _, line := range strings.Split(a(), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}

	fmt.Fprintln(w, "\nTest key")
	switch {
	case !ok:
		fmt.Fprintln(w, "  not sent: no backend is open")
	case !testKey:
		// Not by default: the focused window gets the key, and an input
		// method may switch modes on a lone Shift.
		fmt.Fprintln(w, "  not sent; mfd doctor --test-key taps Shift into the focused window")
	default:
		if err := inj.Tap("shift", nil); err != nil {
			fmt.Fprintf(w, "  failed: a tap of Shift through %s: %v\n", chosen.Backend, err)
			return fmt.Errorf("sending the test key: %w", err)
		}
		fmt.Fprintf(w, "  sent: a tap of Shift through %s, into the focused window\n", chosen.Backend)
	}
	if !ok {
		return errNoBackend
	}
	return nil
}

// explain prints the session's variables and every backend's verdict on
// it, in detection order, without opening anything; it returns the first
// backend that fits: the one --input auto tries first.
func explain(w io.Writer, env input.Env) (first string) {
	fmt.Fprintln(w, "Session")
	for _, v := range sessionVars {
		val := env.Getenv(v)
		if val == "" {
			val = "(unset)"
		}
		fmt.Fprintf(w, "  %-28s %s\n", v, val)
	}
	uinput := "not writable by this user"
	if env.Writable("/dev/uinput") {
		uinput = "writable"
	}
	fmt.Fprintf(w, "  %-28s %s\n", "/dev/uinput", uinput)

	fmt.Fprintln(w, "\nBackends, in the order --input auto tries them")
	for _, f := range input.Detect(env) {
		fmt.Fprintf(w, "  %-8s %-4s %s\n", f.Backend, yesNo(f.OK), f.Why)
		if f.OK && first == "" {
			first = f.Backend
		}
	}
	return first
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
