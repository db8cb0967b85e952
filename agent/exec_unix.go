//go:build unix

package agent

import (
	"os/exec"
	"syscall"
)

// killTree makes cancelling cmd kill its whole process group, so that a
// shell script's children stop with it.
func killTree(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
