//go:build cgo && !nox11 && (linux || freebsd || netbsd || openbsd)

package x11

import (
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		vars map[string]string
		ok   bool
		why  string
	}{
		{map[string]string{"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, true, "X11 session"},
		{map[string]string{"DISPLAY": ":1"}, true, "X11 session"},
		{map[string]string{}, false, "not set"},
		{map[string]string{"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, false, "XWayland"},
		{map[string]string{"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, false, "XWayland"},
	}
	for _, tt := range tests {
		ok, why := Detect(input.MapEnv{Vars: tt.vars})
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("Detect(%v) = %v, %q; want %v and a reason with %q", tt.vars, ok, why, tt.ok, tt.why)
		}
	}
}
