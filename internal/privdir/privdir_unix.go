//go:build !windows

package privdir

import "os"

func restrict(dir string, fi os.FileInfo) error {
	if fi.Mode().Perm() == 0o700 {
		return nil
	}
	return os.Chmod(dir, 0o700)
}
