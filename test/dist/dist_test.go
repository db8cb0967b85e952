//go:build linux

// Package dist tests `make dist` from outside: it runs the target into a
// temporary directory and checks what a user downloads.
package dist

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"debug/pe"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/winetest"
)

const version = "v9.9.9-disttest"

var binaries = []string{"mfd-linux-amd64", "mfd-linux-arm64", "mfd-windows-amd64.exe", "mfd-windows-arm64.exe"}

// windows10DLLs are system DLLs every Windows 10 and 11 has in System32;
// mfd may load no other. bcryptprimitives.dll is why Go 1.24 and later
// need Windows 10.
var windows10DLLs = []string{
	"kernel32.dll", "ntdll.dll", "advapi32.dll", "sechost.dll", "user32.dll", "shell32.dll",
	"ole32.dll", "ws2_32.dll", "mswsock.dll", "winmm.dll", "version.dll", "userenv.dll",
	"psapi.dll", "iphlpapi.dll", "dnsapi.dll", "netapi32.dll", "secur32.dll", "crypt32.dll",
	"wintrust.dll", "setupapi.dll", "cfgmgr32.dll", "dwmapi.dll", "wtsapi32.dll",
	"bcryptprimitives.dll", "bcrypt.dll", "ncrypt.dll", "powrprof.dll", "shlwapi.dll",
	"oleaut32.dll", "gdi32.dll", "imm32.dll", "rpcrt4.dll", "combase.dll",
}

