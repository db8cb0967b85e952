package authsvc

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// hostileName is a client name that would run code if it reached the
// script or the command line.
const hostileName = `x'); Remove-Item -Recurse C:\ ; ('<text>&"`

func TestToastCommandKeepsTheNameOutOfTheScript(t *testing.T) {
	lines := []string{hostileName + " wants to pair.", "Code: 123456", "Approve with: mfd clients approve 123456"}
	cmd := toastCommand(context.Background(), powerShellPath(), "mfd: pairing request", lines)
	for _, a := range cmd.Args {
		if strings.Contains(a, "Remove-Item") || strings.Contains(a, "123456") {
			t.Errorf("argument %q carries the request's text", a)
		}
	}
	i := slices.Index(cmd.Args, "-EncodedCommand")
	if i < 0 || i+1 >= len(cmd.Args) {
		t.Fatalf("args %q lack -EncodedCommand", cmd.Args)
	}
	b, err := base64.StdEncoding.DecodeString(cmd.Args[i+1])
	if err != nil || len(b)%2 != 0 {
		t.Fatalf("decoding -EncodedCommand: %v", err)
	}
	u := make([]uint16, len(b)/2)
	for j := range u {
		u[j] = uint16(b[2*j]) | uint16(b[2*j+1])<<8
	}
	if got := string(utf16.Decode(u)); got != toastScript {
		t.Errorf("encoded script = %q, want the constant toastScript", got)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, want := range []string{"MFD_TOAST_LINE1=" + lines[0], "MFD_TOAST_LINE2=Code: 123456   Approve with: mfd clients approve 123456"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q", want)
		}
	}
	if !strings.EqualFold(cmd.Path, powerShellPath()) || !strings.HasSuffix(strings.ToLower(cmd.Path), `\system32\windowspowershell\v1.0\powershell.exe`) {
		t.Errorf("program %s, want Windows PowerShell by its full path", cmd.Path)
	}
}

// TestDesktopNotifierRunsPowerShell shows that NotifyPairing returns at
// once and runs PowerShell (under Wine a stub that exits at once).
func TestDesktopNotifierRunsPowerShell(t *testing.T) {
	logs := &syncBuffer{}
	d := DesktopNotifier{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	start := time.Now()
	d.NotifyPairing(PairingRequest{Sub: ids.Subject("p-abc"), Name: hostileName, Role: wire.RolePanel, Code: "123456", RemoteAddr: "192.0.2.1"})
	if el := time.Since(start); el > 150*time.Millisecond {
		t.Errorf("NotifyPairing blocked for %v", el)
	}
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if s := logs.String(); !strings.Contains(s, "pairing toast shown") && !strings.Contains(s, "showing the pairing toast") {
			return errf("no toast attempt logged yet: %q", s)
		}
		return nil
	})
}
