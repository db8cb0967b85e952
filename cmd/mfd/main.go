// Command mfd turns a browser, tablet or phone on the LAN into a
// multi-function display for this desktop. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the Makefile from git.
var version = "dev"

const usage = `usage: mfd <command> [flags]

commands:
  serve     run the server (HTTPS, MQTT over WebSocket, the panel) and this host's agent
  agent     run the agent of another host against a server or an MQTT broker
  clients   list, approve, deny and revoke clients of the running server
  input     switch remote input on this host on or off
  stats     print the running server's goroutines, heap, open files and MQTT clients
  doctor    explain which input backend this host uses and why, and what to do
  install   run 'mfd serve' (with the flags given) when you log on: a systemd
            user unit on Linux, a logon entry on Windows; no admin rights
  uninstall undo install
  version   print the version

Every command takes --state-dir DIR (default $MFD_STATE_DIR, else
$XDG_STATE_HOME/mfd or ~/.local/state/mfd; on Windows %LOCALAPPDATA%\mfd).
Run 'mfd <command> -h' for its flags.
`

func main() {
	// On Windows, Go turns Ctrl+C and Ctrl+Break into os.Interrupt, and
	// closing the console window, logging off and shutting down into
	// SIGTERM; for those it holds Windows' handler until the program
	// exits, and Windows ends the program 5 s after a close. serve's
	// shutdown releases held input first and bounds the rest to 3 s.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mfd:", err)
		}
		var ue usageError
		if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks a mistake in how mfd was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "agent":
		return runAgent(ctx, args[1:], stdout, stderr)
	case "clients":
		return runClients(ctx, args[1:], stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], stdout, stderr)
	case "input":
		return runInput(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "install":
		return runInstall(ctx, args[1:], stdout, stderr)
	case "uninstall":
		return runUninstall(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "mfd", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// parseInterleaved parses flags that may stand before or after positional
// arguments, as users type them ("approve 123456 --state-dir x"), and
// returns the positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		// A lone "--" ends flags; flag.Parse consumed it already.
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// stateDirFlag adds --state-dir to fs with the contract's default.
func stateDirFlag(fs *flag.FlagSet) *string {
	return fs.String("state-dir", defaultStateDir(), "state directory (env MFD_STATE_DIR)")
}

func defaultStateDir() string {
	if d := os.Getenv("MFD_STATE_DIR"); d != "" {
		return d
	}
	return osStateDir()
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
