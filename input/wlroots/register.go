//go:build linux

package wlroots

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/wayland"
)

// Order is the wlroots backend's place in auto detection: after the
// RemoteDesktop portal (GNOME and KDE, which do not offer the wlroots
// protocols anyway), before uinput, whose typing is limited to the layout.
const Order = 20

func init() {
	input.Register(input.Backend{
		Name:   "wlroots",
		Order:  Order,
		Detect: Detect,
		Open: func(o input.Options) (input.Injector, error) {
			env := o.Env
			if env == nil {
				env = input.OSEnv()
			}
			return New(Options{
				Display:    env.Getenv("WAYLAND_DISPLAY"),
				RuntimeDir: env.Getenv("XDG_RUNTIME_DIR"),
				KeymapHold: o.KeymapHold,
				Logger:     o.Logger,
			})
		},
	})
}

// probeTimeout bounds how long Detect waits for the compositor's registry.
const probeTimeout = 2 * time.Second

// Detect accepts a Wayland session whose compositor offers both virtual
// input protocols. It asks the compositor itself rather than guessing
// from the desktop's name: it connects to $WAYLAND_DISPLAY, reads the
// registry and disconnects, which creates nothing a user could see. A
// name (sway, Hyprland) says nothing about a compositor built without the
// protocols, or about river, labwc, Wayfire and the next one, which offer
// them under names no list would hold.
func Detect(env input.Env) (bool, string) {
	display := env.Getenv("WAYLAND_DISPLAY")
	if display == "" {
		return false, "$WAYLAND_DISPLAY is not set: no Wayland session"
	}
	who := compositor(env)
	path, err := wayland.SocketPath(display, env.Getenv("XDG_RUNTIME_DIR"))
	if err != nil {
		return false, fmt.Sprintf("cannot find the compositor of $WAYLAND_DISPLAY=%s: %v", display, err)
	}
	globals, err := wayland.Probe(path, probeTimeout)
	if err != nil {
		return false, fmt.Sprintf("cannot read %s's registry at %s: %v", who, path, err)
	}
	has := func(iface string) bool {
		return slices.ContainsFunc(globals, func(g wayland.Global) bool { return g.Interface == iface })
	}
	okK, okP := has(ifaceVirtualKeyboard), has(ifaceVirtualPointer)
	if !okK || !okP {
		return false, fmt.Sprintf("%s does not offer %s", who, missing(okK, okP))
	}
	if !has(ifaceSeat) {
		return false, fmt.Sprintf("%s offers the virtual input protocols but has no seat", who)
	}
	return true, fmt.Sprintf("%s offers %s and %s", who, ifaceVirtualKeyboard, ifaceVirtualPointer)
}

// compositor names the compositor for Detect's reasons, from what the
// session says about itself.
func compositor(env input.Env) string {
	switch {
	case env.Getenv("SWAYSOCK") != "":
		return "the compositor (sway)"
	case env.Getenv("HYPRLAND_INSTANCE_SIGNATURE") != "":
		return "the compositor (Hyprland)"
	}
	if d := env.Getenv("XDG_CURRENT_DESKTOP"); d != "" {
		return "the compositor (" + strings.ReplaceAll(d, ":", ", ") + ")"
	}
	return "the compositor"
}

// Advice is what a user does for the wlroots backend to work, for mfd
// doctor to print.
func Advice() string {
	return strings.TrimSpace(`
The wlroots backend needs a compositor that offers ` + ifaceVirtualKeyboard + `
and ` + ifaceVirtualPointer + `: sway, Hyprland, river, labwc and Wayfire
do; GNOME and KDE do not (they take the RemoteDesktop portal).
mfd finds the compositor through $WAYLAND_DISPLAY in $XDG_RUNTIME_DIR: run
it inside the session, or, as a systemd user service, after
'systemctl --user import-environment WAYLAND_DISPLAY' (sway: in its config,
'exec systemctl --user import-environment WAYLAND_DISPLAY SWAYSOCK').
Only the user who owns the session may open its socket.
Text of any script is typed through a keymap of mfd's own virtual keyboard;
the user's keyboards keep theirs.`)
}
