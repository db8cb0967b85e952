package authsvc

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf16"
)

// On Windows the notification is a toast shown by Windows PowerShell 5.1,
// which every Windows 10 and 11 has: no DLL of ours, no admin rights, no
// app registration (it borrows PowerShell's own app ID, as the toast
// modules for PowerShell do). The script is a constant; the request's
// text, which comes from the network, reaches it only through environment
// variables and is XML-escaped there, so no client name can become code.
const toastScript = `$ErrorActionPreference = 'Stop'
[void][Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]
[void][Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime]
$e = [Security.SecurityElement]
$x = '<toast><visual><binding template="ToastGeneric"><text>' + $e::Escape($env:MFD_TOAST_TITLE) + '</text><text>' + $e::Escape($env:MFD_TOAST_LINE1) + '</text><text>' + $e::Escape($env:MFD_TOAST_LINE2) + '</text></binding></visual></toast>'
$doc = New-Object Windows.Data.Xml.Dom.XmlDocument
$doc.LoadXml($x)
$app = '{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe'
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($app).Show([Windows.UI.Notifications.ToastNotification]::new($doc))
`

// powerShellPath is Windows PowerShell's full path: never looked up on
// PATH or in the working directory, where anyone could put another.
func powerShellPath() string {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	return filepath.Join(root, "System32", "WindowsPowerShell", "v1.0", "powershell.exe")
}

// toastCommand returns the command that shows title and lines as a toast.
func toastCommand(ctx context.Context, ps, title string, lines []string) *exec.Cmd {
	// Three text lines is what a toast shows: the title and two more.
	line2 := strings.Join(lines[1:], "   ")
	cmd := exec.CommandContext(ctx, ps, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
		"-WindowStyle", "Hidden", "-EncodedCommand", encodePowerShell(toastScript))
	cmd.Env = append(os.Environ(),
		"MFD_TOAST_TITLE="+title,
		"MFD_TOAST_LINE1="+lines[0],
		"MFD_TOAST_LINE2="+line2,
	)
	// No console window flashes up, even when mfd runs without one.
	const createNoWindow = 0x08000000
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: createNoWindow}
	return cmd
}

// encodePowerShell encodes a script for -EncodedCommand: base64 of its
// UTF-16LE.
func encodePowerShell(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// show runs the toast in the background.
func (d DesktopNotifier) show(title string, lines []string) {
	ps := powerShellPath()
	if _, err := os.Stat(ps); err != nil {
		d.debug("no desktop notification", "err", err)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		defer cancel()
		out, err := toastCommand(ctx, ps, title, lines).CombinedOutput()
		if err != nil {
			d.debug("showing the pairing toast", "err", err, "output", strings.TrimSpace(string(out)))
			return
		}
		d.debug("pairing toast shown", "program", ps)
	}()
}
