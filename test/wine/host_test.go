//go:build linux

package wine

// The rest of "everything else on Windows": the state dir, MFD_STATE_DIR,
// the pairing toast, mfd install, mfd input and Ctrl+C with the agent, and
// the Windows unit tests of the packages that have them.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/winetest"
)

// hostServer is one `mfd.exe serve` under Wine with an environment of its
// own.
type hostServer struct {
	addr string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan error
}

// startServeEnv starts `mfd.exe serve --listen 127.0.0.1:PORT args...`
// with env added to the environment.
func startServeEnv(t *testing.T, w *winetest.Wine, exe string, env []string, args ...string) *hostServer {
	t.Helper()
	port := freeport.Must(t)
	full := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	s := &hostServer{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: w.CommandContext(context.Background(), exe, full...), out: &syncbuf.Buffer{}, done: make(chan error, 1)}
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- winetest.Exited(s.cmd.Wait()) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("mfd.exe serve output:\n%s", s.out.String())
		}
	})
	return s
}

// runEnv runs one mfd.exe command with env added to the environment and
// returns its stdout, stderr and error.
func runEnv(t *testing.T, w *winetest.Wine, exe string, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := w.CommandContext(ctx, exe, args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := winetest.Exited(cmd.Run())
	return stdout.String(), stderr.String(), err
}

// TestHostUnitTestsUnderWine runs the Windows unit tests of the state dir,
// test dirs, atomic files, the admin pipe and cmd/mfd (the default state dir, the logon
// entry's command line), cross-compiled, in Wine.
func TestHostUnitTestsUnderWine(t *testing.T) {
	w := winetest.Start(t)
	for _, tc := range []struct{ pkg, run string }{
		{"./authsvc", "Toast|DesktopNotifier"},
		{"./server/admin", ""},
		{"./internal/privdir", ""},
		{"./internal/testdir", ""},
		{"./internal/atomicfile", ""},
		{"./cmd/mfd", "DefaultStateDir|CommandLine"},
	} {
		t.Run(strings.TrimPrefix(tc.pkg, "./"), func(t *testing.T) {
			exe := winetest.BuildTest(t, t.TempDir(), tc.pkg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			args := []string{"-test.v", "-test.count=1"}
			if tc.run != "" {
				args = append(args, "-test.run", tc.run)
			}
			out, err := w.CommandContext(ctx, exe, args...).CombinedOutput()
			if err = winetest.Exited(err); err != nil {
				t.Fatalf("%s under Wine: %v\n%s", tc.pkg, err, out)
			}
			if !bytes.Contains(out, []byte("--- PASS")) || bytes.Contains(out, []byte("--- SKIP")) {
				t.Errorf("%s under Wine ran no test or skipped one:\n%s", tc.pkg, out)
			}
		})
	}
}

// TestMFDStateDir runs a server whose state dir only MFD_STATE_DIR names,
// beside another: each has its own admin pipe, and `mfd.exe stats` finds
// it by the variable alone.
func TestMFDStateDir(t *testing.T) {
	w, exe := mfd(t)
	env := []string{"MFD_STATE_DIR=" + winetest.WinPath(t.TempDir())}
	startServeEnv(t, w, exe, nil, "--no-agent", "--state-dir", winetest.WinPath(t.TempDir()))
	startServeEnv(t, w, exe, env, "--no-agent")
	var out string
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		o, errOut, err := runEnv(t, w, exe, env, "stats", "--json")
		if err != nil {
			return fmt.Errorf("stats of the MFD_STATE_DIR server: %v: %s", err, errOut)
		}
		out = o
		return nil
	})
	var st map[string]float64
	err := json.Unmarshal([]byte(out), &st)
	// Wine's GetProcessHandleCount answers 0: only its presence is checked.
	if _, handles := st["open_handles"]; err != nil || st["goroutines"] < 1 || !handles {
		t.Errorf("stats --json = %q (%v); want the server's figures with open_handles", out, err)
	}
}

// TestDefaultStateDir runs `mfd.exe serve` and `mfd.exe clients` with
// neither --state-dir nor MFD_STATE_DIR: both use %LOCALAPPDATA%\mfd,
// which the first run makes.
func TestDefaultStateDir(t *testing.T) {
	w, exe := mfd(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// Wine sets LOCALAPPDATA itself, from the prefix's profile; the
	// prefix is this test binary's own.
	dir := filepath.Join(w.Prefix, "drive_c", "users", u.Username, "AppData", "Local", "mfd")
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists before the first run", dir)
	}
	unset := []string{"MFD_STATE_DIR="}
	startServeEnv(t, w, exe, unset, "--no-agent")
	var out string
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		o, errOut, err := runEnv(t, w, exe, unset, "clients", "list", "--json")
		if err != nil {
			return fmt.Errorf("clients list: %v: %s", err, errOut)
		}
		out = o
		return nil
	})
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("clients list --json = %q, want []", out)
	}
	for _, f := range []string{"server_id", "tls.pem", "signing.pem", "admin.pipe"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%%LOCALAPPDATA%%\\mfd lacks %s: %v", f, err)
		}
	}
}

