//go:build linux

package wlroots

import (
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/waytest"
)

func TestDetect(t *testing.T) {
	both, bothDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", ifaceVirtualKeyboard, ifaceVirtualPointer)
	kbd, kbdDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", ifaceVirtualKeyboard)
	gnome, gnomeDisp := waytest.FakeCompositor(t, "wl_compositor", "wl_seat", "gtk_shell1")
	seatless, seatlessDisp := waytest.FakeCompositor(t, ifaceVirtualKeyboard, ifaceVirtualPointer)
	tests := []struct {
		vars map[string]string
		ok   bool
		why  string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": both, "WAYLAND_DISPLAY": bothDisp, "SWAYSOCK": "/x"}, true,
			"the compositor (sway) offers zwp_virtual_keyboard_manager_v1 and zwlr_virtual_pointer_manager_v1"},
		{map[string]string{"XDG_RUNTIME_DIR": both, "WAYLAND_DISPLAY": both + "/" + bothDisp}, true, "the compositor offers"},
		{map[string]string{"XDG_RUNTIME_DIR": kbd, "WAYLAND_DISPLAY": kbdDisp, "XDG_CURRENT_DESKTOP": "labwc:wlroots"}, false,
			"the compositor (labwc, wlroots) does not offer zwlr_virtual_pointer_manager_v1"},
		{map[string]string{"XDG_RUNTIME_DIR": gnome, "WAYLAND_DISPLAY": gnomeDisp, "XDG_CURRENT_DESKTOP": "GNOME"}, false,
			"does not offer zwp_virtual_keyboard_manager_v1 nor zwlr_virtual_pointer_manager_v1"},
		{map[string]string{"XDG_RUNTIME_DIR": seatless, "WAYLAND_DISPLAY": seatlessDisp}, false, "no seat"},
		{map[string]string{"DISPLAY": ":0"}, false, "$WAYLAND_DISPLAY is not set"},
		{map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, false, "$XDG_RUNTIME_DIR is not set"},
		{map[string]string{"XDG_RUNTIME_DIR": t.TempDir(), "WAYLAND_DISPLAY": "wayland-9"}, false, "cannot read the compositor's registry"},
	}
	for _, tt := range tests {
		ok, why := Detect(input.MapEnv{Vars: tt.vars})
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("Detect(%v) = %v, %q; want %v and a reason with %q", tt.vars, ok, why, tt.ok, tt.why)
		}
	}
}
