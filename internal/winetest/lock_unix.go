//go:build unix

package winetest

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, waiting for it; closing f lets
// it go.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
