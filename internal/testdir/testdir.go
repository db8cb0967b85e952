// Package testdir gives tests a temporary directory that is removed when
// the test ends, on every OS and under Wine.
package testdir

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// New returns a fresh directory that is removed when tb ends. It is
// tb.TempDir, except on Windows, where it removes file by file: Go 1.26's
// os.RemoveAll deletes with FileDispositionInformationEx, which Wine 8
// refuses with "Invalid function" instead of a status Go falls back on,
// failing every test that used t.TempDir.
func New(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS != "windows" {
		return tb.TempDir()
	}
	dir, err := os.MkdirTemp("", strings.ReplaceAll(tb.Name(), "/", "_"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			} else if err == nil {
				_ = os.Remove(p)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			if err := os.Remove(d); err != nil {
				tb.Errorf("removing the test dir: %v", err)
			}
		}
	})
	return dir
}
