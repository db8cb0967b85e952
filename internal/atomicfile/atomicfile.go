// Package atomicfile writes files so that a crash at any instant leaves
// either the old content or the new, never a mix.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to a temporary file in filename's directory, syncs
// it, sets perm, renames it over filename and syncs the directory.
func WriteFile(filename string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(filename)
	f, err := os.CreateTemp(dir, "."+filepath.Base(filename)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing temp file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing temp file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing temp file: %w", err)
	}
	if err = os.Rename(tmp, filename); err != nil {
		return fmt.Errorf("renaming temp file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
