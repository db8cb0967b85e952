//go:build !linux && !windows

package main

import (
	"context"
	"errors"
	"io"
)

var errInstallUnsupported = errors.New("mfd install knows Linux (a systemd user unit) and Windows (a logon entry); start `mfd serve` from your system's login items instead")

func install(context.Context, string, []string, bool, io.Writer) error {
	return errInstallUnsupported
}

func uninstall(context.Context, io.Writer) error { return errInstallUnsupported }
