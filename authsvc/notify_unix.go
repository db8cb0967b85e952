//go:build !windows

package authsvc

import (
	"context"
	"os/exec"
	"strings"
)

// show runs notify-send, if it is on PATH, in the background.
func (d DesktopNotifier) show(title string, lines []string) {
	path, err := exec.LookPath("notify-send")
	if err != nil {
		d.debug("no desktop notification", "err", err)
		return
	}
	body := strings.Join(lines, "\n")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		defer cancel()
		// Arguments, never a shell: the name comes from the network.
		cmd := exec.CommandContext(ctx, path, "--app-name=mfd", "--", title, body)
		if err := cmd.Run(); err != nil {
			d.debug("running notify-send", "err", err)
		}
	}()
}
