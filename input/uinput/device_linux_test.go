//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || loong64 || s390x)

package uinput

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
)

// TestNewOnWhatIsNotUinput drives the real file-descriptor path: a missing
// node and a node that is not uinput (/dev/null answers the first ioctl
// with ENOTTY) both fail with ErrNoInput and say why.
func TestNewOnWhatIsNotUinput(t *testing.T) {
	_, err := New(Options{Path: filepath.Join(t.TempDir(), "uinput")})
	if !errors.Is(err, input.ErrNoInput) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("New on a missing node = %v, want ErrNoInput saying so", err)
	}
	_, err = New(Options{Path: os.DevNull})
	if !errors.Is(err, input.ErrNoInput) || !strings.Contains(err.Error(), "declaring event type") {
		t.Errorf("New on /dev/null = %v, want ErrNoInput from the first ioctl", err)
	}
}

func TestLayoutFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		file, text, want string
	}{
		{"keyboard", "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"de,us\"\nXKBVARIANT=\"\"\n", "de"},
		{"keyboard", "XKBLAYOUT=us\n", "us"},
		{"keyboard", "# nothing here\n", ""},
		{"00-keyboard.conf", "Section \"InputClass\"\n        Option \"XkbLayout\" \"fr\"\nEndSection\n", "fr"},
	} {
		p := filepath.Join(dir, tc.file)
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		re := layoutFiles[0].re
		if tc.file != "keyboard" {
			re = layoutFiles[1].re
		}
		if got := layoutIn(p, re); got != tc.want {
			t.Errorf("layoutIn(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
