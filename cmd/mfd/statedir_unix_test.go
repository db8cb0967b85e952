//go:build !windows

package main

import "testing"

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("MFD_STATE_DIR", "/from/env")
	if got := defaultStateDir(); got != "/from/env" {
		t.Errorf("with MFD_STATE_DIR: %q", got)
	}
	t.Setenv("MFD_STATE_DIR", "")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	if got := defaultStateDir(); got != "/xdg/mfd" {
		t.Errorf("with XDG_STATE_HOME: %q, want /xdg/mfd", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/ada")
	if got := defaultStateDir(); got != "/home/ada/.local/state/mfd" {
		t.Errorf("default: %q", got)
	}
}
