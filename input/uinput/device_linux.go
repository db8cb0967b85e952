//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || loong64 || s390x)

package uinput

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/openmfd/mfd/input"
)

// The device is registered only where the ioctl encoding is the generic
// one that codes.go builds (not on mips, powerpc or sparc).
func init() {
	input.Register(input.Backend{
		Name:   Name,
		Order:  Order,
		Detect: Detect,
		Open: func(o input.Options) (input.Injector, error) {
			return New(Options{Logger: o.Logger})
		},
	})
}

// New opens /dev/uinput (or opts.Path) and creates the virtual keyboard
// and pointer. The device disappears on Close, or when the process exits.
func New(opts Options) (input.Injector, error) {
	path := cmp.Or(opts.Path, DevicePath)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %v (mfd doctor tells how to allow it): %w", path, err, input.ErrNoInput)
	}
	dev := &fdDevice{fd: fd}
	opts.Settle = cmp.Or(opts.Settle, DefaultSettle)
	opts.KeyDelay = cmp.Or(opts.KeyDelay, DefaultKeyDelay)
	if opts.Layout == "" {
		opts.Layout = systemLayout()
	}
	x, err := newInjector(dev, opts)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("setting up the uinput device: %v: %w", err, input.ErrNoInput)
	}
	x.log.Info("uinput device created", "name", DeviceName, "layout", opts.Layout)
	return x, nil
}

// fdDevice is an open /dev/uinput.
type fdDevice struct{ fd int }

func (d *fdDevice) ioctl(req uint32, arg uintptr) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), uintptr(req), arg); e != 0 {
		return e
	}
	return nil
}

func (d *fdDevice) ioctlPtr(req uint32, p []byte) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), uintptr(req), uintptr(unsafe.Pointer(&p[0])))
	runtime.KeepAlive(p)
	if e != 0 {
		return e
	}
	return nil
}

func (d *fdDevice) Write(p []byte) (int, error) { return unix.Write(d.fd, p) }
func (d *fdDevice) Close() error                { return unix.Close(d.fd) }

// layoutFiles are where Debian's keyboard-configuration and systemd's
// localectl keep the system keyboard layout.
var layoutFiles = []struct {
	path string
	re   *regexp.Regexp
}{
	{"/etc/default/keyboard", regexp.MustCompile(`^\s*XKBLAYOUT\s*=\s*"?([^"\s]*)"?`)},
	{"/etc/X11/xorg.conf.d/00-keyboard.conf", regexp.MustCompile(`^\s*Option\s+"XkbLayout"\s+"([^"]*)"`)},
}

// systemLayout returns the first layout the system configures, or "us"
// when none says.
func systemLayout() string {
	for _, f := range layoutFiles {
		if l := layoutIn(f.path, f.re); l != "" {
			return l
		}
	}
	return "us"
}

// layoutIn returns the first layout of a comma-separated list that re
// finds in the file at path, or "".
func layoutIn(path string, re *regexp.Regexp) string {
	fh, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer fh.Close()
	s := bufio.NewScanner(fh)
	for s.Scan() {
		if m := re.FindStringSubmatch(s.Text()); m != nil {
			first, _, _ := strings.Cut(m[1], ",")
			return strings.TrimSpace(first)
		}
	}
	return ""
}
