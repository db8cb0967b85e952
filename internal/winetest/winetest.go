// Package winetest runs Windows programs under Wine for tests: a private
// Wine prefix on a private Xvfb, shared by the tests of one test binary,
// Windows builds of this module's packages and test binaries, and
// inputlog (test/wine/inputlog), a window that prints every input event
// that reaches it.
//
// Debian's Wine 8 lacks bcryptprimitives.dll, without which no program of
// Go 1.24 or later starts; the prefix gets a shim built with mingw-w64
// from test/wine/bcryptprimitives (see its source).
//
// A test whose tools are missing is skipped, loudly and with the apt-get
// line; with CI=true in the environment it fails instead, because CI
// installs them all (scripts/deps.sh test). Wine is not Windows: what
// passes here is what Wine implements of Windows.
//
// The package runs programs only and builds everywhere; InputLog also
// works on Windows itself, where a test starts inputlog without Wine.
package winetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/xtest"
)

// Install is the line that installs what this package needs on Debian.
const Install = "sudo apt-get install -y wine64 gcc-mingw-w64-x86-64 xvfb"

// mingw is the C compiler that builds the bcryptprimitives shim.
const mingw = "x86_64-w64-mingw32-gcc"

// wineLoader returns the 64-bit Wine loader: Debian's wine64 package puts
// it in /usr/lib/wine, the wine package adds wine and wine64 to $PATH.
func wineLoader() (string, error) {
	for _, name := range []string{"wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if p := "/usr/lib/wine/wine64"; isExec(p) {
		return p, nil
	}
	return "", errors.New("no wine64 (neither on $PATH nor /usr/lib/wine/wine64)")
}

// wineServer returns the wineserver that goes with the loader.
func wineServer(loader string) (string, error) {
	for _, p := range []string{filepath.Join(filepath.Dir(loader), "wineserver"), "/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver"} {
		if isExec(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("wineserver"); err == nil {
		return p, nil
	}
	return "", errors.New("no wineserver")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Require skips the test when Wine, mingw-w64 or Xvfb is missing, with
// the install line; when the environment has CI=true it fails the test
// instead.
func Require(tb testing.TB) {
	tb.Helper()
	var missing []string
	if _, err := wineLoader(); err != nil {
		missing = append(missing, "wine64")
	}
	if _, err := exec.LookPath(mingw); err != nil {
		missing = append(missing, mingw)
	}
	if _, err := exec.LookPath("Xvfb"); err != nil {
		missing = append(missing, "Xvfb")
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s; install with: %s", strings.Join(missing, ", "), Install)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Wine is a Wine prefix with its own Xvfb. Programs run in it one after
// another or side by side share one wineserver, so input one sends
// reaches the window another has in front.
type Wine struct {
	// Prefix is $WINEPREFIX.
	Prefix string
	// Display is the Xvfb's display (":5"), 1280x1024.
	Display string
	loader  string
	server  string
	xvfb    *exec.Cmd
	dir     string
	// Boot is how long wineboot took to make the prefix.
	Boot time.Duration
}

var (
	sharedMu  sync.Mutex
	shared    *Wine
	sharedErr error
)

// Start returns the Wine of this test binary, making it on first use:
// wineboot takes seconds (it fills the prefix with Wine's DLLs), so the
// tests of one binary share one prefix. They must not run in parallel
// with each other's windows. Call Shutdown from TestMain.
func Start(tb testing.TB) *Wine {
	tb.Helper()
	Require(tb)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Boot()
		if sharedErr == nil {
			tb.Logf("wine: prefix %s made in %v on display %s", shared.Prefix, shared.Boot.Round(time.Millisecond), shared.Display)
		}
	}
	if sharedErr != nil {
		tb.Fatalf("starting Wine: %v", sharedErr)
	}
	return shared
}

// Shutdown stops the shared Wine, if any: its wineserver and every
// program still running in it, its Xvfb, and removes the prefix.
func Shutdown() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Close()
		shared = nil
	}
}

// Boot makes a Wine prefix with its own Xvfb for a caller that is not a
// test (mfdbench); tests use Start. Close it when done.
func Boot() (*Wine, error) {
	loader, err := wineLoader()
	if err != nil {
		return nil, err
	}
	server, err := wineServer(loader)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mfd-wine-")
	if err != nil {
		return nil, err
	}
	w := &Wine{Prefix: filepath.Join(dir, "prefix"), loader: loader, server: server, dir: dir}
	fail := func(err error) (*Wine, error) {
		w.Close()
		return nil, err
	}
	shim := filepath.Join(dir, "bcryptprimitives.dll")
	src := filepath.Join(RepoRoot(), "test", "wine", "bcryptprimitives")
	cc := exec.Command(mingw, "-shared", "-O2", "-o", shim,
		filepath.Join(src, "bcryptprimitives.c"), filepath.Join(src, "bcryptprimitives.def"), "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("building the bcryptprimitives shim: %v: %s", err, out))
	}
	if w.Display, w.xvfb, err = xtest.LaunchXvfb(); err != nil {
		return fail(err)
	}
	start := time.Now()
	// No display for wineboot: it has nothing to show, and with one it
	// could open the Mono and Gecko installers' dialogs (the overrides
	// disable those too).
	wb := exec.Command(loader, "wineboot", "-i")
	wb.Env = append(w.env(), "DISPLAY=")
	if out, err := wb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("wineboot -i: %v: %s", err, out))
	}
	w.Boot = time.Since(start)
	sys32 := filepath.Join(w.Prefix, "drive_c", "windows", "system32")
	b, err := os.ReadFile(shim)
	if err == nil {
		err = os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), b, 0o644)
	}
	if err != nil {
		return fail(fmt.Errorf("installing the bcryptprimitives shim: %v", err))
	}
	return w, nil
}

