//go:build linux

// Package winetest runs Windows builds of mfd under Wine 8 for tests, on
// Linux, with no Windows machine.
//
// Go 1.26 programs need bcryptprimitives.dll's ProcessPrng (Windows 10 and
// later), which Wine 8 lacks; the package builds a shim DLL that answers
// it with RtlGenRandom, using mingw-w64, and makes a Wine prefix that loads
// it. One prefix serves every test of every package: it is made once, under
// a lock, in the user's cache dir.
//
// A test that needs a program this machine lacks is skipped, loudly, with
// the apt-get line that installs it; with CI=true in the environment it
// fails instead, because CI installs them all.
package winetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// shimC is the whole shim: Windows 10's ProcessPrng on top of
// RtlGenRandom (advapi32's SystemFunction036), which Wine has.
const shimC = `#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, len); }
`

const shimDef = `LIBRARY bcryptprimitives
EXPORTS
ProcessPrng
`

const mingwGCC = "x86_64-w64-mingw32-gcc"

// Wine is a Wine prefix ready to run Go programs for Windows amd64.
type Wine struct {
	// Bin is the wine64 loader.
	Bin string
	// Prefix is the WINEPREFIX.
	Prefix string
}

var (
	once    sync.Once
	shared  *Wine
	initErr error
)

// New returns the shared Wine prefix, making it on first use. It skips or
// fails tb (see the package doc) when Wine or mingw-w64 is missing.
func New(tb testing.TB) *Wine {
	tb.Helper()
	bin := wineBin()
	var missing, pkgs []string
	if bin == "" {
		missing, pkgs = append(missing, "wine64"), append(pkgs, "wine64")
	}
	if _, err := exec.LookPath(mingwGCC); err != nil {
		missing, pkgs = append(missing, mingwGCC), append(pkgs, "gcc-mingw-w64-x86-64")
	}
	if runtime.GOARCH != "amd64" {
		missing, pkgs = append(missing, "an amd64 machine"), append(pkgs, "(none)")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s; install with: sudo apt-get install -y %s",
			strings.Join(missing, ", "), strings.Join(pkgs, " "))
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	once.Do(func() { shared, initErr = setup(bin) })
	if initErr != nil {
		tb.Fatalf("making a Wine prefix: %v", initErr)
	}
	return shared
}

// wineBin finds the 64-bit loader: Debian's wine64 package puts it in
// /usr/lib/wine, the wine package adds `wine` to PATH.
func wineBin() string {
	for _, name := range []string{"wine64", "/usr/lib/wine/wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func setup(bin string) (*Wine, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(shimC + shimDef))
	dir := filepath.Join(cache, "mfd-winetest", hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Test binaries of several packages run at once: one makes the
	// prefix, the others wait for it.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	w := &Wine{Bin: bin, Prefix: filepath.Join(dir, "prefix")}
	ready := filepath.Join(dir, "ready")
	if _, err := os.Stat(ready); err == nil {
		return w, nil
	}
	os.RemoveAll(w.Prefix)
	if err := os.WriteFile(filepath.Join(dir, "shim.c"), []byte(shimC), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "shim.def"), []byte(shimDef), 0o600); err != nil {
		return nil, err
	}
	dll := filepath.Join(dir, "bcryptprimitives.dll")
	gcc := exec.Command(mingwGCC, "-shared", "-O2", "-o", dll, "shim.c", "shim.def", "-ladvapi32")
	gcc.Dir = dir
	if out, err := gcc.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the bcryptprimitives shim: %v\n%s", err, out)
	}
	// Output to a file, not a pipe: the wineserver wineboot starts holds
	// its stdout and stderr open for as long as it lives.
	log, err := os.Create(filepath.Join(dir, "wineboot.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	boot := exec.Command(bin, "wineboot", "--init")
	boot.Env = w.Env()
	boot.Stdout, boot.Stderr = log, log
	if err := boot.Run(); err != nil {
		b, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("wineboot: %v\n%s", err, b)
	}
	// wineboot returns before the prefix is written out: wait for the
	// prefix's wineserver to finish.
	wait := exec.Command(filepath.Join(filepath.Dir(bin), "wineserver"), "--wait")
	if _, err := os.Stat(wait.Path); err != nil {
		wait = exec.Command("wineserver", "--wait")
	}
	wait.Env = w.Env()
	wait.Stdout, wait.Stderr = log, log
	_ = wait.Run()
	b, err := os.ReadFile(dll)
	if err != nil {
		return nil, err
	}
	sys32 := filepath.Join(w.Prefix, "drive_c", "windows", "system32")
	if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), b, 0o644); err != nil {
		return nil, fmt.Errorf("installing the shim: %w", err)
	}
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		return nil, err
	}
	return w, nil
}

// Env is the environment for a Windows program in w: the test's own,
// plus the prefix, the shim and no Wine debug chatter or Mono/Gecko
// installer prompts.
func (w *Wine) Env(extra ...string) []string {
	return append(append(os.Environ(),
		"WINEPREFIX="+w.Prefix,
		"WINEDEBUG=-all",
		"WINEDLLOVERRIDES=bcryptprimitives=n;mscoree,mshtml=",
	), extra...)
}

// Command runs the Windows program exe (a Linux path) with args under w.
// The process is the program itself, so killing it kills the program.
//
// The first Wine program to run starts the prefix's wineserver, which
// inherits its stdout and stderr and keeps them open after the program
// has exited; so Wait gives up on the output 5s after the exit. Pass
// Wait's error through Exited.
func (w *Wine) Command(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.Bin, append([]string{exe}, args...)...)
	cmd.Env = w.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Exited returns the error of a Command's Run or Wait, without the
// exec.ErrWaitDelay that a lingering wineserver causes (see Command).
func Exited(err error) error {
	if errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	return err
}

// WindowsPath returns how a Windows program in w names the Linux path p
// (Wine maps / to drive Z:).
func WindowsPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

// Build builds the Go package pkg (an import path or ./dir relative to
// the module root) for Windows amd64, without cgo, into dir and returns
// the .exe's path. With test set it builds the package's test binary.
func Build(tb testing.TB, root, pkg, dir string, test bool) string {
	tb.Helper()
	out := filepath.Join(dir, filepath.Base(pkg)+".exe")
	args := []string{"build", "-o", out, pkg}
	if test {
		out = filepath.Join(dir, filepath.Base(pkg)+".test.exe")
		args = []string{"test", "-c", "-o", out, pkg}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go %s for windows/amd64: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}
