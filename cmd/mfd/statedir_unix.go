//go:build !windows

package main

import (
	"os"
	"path/filepath"
)

// osStateDir is the state dir when neither --state-dir nor MFD_STATE_DIR
// names one: the XDG state home.
func osStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mfd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mfd-state")
	}
	return filepath.Join(home, ".local", "state", "mfd")
}
