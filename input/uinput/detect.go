// Package uinput drives the keyboard and pointer through a virtual input
// device the kernel makes from /dev/uinput. It works under every Wayland
// compositor, under X11 and on the console, since the device is as real to
// them as a USB keyboard; in exchange it types only what the active
// keyboard layout maps (US QWERTY is assumed), moves the pointer only
// relatively, and needs write access to /dev/uinput.
//
// It registers itself with package input as "uinput" on Linux. Detect
// and Advice are pure and build everywhere, so mfd doctor can explain the
// backend on any system.
package uinput

import (
	"strings"

	"github.com/openmfd/mfd/input"
)

// Name is the backend's name for --input and the status topic.
const Name = "uinput"

// Order is the backend's place in auto detection: after the portal (10)
// and wlroots (20), which type any character; uinput types only what the
// layout maps.
const Order = 30

// DevicePath is where the kernel offers uinput.
const DevicePath = "/dev/uinput"

// Detect accepts a Linux host where this user may write /dev/uinput.
func Detect(env input.Env) (bool, string) {
	if env.GOOS() != "linux" {
		return false, "uinput is a Linux kernel interface"
	}
	if !env.Writable(DevicePath) {
		return false, DevicePath + " is missing or not writable by this user (mfd doctor prints the udev rule and group that allow it)"
	}
	return true, DevicePath + " is writable: a virtual keyboard and pointer reach every compositor, X11 and the console (US layout assumed; no Unicode text)"
}

// Advice is what a user does for the uinput backend to work, for mfd
// doctor to print.
func Advice() string {
	return strings.TrimSpace(`
uinput needs write access to /dev/uinput. As root, once:
  modprobe uinput                                    # load the module now
  echo uinput > /etc/modules-load.d/uinput.conf      # and at every boot
  echo 'KERNEL=="uinput", GROUP="input", MODE="0660", OPTIONS+="static_node=uinput"' \
    > /etc/udev/rules.d/60-mfd-uinput.rules
  udevadm control --reload-rules && udevadm trigger --name-match=uinput
  usermod -aG input $USER                            # then log out and in again
Members of the input group can also read every keyboard and mouse on the
machine; give it only to the user mfd runs as.
The virtual keyboard sends key positions, which the desktop reads with its
active layout: mfd assumes US QWERTY and types printable ASCII only. Where
the system layout (/etc/default/keyboard, or localectl's
/etc/X11/xorg.conf.d/00-keyboard.conf) names another one, it refuses
characters and sends only layout-free keys (Enter, arrows, F-keys, media
keys, modifiers); a desktop whose own layout setting differs from the
system's would still get the US positions.`)
}
