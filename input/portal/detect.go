// Package portal drives a Wayland desktop's keyboard and pointer through
// the RemoteDesktop portal (org.freedesktop.portal.RemoteDesktop on the
// session bus), the way GNOME and KDE let a program take remote control:
// the desktop asks the user once, and with persist_mode 2 hands back a
// restore token that mfd keeps in its state dir so later starts need no
// consent.
//
// It registers itself with package input as "portal" on Linux and the
// BSDs. Detect and Advice are pure and build everywhere, so mfd doctor can
// explain the backend on any system.
package portal

import (
	"fmt"
	"strings"

	"github.com/openmfd/mfd/input"
)

// Name is the backend's name for --input and the status topic.
const Name = "portal"

// Order is the backend's place in auto detection: first, since on GNOME and
// KDE under Wayland nothing else reaches native Wayland programs without
// root.
const Order = 10

// TokenFile is the name of the file in the state dir that holds the
// portal's restore token.
const TokenFile = "portal-restore-token"

// Detect accepts a GNOME or KDE session under Wayland, the desktops whose
// portal backends implement RemoteDesktop. It reads only env; whether the
// portal answers is found out by opening it.
func Detect(env input.Env) (bool, string) {
	if env.GOOS() != "linux" && env.GOOS() != "freebsd" && env.GOOS() != "netbsd" && env.GOOS() != "openbsd" {
		return false, "the RemoteDesktop portal is a Linux and BSD desktop service"
	}
	st := env.Getenv("XDG_SESSION_TYPE")
	wl := env.Getenv("WAYLAND_DISPLAY")
	if st != "wayland" && wl == "" {
		return false, fmt.Sprintf("not a Wayland session ($XDG_SESSION_TYPE=%q, no $WAYLAND_DISPLAY)", st)
	}
	desk := env.Getenv("XDG_CURRENT_DESKTOP")
	kind := desktopKind(desk)
	if kind == "" {
		if desk == "" {
			return false, "a Wayland session without $XDG_CURRENT_DESKTOP: only GNOME's and KDE's portals offer RemoteDesktop"
		}
		return false, fmt.Sprintf("the desktop is %s ($XDG_CURRENT_DESKTOP): only GNOME's and KDE's portals offer RemoteDesktop", desk)
	}
	if env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && env.Getenv("XDG_RUNTIME_DIR") == "" {
		return false, fmt.Sprintf("a %s Wayland session, but no session bus ($DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR are unset)", kind)
	}
	return true, fmt.Sprintf("a %s Wayland session: its RemoteDesktop portal asks the user once, then mfd keeps the consent", kind)
}

// desktopKind names the RemoteDesktop-capable desktop in an
// $XDG_CURRENT_DESKTOP list ("ubuntu:GNOME", "KDE"), or "".
func desktopKind(list string) string {
	for _, d := range strings.Split(list, ":") {
		switch strings.ToLower(d) {
		case "gnome", "gnome-classic", "gnome-flashback":
			return "GNOME"
		case "kde":
			return "KDE"
		}
	}
	return ""
}

// Advice is what a user does for the portal backend to work, for mfd
// doctor to print.
func Advice() string {
	return strings.TrimSpace(`
The desktop asks once whether mfd may control the keyboard and pointer
(GNOME: "Remote Desktop" / "Allow Remote Interaction"; KDE: "Remote control
requested"). Answer Allow at the desktop, with "remember" checked where it
is offered. mfd keeps the portal's restore token in the state dir
(` + TokenFile + `, mode 0600); delete that file to be asked again.
Consent is remembered only with xdg-desktop-portal 1.17 or newer (the
RemoteDesktop portal's version 2) and a backend that supports it (GNOME 45+,
KDE Plasma 6); older ones ask at every start.
Needs xdg-desktop-portal with xdg-desktop-portal-gnome or
xdg-desktop-portal-kde installed and running in the user's session.
Text is sent as keysyms: the desktop types what its active keyboard layout
maps, and drops other characters (GNOME logs "No keycode found for keyval").`)
}
