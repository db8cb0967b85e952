// Package winetest runs Windows programs under Wine for tests: a private
// Wine prefix on a private Xvfb, shared by the tests of one test binary
// (a copy of a prefix made once per machine and Wine version), Windows
// builds of this module's packages and test binaries, and inputlog
// (test/wine/inputlog), a window that prints every input event that
// reaches it.
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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/prereq"
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
	prereq.Missing(tb, fmt.Sprintf("missing %s; install with: %s", strings.Join(missing, ", "), Install))
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
	// Boot is how long Boot took: seconds when it made the kept prefix
	// (wineboot), a fraction of one when it copied it.
	Boot time.Duration
}

var (
	sharedMu  sync.Mutex
	shared    *Wine
	sharedErr error
)

// Start returns the Wine of this test binary, making it on first use (see
// Boot): the tests of one binary share one prefix, one wineserver and one
// Xvfb, so they must not run in parallel with each other's windows. Call
// Shutdown from TestMain.
func Start(tb testing.TB) *Wine {
	tb.Helper()
	Require(tb)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Boot()
		if sharedErr == nil {
			tb.Logf("wine: prefix %s ready in %v on display %s", shared.Prefix, shared.Boot.Round(time.Millisecond), shared.Display)
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
//
// wineboot takes seconds and writes 700 MB of Wine's DLLs, so it runs
// once per machine and Wine version: the prefix it makes is kept, under
// a lock that test binaries running at once share, in the user's cache
// dir. Each Wine gets a copy of it: hard links to the DLLs, real copies
// of the files Wine writes in place (the registry). Programs in one Wine
// share a wineserver and a desktop; the copies keep the tests of
// different test binaries, which run at the same time, from taking each
// other's focus.
//
// The first program to run starts the wineserver and Wine's services and
// desktop process, which inherit its standard output and error and keep
// them open for a few seconds after it ends: see CommandContext.
func Boot() (*Wine, error) {
	loader, err := wineLoader()
	if err != nil {
		return nil, err
	}
	server, err := wineServer(loader)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tmpl, err := template(loader, server)
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
	if err := clonePrefix(tmpl, w.Prefix); err != nil {
		return fail(fmt.Errorf("copying the Wine prefix: %w", err))
	}
	if w.Display, w.xvfb, err = xtest.LaunchXvfb(); err != nil {
		return fail(err)
	}
	w.Boot = time.Since(start)
	return w, nil
}

// template returns the kept prefix, making it first if need be.
func template(loader, server string) (string, error) {
	ver, err := exec.Command(loader, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", loader, err)
	}
	src := filepath.Join(RepoRoot(), "test", "wine", "bcryptprimitives")
	shimC, err := os.ReadFile(filepath.Join(src, "bcryptprimitives.c"))
	if err != nil {
		return "", err
	}
	shimDef, err := os.ReadFile(filepath.Join(src, "bcryptprimitives.def"))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, b := range [][]byte{ver, shimC, shimDef} {
		h.Write(b)
		h.Write([]byte{0})
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "mfd-winetest", hex.EncodeToString(h.Sum(nil)[:8]))
	prefix := filepath.Join(dir, "prefix")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return "", fmt.Errorf("locking %s: %w", dir, err)
	}
	ready := filepath.Join(dir, "ready")
	if _, err := os.Stat(ready); err == nil {
		return prefix, nil
	}
	os.RemoveAll(prefix)
	shim := filepath.Join(dir, "bcryptprimitives.dll")
	cc := exec.Command(mingw, "-shared", "-O2", "-o", shim,
		filepath.Join(src, "bcryptprimitives.c"), filepath.Join(src, "bcryptprimitives.def"), "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the bcryptprimitives shim: %v: %s", err, out)
	}
	env := append(cleanEnv(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
	// Output to a file, not a pipe: the wineserver wineboot starts would
	// hold a pipe open for as long as it lives. No display: wineboot has
	// nothing to show.
	logf, err := os.Create(filepath.Join(dir, "wineboot.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	wb := exec.Command(loader, "wineboot", "-i")
	wb.Env, wb.Stdout, wb.Stderr = env, logf, logf
	if err := wb.Run(); err != nil {
		b, _ := os.ReadFile(logf.Name())
		return "", fmt.Errorf("wineboot -i: %v: %s", err, b)
	}
	// wineboot returns before the prefix is all written: wait for its
	// wineserver to end.
	wait := exec.Command(server, "-w")
	wait.Env, wait.Stdout, wait.Stderr = env, logf, logf
	wait.Run()
	b, err := os.ReadFile(shim)
	if err == nil {
		err = os.WriteFile(filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll"), b, 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("installing the bcryptprimitives shim: %v", err)
	}
	return prefix, os.WriteFile(ready, nil, 0o600)
}

// clonePrefix copies the prefix src to dst: directories and symbolic
// links as they are, the files Wine writes in place (the registry's .reg
// files, .ini files, the user's profile) as copies, every other file as a
// hard link where the file system allows.
func clonePrefix(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		case strings.HasSuffix(p, ".reg") || strings.HasSuffix(p, ".ini") || strings.HasPrefix(rel, "drive_c/users"):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
		if err := os.Link(p, to); err == nil {
			return nil
		}
		// Another file system: copy.
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// cleanEnv is the test's environment without Wine's variables and
// $DISPLAY.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "WINE") && k != "DISPLAY" {
			env = append(env, kv)
		}
	}
	return env
}

// env is the environment every program of the prefix runs with.
func (w *Wine) env() []string {
	return append(cleanEnv(),
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
	// Should a Wine helper process inherit the program's output and
	// outlive it, Wait gives up on the output 5 s after the exit.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Exited returns the error of a Command's Run or Wait without the
// exec.ErrWaitDelay that a lingering Wine helper causes (see
// CommandContext).
func Exited(err error) error {
	if errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	return err
}

// Close stops the prefix's wineserver and every program still running in
// it, its Xvfb, and removes the prefix.
func (w *Wine) Close() {
	if w.server != "" && w.Prefix != "" {
		if _, err := os.Stat(w.Prefix); err == nil {
			// Ends the prefix's wineserver and every program in it,
			// Wine's own services and desktop process included.
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

// Processes lists the processes running in w's prefix (pid and command
// line, from /proc), for a failure message when a program hangs.
func (w *Wine) Processes() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !strings.Contains("\x00"+string(env)+"\x00", "\x00WINEPREFIX="+w.Prefix+"\x00") {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "wchan"))
		out = append(out, fmt.Sprintf("%s %s [%s]", e.Name(), strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")), stat))
	}
	return out
}
