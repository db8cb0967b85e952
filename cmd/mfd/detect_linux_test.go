package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/waytest"
)

// TestDetectionTable runs detection over the backends this binary
// registers, for each kind of session a Linux desktop runs: X11, Wayland
// with and without XWayland, GNOME, KDE, sway, a compositor with no
// virtual input, the console; /dev/uinput writable or not. It checks the
// backend --input auto tries first, and the line mfd doctor prints for
// each backend. Wayland sessions are fake compositors that answer the
// registry as the real ones do, so the wlroots backend's Detect reads
// real sockets.
func TestDetectionTable(t *testing.T) {
	vk, vp := "zwp_virtual_keyboard_manager_v1", "zwlr_virtual_pointer_manager_v1"
	swayDir, swayDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", "wl_output", vk, vp, "zwlr_layer_shell_v1")
	gnomeDir, gnomeDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", "wl_output", "gtk_shell1", "zwp_text_input_manager_v3")
	kdeDir, kdeDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", "wl_output", "org_kde_plasma_shell", "org_kde_kwin_fake_input")
	westonDir, westonDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", "wl_output", "weston_desktop_shell")

	wayland := func(dir, disp string, kv ...string) map[string]string {
		m := map[string]string{"XDG_SESSION_TYPE": "wayland", "XDG_RUNTIME_DIR": dir, "WAYLAND_DISPLAY": disp}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const uinputOK = "/dev/uinput"
	tests := []struct {
		name   string
		vars   map[string]string
		uinput bool
		want   string            // the backend auto tries first; "" for none
		why    map[string]string // backend: what its line on doctor's list says
	}{
		{
			name: "X11 session",
			vars: map[string]string{"XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "XFCE", "DISPLAY": ":0", "XDG_RUNTIME_DIR": "/run/user/1000"},
			want: "x11",
			why: map[string]string{
				"portal":  "no   not a Wayland session",
				"wlroots": "no   $WAYLAND_DISPLAY is not set",
				"x11":     "yes  an X11 session on $DISPLAY=:0",
			},
		},
		{
			name:   "GNOME on X11, uinput writable",
			vars:   map[string]string{"XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "DISPLAY": ":1", "XDG_RUNTIME_DIR": "/run/user/1000"},
			uinput: true,
			want:   "x11",
			why: map[string]string{
				"portal": "no   not a Wayland session",
				"x11":    "yes  an X11 session on $DISPLAY=:1",
			},
		},
		{
			name: "sway with XWayland",
			vars: wayland(swayDir, swayDisp, "XDG_CURRENT_DESKTOP", "sway", "SWAYSOCK", "/run/user/1000/sway-ipc.sock", "DISPLAY", ":0"),
			want: "wlroots",
			why: map[string]string{
				"portal":  "no   the desktop is sway ($XDG_CURRENT_DESKTOP): only GNOME's and KDE's portals",
				"wlroots": "yes  the compositor (sway) offers zwp_virtual_keyboard_manager_v1 and zwlr_virtual_pointer_manager_v1",
				"x11":     "no   $DISPLAY=:0 is XWayland in a Wayland session",
			},
		},
		{
			name:   "sway without XWayland, uinput writable",
			vars:   wayland(swayDir, swayDisp, "XDG_CURRENT_DESKTOP", "sway", "SWAYSOCK", "/run/user/1000/sway-ipc.sock"),
			uinput: true,
			want:   "wlroots",
			why: map[string]string{
				"wlroots": "yes  the compositor (sway) offers",
				"x11":     "no   $DISPLAY is not set",
			},
		},
		{
			name: "Hyprland, no session type",
			vars: map[string]string{"XDG_RUNTIME_DIR": swayDir, "WAYLAND_DISPLAY": swayDisp, "HYPRLAND_INSTANCE_SIGNATURE": "abc", "XDG_CURRENT_DESKTOP": "Hyprland"},
			want: "wlroots",
			why: map[string]string{
				"portal":  "no   the desktop is Hyprland",
				"wlroots": "yes  the compositor (Hyprland) offers",
			},
		},
		{
			name: "GNOME on Wayland with XWayland",
			vars: wayland(gnomeDir, gnomeDisp, "XDG_CURRENT_DESKTOP", "ubuntu:GNOME", "DISPLAY", ":0"),
			want: "portal",
			why: map[string]string{
				"portal":  "yes  a GNOME Wayland session",
				"wlroots": "no   the compositor (ubuntu, GNOME) does not offer zwp_virtual_keyboard_manager_v1 nor zwlr_virtual_pointer_manager_v1",
				"x11":     "no   $DISPLAY=:0 is XWayland",
			},
		},
		{
			name: "KDE on Wayland",
			vars: wayland(kdeDir, kdeDisp, "XDG_CURRENT_DESKTOP", "KDE"),
			want: "portal",
			why: map[string]string{
				"portal":  "yes  a KDE Wayland session",
				"wlroots": "no   the compositor (KDE) does not offer",
			},
		},
		{
			name:   "Weston, uinput writable",
			vars:   wayland(westonDir, westonDisp, "XDG_CURRENT_DESKTOP", "weston"),
			uinput: true,
			want:   "uinput",
			why: map[string]string{
				"portal":  "no   the desktop is weston",
				"wlroots": "no   the compositor (weston) does not offer",
				"uinput":  "yes  /dev/uinput is writable",
			},
		},
		{
			name: "Weston, uinput not writable",
			vars: wayland(westonDir, westonDisp, "XDG_CURRENT_DESKTOP", "weston", "DISPLAY", ":0"),
			want: "",
			why: map[string]string{
				"wlroots": "no   the compositor (weston) does not offer",
				"uinput":  "no   /dev/uinput is missing or not writable",
				"x11":     "no   $DISPLAY=:0 is XWayland",
			},
		},
		{
			name:   "the console, uinput writable",
			vars:   map[string]string{"XDG_SESSION_TYPE": "tty"},
			uinput: true,
			want:   "uinput",
			why:    map[string]string{"uinput": "yes  /dev/uinput is writable", "x11": "no   $DISPLAY is not set"},
		},
		{
			name: "a compositor that is gone",
			vars: wayland(t.TempDir(), "wayland-5", "XDG_CURRENT_DESKTOP", "sway"),
			want: "",
			why:  map[string]string{"wlroots": "no   cannot read the compositor (sway)'s registry"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := input.MapEnv{Vars: tt.vars}
			if tt.uinput {
				env.Paths = []string{uinputOK}
			}
			var out strings.Builder
			first := explain(&out, env)
			if first != tt.want {
				t.Errorf("auto tries %q first, want %q; doctor says:\n%s", first, tt.want, out.String())
			}
			for backend, why := range tt.why {
				line := regexp.MustCompile(`(?m)^  ` + backend + ` +` + regexp.QuoteMeta(why))
				if !line.MatchString(out.String()) {
					t.Errorf("doctor's line for %s does not say %q:\n%s", backend, why, out.String())
				}
			}
			for _, b := range input.Backends() {
				if !strings.Contains(out.String(), fmt.Sprintf("\n  %-8s ", b.Name)) {
					t.Errorf("doctor lists no verdict for %s:\n%s", b.Name, out.String())
				}
			}
		})
	}
}
