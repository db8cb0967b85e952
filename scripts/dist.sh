#!/bin/sh
# dist.sh cross-builds the release into $DIST (default dist/), on Linux,
# with no Windows or arm64 machine: one binary per platform, an archive of
# each (tar.gz for Linux, zip for Windows) with README.md, and SHA256SUMS
# over all of them. Usage: scripts/dist.sh VERSION
#
# The Linux binaries carry the X11 backend, which needs cgo and libX11 and
# libXtst: native gcc for amd64; for arm64 the cross gcc and Debian's arm64
# libraries (scripts/deps.sh test installs both). Without them the arm64
# binary is built without cgo and without the X11 backend, and NOTES says
# so. The Windows binaries need no cgo: a plain cross-compile.
set -eu

version=${1:?usage: scripts/dist.sh VERSION}
out=${DIST:-dist}
go=${GO:-go}
ldflags="-s -w -X main.version=$version"

rm -rf "$out"
mkdir -p "$out"
: > "$out/NOTES"

# build GOOS GOARCH CGO CC TAGS: writes $out/mfd-GOOS-GOARCH[.exe].
build() {
	name=mfd-$1-$2
	[ "$1" = windows ] && name=$name.exe
	echo "dist: $name (cgo=$3${5:+, tags $5})"
	GOOS=$1 GOARCH=$2 CGO_ENABLED=$3 CC=$4 \
		$go build -trimpath -tags "$5" -ldflags "$ldflags" -o "$out/$name" ./cmd/mfd
}

build linux amd64 1 gcc ""
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 &&
	[ -e /usr/lib/aarch64-linux-gnu/libX11.so ] && [ -e /usr/lib/aarch64-linux-gnu/libXtst.so ]; then
	build linux arm64 1 aarch64-linux-gnu-gcc ""
else
	build linux arm64 0 "" nox11
	note="mfd-linux-arm64 has no X11 backend (built without cgo: no aarch64 cross gcc or arm64 libX11/libXtst here); its backends are wlroots (sway, Hyprland), the desktop portal and uinput"
	echo "dist: $note" >&2
	echo "$note" >> "$out/NOTES"
fi
build windows amd64 0 "" ""
build windows arm64 0 "" ""

# Each archive holds one directory, mfd-VERSION-PLATFORM, with the binary
# named as the user will call it, and README.md.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for bin in "$out"/mfd-*; do
	base=$(basename "$bin")
	case $base in
	*.exe) platform=${base#mfd-}; platform=${platform%.exe}; exe=mfd.exe ;;
	*) platform=${base#mfd-}; exe=mfd ;;
	esac
	dir=mfd-$version-$platform
	mkdir -p "$stage/$dir"
	cp "$bin" "$stage/$dir/$exe"
	cp README.md "$stage/$dir/"
	abs=$(cd "$out" && pwd)
	case $exe in
	mfd.exe) (cd "$stage" && zip -q -r -X "$abs/mfd-$platform.zip" "$dir") ;;
	*) tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/mfd-$platform.tar.gz" "$dir" ;;
	esac
done

[ -s "$out/NOTES" ] || rm "$out/NOTES"
(cd "$out" && sha256sum mfd-* > SHA256SUMS)
echo "dist: $(cd "$out" && ls | tr '\n' ' ')"
