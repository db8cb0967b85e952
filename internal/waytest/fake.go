package waytest

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// FakeCompositor listens on a Wayland socket in a new runtime dir and
// answers as a compositor offering globals (interface names, version 1)
// would: the registry's globals, and sync. That is all detection reads, so
// detection can be tested over sessions this machine does not run (GNOME,
// KDE, a compositor without the virtual input protocols). It returns the
// $XDG_RUNTIME_DIR and $WAYLAND_DISPLAY to reach it; it stops when the
// test ends.
func FakeCompositor(tb testing.TB, globals ...string) (runtimeDir, display string) {
	tb.Helper()
	dir, err := os.MkdirTemp("", "mfd-fakewl-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "wayland-0"))
	if err != nil {
		tb.Fatalf("listening as a fake compositor: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveFake(c, globals)
		}
	}()
	return dir, "wayland-0"
}

// serveFake answers one client: wl_display.get_registry with a global
// event per interface, wl_display.sync with wl_callback.done and
// delete_id. It ignores every other request.
func serveFake(c net.Conn, globals []string) {
	defer c.Close()
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		obj := binary.LittleEndian.Uint32(hdr[:])
		word := binary.LittleEndian.Uint32(hdr[4:])
		body := make([]byte, int(word>>16)-8)
		if _, err := io.ReadFull(c, body); err != nil || len(body) < 4 {
			return
		}
		if obj != 1 {
			continue
		}
		id := binary.LittleEndian.Uint32(body)
		var out []byte
		switch uint16(word) {
		case 0: // sync: done, then delete_id
			out = fakeEvent(out, id, 0, u32(0))
			out = fakeEvent(out, 1, 1, u32(id))
		case 1: // get_registry
			for i, g := range globals {
				args := u32(uint32(i + 1))
				args = append(args, u32(uint32(len(g)+1))...)
				args = append(args, g...)
				args = append(args, 0)
				for len(args)%4 != 0 {
					args = append(args, 0)
				}
				args = append(args, u32(1)...)
				out = fakeEvent(out, id, 0, args)
			}
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func fakeEvent(out []byte, obj uint32, op uint16, args []byte) []byte {
	out = binary.LittleEndian.AppendUint32(out, obj)
	out = binary.LittleEndian.AppendUint32(out, uint32(8+len(args))<<16|uint32(op))
	return append(out, args...)
}
