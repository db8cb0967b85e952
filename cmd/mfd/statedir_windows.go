package main

import (
	"os"
	"path/filepath"
)

// osStateDir is the state dir when neither --state-dir nor MFD_STATE_DIR
// names one: %LOCALAPPDATA%\mfd, which stays on this machine (a roaming
// profile would carry the server's keys to others).
func osStateDir() string {
	if d := os.Getenv("LOCALAPPDATA"); d != "" {
		return filepath.Join(d, "mfd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mfd-state")
	}
	return filepath.Join(home, "AppData", "Local", "mfd")
}
