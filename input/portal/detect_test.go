package portal

import (
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
)

func TestDetect(t *testing.T) {
	bus := "unix:path=/run/user/1000/bus"
	for _, tc := range []struct {
		name string
		vars map[string]string
		os   string
		ok   bool
		why  string // a part of the reason mfd doctor prints
	}{
		{"GNOME Wayland", map[string]string{"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "GNOME", "DBUS_SESSION_BUS_ADDRESS": bus}, "", true, "a GNOME Wayland session"},
		{"Ubuntu's GNOME", map[string]string{"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "XDG_RUNTIME_DIR": "/run/user/1000"}, "", true, "GNOME"},
		{"KDE Wayland", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE", "DBUS_SESSION_BUS_ADDRESS": bus}, "", true, "a KDE Wayland session"},
		{"GNOME on X11", map[string]string{"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "GNOME", "DBUS_SESSION_BUS_ADDRESS": bus}, "", false, "not a Wayland session"},
		{"sway", map[string]string{"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway", "DBUS_SESSION_BUS_ADDRESS": bus}, "", false, "the desktop is sway"},
		{"Wayland, no desktop named", map[string]string{"WAYLAND_DISPLAY": "wayland-1"}, "", false, "without $XDG_CURRENT_DESKTOP"},
		{"no session bus", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "GNOME"}, "", false, "no session bus"},
		{"Windows", map[string]string{}, "windows", false, "Linux and BSD"},
	} {
		ok, why := Detect(input.MapEnv{Vars: tc.vars, OS: tc.os})
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: Detect(%v) = %v, %q; want %v and a reason containing %q", tc.name, tc.vars, ok, why, tc.ok, tc.why)
		}
	}
}

func TestAdviceSaysWhatToDo(t *testing.T) {
	a := Advice()
	for _, want := range []string{"Allow", TokenFile, "1.17", "xdg-desktop-portal-gnome"} {
		if !strings.Contains(a, want) {
			t.Errorf("Advice() lacks %q:\n%s", want, a)
		}
	}
}
