package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/openmfd/mfd/internal/testdir"
)

func TestWriteFileReplacesWithMode(t *testing.T) {
	dir := testdir.New(t)
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "new" {
		t.Fatalf("after WriteFile the file holds %q (%v), want %q", b, err, "new")
	}
	// Windows keeps only a read-only bit; the state dir's DACL makes the
	// files private there (internal/privdir).
	if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("WriteFile left %d entries in the directory, want 1 (no temp files)", len(entries))
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := testdir.New(t)
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go cannot be renamed over.
	bad := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(bad, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(bad, []byte("new"), 0o600); err == nil {
		t.Fatalf("WriteFile over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("a failed WriteFile left %d entries, want 2 (its temp file removed)", len(entries))
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("other file changed to %q", b)
	}
}
