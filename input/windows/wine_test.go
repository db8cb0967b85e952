//go:build linux

package windows

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/winetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	winetest.Shutdown()
	os.Exit(code)
}

// TestUnderWine runs this package's tests built for Windows under Wine,
// with inputlog for the tests that drive a real window: SendInput, the
// layout of INPUT and the Windows calls behind the refusal checks, on
// top of everything the tests with the fake check.
func TestUnderWine(t *testing.T) {
	w := winetest.Start(t)
	dir := t.TempDir()
	exe := winetest.BuildTest(t, dir, "./input/windows")
	logExe := winetest.BuildInputLog(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := w.CommandContext(ctx, exe, "-test.v", "-test.count=1")
	cmd.Env = append(cmd.Env, "MFD_INPUTLOG="+winetest.WinPath(logExe))
	var hung []string // the prefix's processes when the minute ran out
	cmd.Cancel = func() error {
		hung = w.Processes()
		return cmd.Process.Kill()
	}
	out, err := cmd.CombinedOutput()
	t.Logf("under Wine:\n%s", out)
	if err := winetest.Exited(err); err != nil {
		t.Fatalf("the Windows tests failed under Wine: %v; the prefix's processes at the timeout:\n%s", err, strings.Join(hung, "\n"))
	}
	for _, name := range []string{"TestSendInputReachesAWindow", "TestRawInputLayout", "TestRefusals", "TestHeldReleasedOnUpAndClose"} {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("under Wine, %s did not pass", name)
		}
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Errorf("under Wine, a test skipped")
	}
}