// TestPairingNotification sends a pairing request to `mfd.exe serve`: the
// server tries its toast (Wine's powershell.exe is a stub that exits at
// once), keeps answering, and lists the request.
func TestPairingNotification(t *testing.T) {
	w, exe := mfd(t)
	state := winetest.WinPath(t.TempDir())
	srv := startServeEnv(t, w, exe, nil, "--state-dir", state, "--no-agent", "--debug")
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var code string
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		resp, err := insecure.Post("https://"+srv.addr+"/authorise", "application/json",
			strings.NewReader(`{"client_id":"`+uuid.NewString()+`","name":"Kitchen tablet"}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var a struct {
			Code string `json:"pairing_code"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST /authorise = %s, %v; want 202", resp.Status, err)
		}
		code = a.Code
		return nil
	})
	poll.Until(t, 30*time.Second, 100*time.Millisecond, func() error {
		if out := srv.out.String(); !strings.Contains(out, "pairing toast shown") && !strings.Contains(out, "showing the pairing toast") {
			return errors.New("no toast attempt in the server's log yet")
		}
		return nil
	})
	resp, err := insecure.Get("https://" + srv.addr + "/info")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /info after the toast = %v, %v", resp, err)
	}
	resp.Body.Close()
	out, errOut, err := run(t, w, exe, "clients", "list", "--state-dir", state)
	if err != nil || code == "" || !strings.Contains(out, code) || !strings.Contains(out, "Kitchen tablet") {
		t.Errorf("clients list = %q, %v (%s); want the request with code %q", out, err, errOut, code)
	}
}

// TestInstallLogonEntry runs `mfd.exe install` and `uninstall`: the Run
// value appears in the current user's registry with the serve command and
// goes again.
func TestInstallLogonEntry(t *testing.T) {
	w, exe := mfd(t)
	state := winetest.WinPath(t.TempDir())
	query := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := w.CommandContext(ctx, "reg", "query", `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, "/v", "mfd").CombinedOutput()
		return string(out), winetest.Exited(err)
	}
	out, errOut, err := run(t, w, exe, "install", "--state-dir", state, "--listen", "127.0.0.1:7001", "--no-agent")
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, errOut)
	}
	val, err := query()
	want := `mfd.exe serve --state-dir ` + state + ` --listen 127.0.0.1:7001 --no-agent`
	if err != nil || !strings.Contains(val, "REG_SZ") || !strings.Contains(val, want) {
		t.Errorf("reg query after install = %v\n%s\nwant a REG_SZ holding %s", err, val, want)
	}
	if out, errOut, err := run(t, w, exe, "uninstall"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("uninstall = %v\n%s%s", err, out, errOut)
	}
	if val, err := query(); err == nil {
		t.Errorf("reg query after uninstall found the value:\n%s", val)
	}
	if out, _, err := run(t, w, exe, "uninstall"); err != nil || !strings.Contains(out, "not installed") {
		t.Errorf("second uninstall = %v, %q; want not installed", err, out)
	}
}

// TestCtrlCWithAgent runs `mfd.exe serve` with this PC's agent: `mfd.exe
// input off` and `on` reach the agent through the admin pipe, and Ctrl+C
// stops the server and its agent cleanly.
func TestCtrlCWithAgent(t *testing.T) {
	w, exe := mfd(t)
	state := winetest.WinPath(t.TempDir())
	srv := startServeEnv(t, w, exe, nil, "--state-dir", state)
	poll.Until(t, time.Minute, 100*time.Millisecond, func() error {
		out, errOut, err := run(t, w, exe, "input", "off", "--state-dir", state)
		if err != nil || !strings.Contains(out, "remote input on this host: off") {
			return fmt.Errorf("input off: %v: %s%s", err, out, errOut)
		}
		return nil
	})
	if out, errOut, err := run(t, w, exe, "input", "on", "--state-dir", state); err != nil || !strings.Contains(out, ": on") {
		t.Errorf("input on = %v: %s%s", err, out, errOut)
	}
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
	if out := srv.out.String(); !strings.Contains(out, "shutting down") {
		t.Errorf("serve output lacks the shutdown:\n%s", out)
	}
}
