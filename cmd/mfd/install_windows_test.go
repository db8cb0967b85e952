package main

import (
	"slices"
	"testing"

	"golang.org/x/sys/windows"
)

// TestCommandLine checks that the Run value reads back, as Windows splits
// a command line (CommandLineToArgvW), into the same arguments.
func TestCommandLine(t *testing.T) {
	exe := `C:\Program Files\mfd\mfd.exe`
	args := []string{"serve", "--state-dir", `C:\Users\Ada Lovelace\AppData\Local\mfd\`, "--config", `C:\a "quoted" name.yaml`, "--listen", "0.0.0.0:6789", "--mqtt-tls", ""}
	line := commandLine(exe, args)
	got, err := windows.DecomposeCommandLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{exe}, args...); !slices.Equal(got, want) {
		t.Errorf("commandLine = %s\nsplits into %q\nwant %q", line, got, want)
	}
}
