//go:build !windows

package authsvc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

func TestDesktopNotifier(t *testing.T) {
	bin := t.TempDir()
	out := filepath.Join(bin, "out")
	// A stand-in notify-send that records its arguments, slowly, to show
	// that NotifyPairing does not wait for it.
	script := "#!/bin/sh\nsleep 0.2\nprintf '%s\\n' \"$@\" > " + out + ".tmp && mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(filepath.Join(bin, "notify-send"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	start := time.Now()
	DesktopNotifier{}.NotifyPairing(PairingRequest{
		Sub: ids.Subject("p-abc"), Name: `$(touch pwned); "Kitchen"`, Role: wire.RolePanel,
		Code: "123456", RemoteAddr: "192.0.2.1",
	})
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("NotifyPairing blocked for %v", d)
	}
	var got string
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		got = string(b)
		return nil
	})
	if !strings.Contains(got, "123456") || !strings.Contains(got, "$(touch pwned)") {
		t.Errorf("notify-send got %q, want the code and the name verbatim", got)
	}
	if _, err := os.Stat("pwned"); !errors.Is(err, os.ErrNotExist) {
		t.Error("the client name ran in a shell")
	}
}

func TestDesktopNotifierWithoutNotifySend(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	DesktopNotifier{}.NotifyPairing(PairingRequest{Name: "x", Code: "123456"})
}
