package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmfd/mfd/internal/privdir"
	"github.com/openmfd/mfd/server"
)

// fakeSystemctl puts a systemctl on PATH that logs its arguments, one call
// a line, and returns the log's path: the tests must not touch the real
// user manager.
func fakeSystemctl(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"$@\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return log
}

// installHome gives the test a home and config dir of its own.
func installHome(t *testing.T) (home, unit string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "cfg"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("MFD_STATE_DIR", "")
	t.Setenv("MFD_TOKEN_TTL", "")
	return home, filepath.Join(home, "cfg", "systemd", "user", "mfd.service")
}

func TestInstallSystemdUnit(t *testing.T) {
	home, unitFile := installHome(t)
	calls := fakeSystemctl(t)
	t.Setenv("MFD_TOKEN_TTL", "20m")
	t.Chdir(home)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"install", "--listen", "127.0.0.1:7000", "--config", "host.yaml", "--no-agent", "--debug=false"}, &out, &errb)
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out.String(), errb.String())
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatalf("reading the unit: %v\n%s", err, out.String())
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	state := filepath.Join(home, "state", "mfd")
	for _, want := range []string{
		"\nExecStart=" + exe + " serve --state-dir " + state + " --config " + filepath.Join(home, "host.yaml") + " --listen 127.0.0.1:7000 --no-agent\n",
		"\nEnvironment=MFD_TOKEN_TTL=20m\n",
		"\nPartOf=graphical-session.target\n",
		"\n[Install]\nWantedBy=graphical-session.target\n",
		"\nRestart=on-failure\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %q:\n%s", want, b)
		}
	}
	if got := readFile(t, calls); got != "--user daemon-reload\n--user enable --now mfd.service\n--user is-active --quiet graphical-session.target\n" {
		t.Errorf("systemctl calls:\n%s", got)
	}
	if strings.Contains(out.String(), "no graphical-session.target") {
		t.Errorf("install warned of a missing graphical-session.target that is active:\n%s", out.String())
	}

	out.Reset()
	if err := run(context.Background(), []string{"uninstall"}, &out, &errb); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if _, err := os.Stat(unitFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unit after uninstall: %v, want gone", err)
	}
	if got := readFile(t, calls); !strings.HasSuffix(got, "--user disable --now mfd.service\n--user daemon-reload\n") {
		t.Errorf("systemctl calls after uninstall:\n%s", got)
	}
	out.Reset()
	if err := run(context.Background(), []string{"uninstall"}, &out, &errb); err != nil || !strings.Contains(out.String(), "not installed") {
		t.Errorf("second uninstall = %v, %q; want not installed", err, out.String())
	}
}

func TestInstallWithoutGraphicalSessionTarget(t *testing.T) {
	_, _ = installHome(t)
	bin := t.TempDir()
	// A user manager whose graphical-session.target is not active.
	script := "#!/bin/sh\ncase \"$*\" in *is-active*) exit 3;; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"install"}, &out, &errb); err != nil {
		t.Fatalf("install: %v", err)
	}
	if !strings.Contains(out.String(), "import-environment DISPLAY") {
		t.Errorf("install in a session without graphical-session.target said %q; want what to add to the session's startup", out.String())
	}
}

func TestInstallWithoutSystemctl(t *testing.T) {
	_, unitFile := installHome(t)
	t.Setenv("PATH", t.TempDir())
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"install"}, &out, &errb); err != nil {
		t.Fatalf("install: %v", err)
	}
	if _, err := os.Stat(unitFile); err != nil {
		t.Errorf("unit: %v", err)
	}
	if !strings.Contains(out.String(), "systemctl is not here") || !strings.Contains(out.String(), "autostart") {
		t.Errorf("install without systemctl said %q; want what to do instead", out.String())
	}
}

func TestInstallRefusesServeMistakes(t *testing.T) {
	installHome(t)
	fakeSystemctl(t)
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"install", "extra"}, {"install", "--input", "nonesuch"}, {"install", "--no-such-flag"}} {
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/mfd", "/usr/bin/mfd"},
		{"/home/ada/my state", `"/home/ada/my state"`},
		{"100%", "100%%"},
		{"$HOME", "$$HOME"},
		{`a"b\c`, `"a\"b\\c"`},
		{"", `""`},
		{"x;y", `"x;y"`},
	} {
		if got, err := systemdQuote(tc.in); err != nil || got != tc.want {
			t.Errorf("systemdQuote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := systemdQuote("a\nExecStartPre=/bin/evil"); err == nil {
		t.Error("systemdQuote took a line break")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInstallWhileServing(t *testing.T) {
	home, _ := installHome(t)
	calls := fakeSystemctl(t)
	state := filepath.Join(home, "state", "mfd")
	if err := privdir.Make(state); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{StateDir: state, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"install"}, &out, &errb); err != nil {
		t.Fatalf("install: %v", err)
	}
	// Starting it now would fail on the live server's admin channel.
	if got := readFile(t, calls); got != "--user daemon-reload\n--user enable mfd.service\n--user is-active --quiet graphical-session.target\n" {
		t.Errorf("systemctl calls with a server running:\n%s", got)
	}
	if !strings.Contains(out.String(), "running on this state dir already") {
		t.Errorf("install said %q; want that it starts from the next logon", out.String())
	}
}

// TestInstalledUnitVerifies has systemd itself read a unit whose paths
// need quoting and escaping.
func TestInstalledUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "systemd-analyze is missing; install with: sudo apt-get install -y systemd"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	home, unitFile := installHome(t)
	fakeSystemctl(t)
	state := filepath.Join(home, "my state", `100% "$HOME"`)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"install", "--state-dir", state}, &out, &errb); err != nil {
		t.Fatalf("install: %v", err)
	}
	cmd := exec.Command(analyze, "verify", unitFile)
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, b, readFile(t, unitFile))
	}
	if want := `--state-dir "` + home + `/my state/100%% \"$$HOME\""`; !strings.Contains(readFile(t, unitFile), want) {
		t.Errorf("unit does not quote the state dir:\n%s", readFile(t, unitFile))
	}
}