// env is the environment every program of the prefix runs with.
func (w *Wine) env() []string {
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "WINE") && k != "DISPLAY" {
			env = append(env, kv)
		}
	}
	return append(env,
		"WINEPREFIX="+w.Prefix,
		"WINEDEBUG=-all",
		// The shim, and no Mono or Gecko (their installers would ask).
		"WINEDLLOVERRIDES=bcryptprimitives=n;mscoree,mshtml=",
		"DISPLAY="+w.Display,
	)
}

// Env returns the environment of the prefix's programs: $WINEPREFIX,
// $WINEDEBUG, $WINEDLLOVERRIDES and $DISPLAY set, the rest the test's.
func (w *Wine) Env() []string { return w.env() }

// Loader returns the Wine loader: run "LOADER EXE ARGS" with Env to run a
// Windows program in the prefix.
func (w *Wine) Loader() string { return w.loader }

// Command returns a command that runs the Windows program exe (a Linux
// path) with args in the prefix. Its environment is Env; append to it.
func (w *Wine) Command(exe string, args ...string) *exec.Cmd {
	return w.CommandContext(context.Background(), exe, args...)
}

// CommandContext is Command that kills the program when ctx is done.
func (w *Wine) CommandContext(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.loader, append([]string{exe}, args...)...)
	cmd.Env = w.env()
	return cmd
}

// Close stops the prefix's wineserver and every program still running in
// it, its Xvfb, and removes the prefix.
func (w *Wine) Close() {
	if w.server != "" && w.Prefix != "" {
		if _, err := os.Stat(w.Prefix); err == nil {
			k := exec.Command(w.server, "-k")
			k.Env = w.env()
			k.Run()
		}
	}
	if w.xvfb != nil {
		w.xvfb.Process.Kill()
		w.xvfb.Wait()
	}
	if w.dir != "" {
		os.RemoveAll(w.dir)
	}
}

// WinPath returns the Windows path of Linux path p as Wine sees it: the
// Z: drive is the Linux root.
func WinPath(p string) string {
	return `Z:` + strings.ReplaceAll(p, "/", `\`)
}

// RepoRoot returns the root of this module's source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildExe builds the main package pkg ("./cmd/mfd") of this module for
// windows/amd64 into dir and returns the .exe's path.
func BuildExe(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	out := filepath.Join(dir, filepath.Base(pkg)+".exe")
	goCmd(tb, "build", "-o", out, pkg)
	return out
}

// BuildTest compiles the tests of pkg ("./input/windows") for
// windows/amd64 into dir, as `go test -c`, and returns the .exe's path.
func BuildTest(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	out := filepath.Join(dir, filepath.Base(pkg)+".test.exe")
	goCmd(tb, "test", "-c", "-o", out, pkg)
	return out
}

func goCmd(tb testing.TB, args ...string) {
	tb.Helper()
	if err := GoForWindows(nil, args...); err != nil {
		tb.Fatal(err)
	}
}

// GoForWindows runs the go command with args in this module's root for
// windows/amd64, without cgo unless env (KEY=VALUE, added last) says
// otherwise. Its error carries the command's output.
func GoForWindows(env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = RepoRoot()
	cmd.Env = append(append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0"), env...)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s for windows/amd64 (%s): %v\n%s", strings.Join(args, " "), strings.Join(env, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
