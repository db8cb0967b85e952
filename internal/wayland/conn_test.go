package wayland

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve listens on a socket and runs answer for each request of the one
// client; answer's return is written back.
func serve(t *testing.T, answer func(obj uint32, op uint16, body []byte, fds []int) []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wayland-0")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<16)
		oob := make([]byte, 256)
		var in []byte
		var fds []int
		for {
			n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil || n == 0 {
				return
			}
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					f, _ := syscall.ParseUnixRights(&m)
					fds = append(fds, f...)
				}
			}
			in = append(in, buf[:n]...)
			for len(in) >= 8 {
				size := int(binary.LittleEndian.Uint32(in[4:]) >> 16)
				if len(in) < size {
					break
				}
				obj, op := binary.LittleEndian.Uint32(in), uint16(binary.LittleEndian.Uint32(in[4:]))
				if out := answer(obj, op, in[8:size], fds); len(out) > 0 {
					c.Write(out)
				}
				fds = nil
				in = in[size:]
			}
		}
	}()
	return path
}

func event(obj uint32, op uint16, args ...[]byte) []byte {
	var body []byte
	for _, a := range args {
		body = append(body, a...)
	}
	out := binary.LittleEndian.AppendUint32(nil, obj)
	out = binary.LittleEndian.AppendUint32(out, uint32(8+len(body))<<16|uint32(op))
	return append(out, body...)
}

func u(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func str(s string) []byte {
	b := append(u(uint32(len(s)+1)), s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestRequestsOnTheWire checks the bytes of a request with every argument
// type, the file descriptor passed beside them, and a roundtrip.
func TestRequestsOnTheWire(t *testing.T) {
	got := make(chan []byte, 1)
	gotFD := make(chan int, 1)
	path := serve(t, func(obj uint32, op uint16, body []byte, fds []int) []byte {
		switch {
		case obj == 7:
			got <- append([]byte(nil), body...)
			if len(fds) == 1 {
				gotFD <- fds[0]
			}
		case obj == DisplayID && op == displaySync:
			id := binary.LittleEndian.Uint32(body)
			return append(event(id, callbackDone, u(0)), event(DisplayID, displayDeleteID, u(id))...)
		}
		return nil
	})
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c.Request(7, 3).Uint(1).Int(-2).Fixed(1.5).String("abc").String("").FD(int(w.Fd())).Send()
	if err := c.Roundtrip(); err != nil {
		t.Fatalf("Roundtrip: %v", err)
	}
	want := append(append(append(append(u(1), u(0xfffffffe)...), u(384)...), str("abc")...), str("")...)
	if b := <-got; string(b) != string(want) {
		t.Errorf("request body % x, want % x", b, want)
	}
	select {
	case fd := <-gotFD:
		// The descriptor that arrived is the pipe's write end.
		f := os.NewFile(uintptr(fd), "passed")
		f.Write([]byte("x"))
		f.Close()
		buf := make([]byte, 1)
		if n, _ := r.Read(buf); n != 1 || buf[0] != 'x' {
			t.Errorf("the fd passed is not the pipe's write end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no fd arrived with the request")
	}
	// The sync's callback id came back with delete_id: it is reused.
	if id := c.NewID(); id != 2 {
		t.Errorf("NewID after the roundtrip = %d, want the deleted callback's 2", id)
	}
}

// TestProtocolError checks that the compositor's error event fails the
// roundtrip, and every call after it, with the compositor's words.
func TestProtocolError(t *testing.T) {
	path := serve(t, func(obj uint32, op uint16, body []byte, _ []int) []byte {
		if obj == DisplayID && op == displaySync {
			return event(DisplayID, displayError, u(5), u(1), str("no_keymap: keymap needed"))
		}
		return nil
	})
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Roundtrip()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Object != 5 || pe.Code != 1 || !strings.Contains(err.Error(), "no_keymap") || !errors.Is(err, ErrClosed) {
		t.Fatalf("Roundtrip = %v, want the compositor's protocol error", err)
	}
	if err := c.Flush(); !errors.As(err, &pe) {
		t.Errorf("Flush after the error = %v, want the same error", err)
	}
}

// TestCompositorSilent checks that a compositor that stops answering
// fails the roundtrip with a timeout instead of hanging it, and that a
// missing socket fails Probe.
func TestCompositorSilent(t *testing.T) {
	path := serve(t, func(obj uint32, op uint16, _ []byte, _ []int) []byte { return nil })
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 100 * time.Millisecond
	if err := c.Roundtrip(); !errors.Is(err, ErrClosed) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Roundtrip with a silent compositor = %v, want a timeout", err)
	}
	if _, err := Probe(filepath.Join(t.TempDir(), "none"), time.Second); err == nil {
		t.Error("Probe of a missing socket succeeded")
	}
}
