//go:build !windows

package server

import (
	"os"

	"github.com/openmfd/mfd/server/admin"
)

// countOpenFiles counts the open file descriptors, where /proc says.
func countOpenFiles(st *admin.Stats) {
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		n := len(fds)
		st.OpenFDs = &n
	}
}