func root() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func TestMakeDist(t *testing.T) {
	for _, tool := range []string{"make", "zip", "sha256sum", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " is missing; install with: sudo apt-get install -y " + tool
			if tool == "sha256sum" {
				msg = "sha256sum is missing; install with: sudo apt-get install -y coreutils"
			}
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	// -o deps -o panel: make test has run both already, and rebuilding
	// panel/dist here would rewrite files that packages being compiled by
	// go test at the same time embed.
	mk := exec.CommandContext(ctx, "make", "--no-print-directory", "-o", "deps", "-o", "panel", "dist", "DIST="+out, "VERSION="+version)
	mk.Dir = root()
	b, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}
	t.Logf("make dist took %v\n%s", time.Since(start).Round(time.Millisecond), b)

	// Exactly the release files.
	want := slices.Clone(binaries)
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		want = append(want, "mfd-"+p+".tar.gz")
	}
	for _, p := range []string{"windows-amd64", "windows-arm64"} {
		want = append(want, "mfd-"+p+".zip")
	}
	want = append(want, "SHA256SUMS")
	entries, _ := os.ReadDir(out)
	var got []string
	var notes string
	for _, e := range entries {
		if e.Name() == "NOTES" {
			nb, _ := os.ReadFile(filepath.Join(out, "NOTES"))
			notes = string(nb)
			continue
		}
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("dist holds %q, want %q", got, want)
	}
	for _, name := range binaries {
		if fi, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Logf("%s: %.1f MB", name, float64(fi.Size())/1e6)
		}
	}

	sum := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sum.Dir = out
	if b, err := sum.CombinedOutput(); err != nil || strings.Count(string(b), ": OK\n") != len(want)-1 {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, b)
	}

	t.Run("archives", func(t *testing.T) { checkArchives(t, out) })
	t.Run("linux", func(t *testing.T) { checkLinux(t, out, notes) })
	t.Run("windows", func(t *testing.T) { checkWindowsDLLs(t, out) })
	t.Run("wine", func(t *testing.T) {
		w := winetest.Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := w.CommandContext(ctx, filepath.Join(out, "mfd-windows-amd64.exe"), "version").Output()
		if err = winetest.Exited(err); err != nil || strings.TrimSpace(string(b)) != "mfd "+version {
			t.Errorf("mfd-windows-amd64.exe version under Wine = %q, %v; want mfd %s", b, err, version)
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	winetest.Shutdown()
	os.Exit(code)
}

// checkArchives checks that each archive holds mfd-VERSION-PLATFORM/ with
// the very binary beside it and README.md.
func checkArchives(t *testing.T, out string) {
	for _, bin := range binaries {
		platform := strings.TrimSuffix(strings.TrimPrefix(bin, "mfd-"), ".exe")
		dir := "mfd-" + version + "-" + platform + "/"
		files := map[string][]byte{}
		if strings.HasSuffix(bin, ".exe") {
			zr, err := zip.OpenReader(filepath.Join(out, "mfd-"+platform+".zip"))
			if err != nil {
				t.Errorf("%s: %v", bin, err)
				continue
			}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				files[f.Name], _ = io.ReadAll(rc)
				rc.Close()
			}
			zr.Close()
		} else {
			f, err := os.Open(filepath.Join(out, "mfd-"+platform+".tar.gz"))
			if err != nil {
				t.Errorf("%s: %v", bin, err)
				continue
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(zr)
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				files[h.Name], _ = io.ReadAll(tr)
			}
			f.Close()
		}
		exe := "mfd"
		if strings.HasSuffix(bin, ".exe") {
			exe = "mfd.exe"
		}
		loose, _ := os.ReadFile(filepath.Join(out, bin))
		if !bytes.Equal(files[dir+exe], loose) {
			t.Errorf("%s's archive lacks %s%s as built (%d files)", bin, dir, exe, len(files))
		}
		if len(files[dir+"README.md"]) == 0 {
			t.Errorf("%s's archive lacks %sREADME.md", bin, dir)
		}
	}
}

// checkLinux checks each Linux binary's architecture and X11 backend, and
// runs the amd64 one.
func checkLinux(t *testing.T, out, notes string) {
	for _, tc := range []struct {
		bin     string
		machine elf.Machine
	}{{"mfd-linux-amd64", elf.EM_X86_64}, {"mfd-linux-arm64", elf.EM_AARCH64}} {
		f, err := elf.Open(filepath.Join(out, tc.bin))
		if err != nil {
			t.Errorf("%s: %v", tc.bin, err)
			continue
		}
		libs, _ := f.ImportedLibraries()
		f.Close()
		if f.Machine != tc.machine {
			t.Errorf("%s is for %v, want %v", tc.bin, f.Machine, tc.machine)
		}
		x11 := slices.Contains(libs, "libX11.so.6") && slices.Contains(libs, "libXtst.so.6")
		noX11 := strings.Contains(notes, tc.bin+" has no X11 backend")
		switch {
		case noX11 && x11:
			t.Errorf("NOTES say %s has no X11 backend, but it links %q", tc.bin, libs)
		case noX11 && tc.bin == "mfd-linux-amd64":
			t.Errorf("mfd-linux-amd64 was built without the X11 backend")
		case noX11 && os.Getenv("CI") == "true":
			t.Errorf("%s has no X11 backend in CI, where scripts/deps.sh test installs the arm64 cross toolchain", tc.bin)
		case !noX11 && !x11:
			t.Errorf("%s links %q, want libX11 and libXtst (the X11 backend)", tc.bin, libs)
		}
	}
	b, err := exec.Command(filepath.Join(out, "mfd-linux-amd64"), "version").Output()
	if err != nil || strings.TrimSpace(string(b)) != "mfd "+version {
		t.Errorf("mfd-linux-amd64 version = %q, %v; want mfd %s", b, err, version)
	}
}

// dllName matches a DLL name in a binary's strings; Go packs strings
// without separators, so a match may carry the end of the string before.
var dllName = regexp.MustCompile(`[A-Za-z0-9_]+\.dll`)

// checkWindowsDLLs checks that each Windows binary is for its machine and
// imports, and names for loading later, only DLLs Windows 10 ships.
func checkWindowsDLLs(t *testing.T, out string) {
	for _, tc := range []struct {
		bin     string
		machine uint16
	}{{"mfd-windows-amd64.exe", pe.IMAGE_FILE_MACHINE_AMD64}, {"mfd-windows-arm64.exe", pe.IMAGE_FILE_MACHINE_ARM64}} {
		path := filepath.Join(out, tc.bin)
		f, err := pe.Open(path)
		if err != nil {
			t.Errorf("%s: %v", tc.bin, err)
			continue
		}
		syms, err := f.ImportedSymbols()
		f.Close()
		if err != nil {
			t.Errorf("%s: reading imports: %v", tc.bin, err)
		}
		if f.Machine != tc.machine {
			t.Errorf("%s is for machine %#x, want %#x", tc.bin, f.Machine, tc.machine)
		}
		var imported []string
		for _, s := range syms {
			_, dll, _ := strings.Cut(s, ":")
			dll = strings.ToLower(dll)
			if !slices.Contains(imported, dll) {
				imported = append(imported, dll)
			}
		}
		t.Logf("%s imports %q", tc.bin, imported)
		if len(imported) == 0 {
			t.Errorf("%s imports no DLL: the import table was not read", tc.bin)
		}
		for _, dll := range imported {
			if !slices.Contains(windows10DLLs, dll) {
				t.Errorf("%s imports %s, which Windows 10 does not ship", tc.bin, dll)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var loaded []string
		for _, m := range dllName.FindAll(b, -1) {
			name := strings.ToLower(string(m))
			i := slices.IndexFunc(windows10DLLs, func(d string) bool { return strings.HasSuffix(name, d) })
			if i < 0 {
				t.Errorf("%s names %s, which is not a Windows 10 system DLL", tc.bin, name)
				continue
			}
			if !slices.Contains(loaded, windows10DLLs[i]) {
				loaded = append(loaded, windows10DLLs[i])
			}
		}
		slices.Sort(loaded)
		t.Logf("%s may load %q", tc.bin, loaded)
	}
	if objdump, err := exec.LookPath("x86_64-w64-mingw32-objdump"); err == nil {
		b, _ := exec.Command(objdump, "-p", filepath.Join(out, "mfd-windows-amd64.exe")).Output()
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			if _, n, ok := strings.Cut(l, "DLL Name: "); ok {
				names = append(names, n)
			}
		}
		t.Logf("objdump -p mfd-windows-amd64.exe: DLL Name %q", names)
	}
}
