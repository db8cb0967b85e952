#!/bin/sh
# deps.sh installs what building, running or testing mfd needs and is not
# yet on this machine. It installs only what is missing: Debian/Ubuntu
# packages with apt-get (through sudo when not root) and the panel's npm
# packages. Usage: scripts/deps.sh build|test
set -eu

want=${1:-build}
missing=""

need_pkg() { # need_pkg PACKAGE TEST...
	pkg=$1; shift
	if ! "$@" >/dev/null 2>&1; then
		missing="$missing $pkg"
	fi
}

has() { command -v "$1"; }

if ! has go; then
	echo "deps: Go 1.26 or newer is needed: https://go.dev/doc/install" >&2
	exit 1
fi

need_pkg gcc has gcc
need_pkg libx11-dev test -e /usr/include/X11/Xlib.h
need_pkg libxtst-dev test -e /usr/include/X11/extensions/XTest.h
need_pkg nodejs has node
need_pkg npm has npm
# make dist packs the Windows builds with zip.
need_pkg zip has zip
if [ "$want" = test ] || [ "$want" = bench ]; then
	need_pkg xvfb has Xvfb
	need_pkg x11-utils has xev
	need_pkg xdotool has xdotool
	need_pkg x11-xserver-utils has xmodmap
	need_pkg mosquitto test -x /usr/sbin/mosquitto
	need_pkg mosquitto-clients has mosquitto_pub
	need_pkg chromium test -x /usr/bin/chromium
	need_pkg openssl has openssl
	# The portal backend's tests run the real xdg-desktop-portal frontend
	# on a private dbus-daemon.
	need_pkg dbus has dbus-daemon
	need_pkg xdg-desktop-portal sh -c 'test -x /usr/libexec/xdg-desktop-portal || test -x /usr/lib/xdg-desktop-portal'
	# The uinput backend's ABI test compiles against the kernel headers.
	need_pkg linux-libc-dev test -e /usr/include/linux/uinput.h
	# The Wayland tests run headless sway and read keys back with wev.
	need_pkg sway has sway
	need_pkg wev has wev
	# The Windows build is tested under Wine (internal/winetest); Debian's
	# wine64 puts its loader in /usr/lib/wine (the wine package would add
	# it to $PATH).
	need_pkg wine64 sh -c 'command -v wine64 || test -x /usr/lib/wine/wine64'
	need_pkg gcc-mingw-w64-x86-64 has x86_64-w64-mingw32-gcc
	# mfd install's test has systemd read the unit it writes.
	need_pkg systemd has systemd-analyze
	# make dist builds mfd-linux-arm64 with the X11 backend: cgo with the
	# aarch64 cross gcc and Debian's arm64 libX11 and libXtst (multiarch).
	if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
		need_pkg gcc-aarch64-linux-gnu has aarch64-linux-gnu-gcc
		need_pkg libx11-dev:arm64 test -e /usr/lib/aarch64-linux-gnu/libX11.so
		need_pkg libxtst-dev:arm64 test -e /usr/lib/aarch64-linux-gnu/libXtst.so
	fi
fi

if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	case $missing in
	*:arm64*)
		if ! dpkg --print-foreign-architectures | grep -qx arm64; then
			$sudo dpkg --add-architecture arm64
		fi
		;;
	esac
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing
fi

# The panel's build tools and the browser tests' driver come from npm; the
# lock file pins them. Chromium is Debian's: nothing downloads a browser.
# A lock file newer than what was installed (a package added since) installs
# again.
stale() { [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }
if [ -f panel/package.json ] && stale panel; then
	echo "deps: installing the panel's npm packages"
	(cd panel && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
if [ "$want" != build ] && [ -f test/package.json ] && [ ! -d test/node_modules ]; then
	echo "deps: installing the test suite's npm packages"
	(cd test && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
