//go:build !unix

package agent

import "os/exec"

// killTree leaves cmd's default cancel, which kills the program itself.
func killTree(*exec.Cmd) {}
