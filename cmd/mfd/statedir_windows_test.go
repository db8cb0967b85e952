package main

import "testing"

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("MFD_STATE_DIR", `D:\mfd`)
	if got := defaultStateDir(); got != `D:\mfd` {
		t.Errorf("with MFD_STATE_DIR: %q", got)
	}
	t.Setenv("MFD_STATE_DIR", "")
	t.Setenv("LOCALAPPDATA", `C:\Users\ada\AppData\Local`)
	if got := defaultStateDir(); got != `C:\Users\ada\AppData\Local\mfd` {
		t.Errorf("with LOCALAPPDATA: %q", got)
	}
	t.Setenv("LOCALAPPDATA", "")
	t.Setenv("USERPROFILE", `C:\Users\ada`)
	if got := defaultStateDir(); got != `C:\Users\ada\AppData\Local\mfd` {
		t.Errorf("without LOCALAPPDATA: %q", got)
	}
}
