//go:build linux

// Package wine tests the Windows build of mfd under Wine 8, on Linux: the
// real mfd.exe from outside, and the Windows-only unit tests of the
// packages that have them, cross-compiled and run in Wine.
package wine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/winetest"
)

var (
	buildOnce sync.Once
	binDir    string
	mfdExe    string
	buildErr  error
)

// mfd returns the Wine prefix and mfd.exe, built once for the package.
func mfd(t *testing.T) (*winetest.Wine, string) {
	t.Helper()
	w := winetest.Start(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mfd-wine-bin")
		if buildErr == nil {
			mfdExe = winetest.BuildExe(t, binDir, "./cmd/mfd")
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return w, mfdExe
}

func TestMain(m *testing.M) {
	code := m.Run()
	winetest.Shutdown()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// startServe starts `mfd.exe serve --state-dir stateDir args...`.
func startServe(t *testing.T, w *winetest.Wine, exe, stateDir string, args ...string) *hostServer {
	t.Helper()
	return startServeEnv(t, w, exe, nil, append([]string{"--state-dir", stateDir}, args...)...)
}

// run runs one mfd.exe command to its end and returns its stdout, stderr
// and error.
func run(t *testing.T, w *winetest.Wine, exe string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := w.CommandContext(ctx, exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := winetest.Exited(cmd.Run())
	return stdout.String(), stderr.String(), err
}

// TestAdminPipe drives `mfd.exe clients`, `stats` and `input` against
// `mfd.exe serve` through the admin pipe, and stops the server with
// Ctrl+C.
func TestAdminPipe(t *testing.T) {
	w, exe := mfd(t)
	state := winetest.WinPath(t.TempDir())
	srv := startServe(t, w, exe, state, "--no-agent")

	var list string
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		out, errOut, err := run(t, w, exe, "clients", "list", "--json", "--state-dir", state)
		if err != nil {
			return fmt.Errorf("clients list: %v: %s", err, errOut)
		}
		list = out
		return nil
	})
	var clients []any
	if err := json.Unmarshal([]byte(list), &clients); err != nil || len(clients) != 0 {
		t.Errorf("clients list --json = %q (%v), want []", list, err)
	}

	out, errOut, err := run(t, w, exe, "stats", "--json", "--state-dir", state)
	var st map[string]float64
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st["goroutines"] < 1 {
		t.Errorf("stats --json = %q, %v (%s); want the server's figures", out, err, errOut)
	}

	// The admin channel carries the server's refusal in words.
	_, errOut, err = run(t, w, exe, "input", "off", "--state-dir", state)
	if err == nil || !strings.Contains(errOut, "no agent of its own") {
		t.Errorf("input off on a --no-agent server = %v, %q; want its refusal", err, errOut)
	}

	// A second server on the same state dir is refused, the first keeps
	// answering.
	_, errOut, err = run(t, w, exe, "serve", "--no-agent", "--state-dir", state, "--listen", fmt.Sprintf("127.0.0.1:%d", freeport.Must(t)))
	if err == nil || !strings.Contains(errOut, "another server is running") {
		t.Errorf("second serve = %v, %q; want another server is running", err, errOut)
	}
	if _, errOut, err := run(t, w, exe, "clients", "list", "--state-dir", state); err != nil {
		t.Errorf("clients list after the second serve: %v, %s", err, errOut)
	}

	// A server of another state dir has its own pipe.
	other := winetest.WinPath(t.TempDir())
	startServe(t, w, exe, other, "--no-agent")
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		_, errOut, err := run(t, w, exe, "stats", "--state-dir", other)
		if err != nil {
			return fmt.Errorf("stats of the second state dir: %v: %s", err, errOut)
		}
		return nil
	})

	// Ctrl+C: Wine turns SIGINT into CTRL_C_EVENT for the console
	// program, Go into os.Interrupt.
	if err := srv.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		srv.done <- err
		if err != nil {
			t.Errorf("serve after Ctrl+C exited with %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of Ctrl+C")
	}
	if !strings.Contains(srv.out.String(), "shutting down") {
		t.Errorf("serve output lacks the shutdown:\n%s", srv.out.String())
	}
	_, errOut, err = run(t, w, exe, "clients", "list", "--state-dir", state)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(errOut, "is `mfd serve` running") {
		t.Errorf("clients list after the server stopped = %v, %q; want a clear failure", err, errOut)
	}
}

// TestUnitTestsUnderWine runs the Windows-only unit tests, cross-compiled,
// in Wine.
func TestUnitTestsUnderWine(t *testing.T) {
	w := winetest.Start(t)
	for _, tc := range []struct{ pkg, run string }{
		{"./authsvc", "Admin|CloseIdempotent|CheckProcessUser"},
	} {
		t.Run(strings.TrimPrefix(tc.pkg, "./"), func(t *testing.T) {
			exe := winetest.BuildTest(t, t.TempDir(), tc.pkg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := w.CommandContext(ctx, exe, "-test.run", tc.run, "-test.v", "-test.count=1")
			out, err := cmd.CombinedOutput()
			if err = winetest.Exited(err); err != nil {
				t.Fatalf("%s under Wine: %v\n%s", tc.pkg, err, out)
			}
			if !bytes.Contains(out, []byte("--- PASS")) || bytes.Contains(out, []byte("--- SKIP")) {
				t.Errorf("%s under Wine ran no test or skipped one:\n%s", tc.pkg, out)
			}
			t.Logf("%s", out)
		})
	}
}
