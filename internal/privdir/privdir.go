// Package privdir makes directories that only the current user can read,
// such as the state dir that holds mfd's keys: mode 0700 on Unix, a
// protected DACL that grants the current user alone on Windows.
package privdir

import (
	"fmt"
	"os"
)

// Make creates dir and any missing parents, and makes dir private to the
// current user, tightening it if it exists and is looser. Parents it
// creates get the usual permissions.
func Make(dir string) error {
	if dir == "" {
		return fmt.Errorf("making a private dir: no path given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := restrict(dir, fi); err != nil {
		return fmt.Errorf("making %s private: %w", dir, err)
	}
	return nil
}
