// Package wayland is a small Wayland client in pure Go: the wire format
// (object id, opcode, size, then 32-bit arguments), file descriptors passed
// with SCM_RIGHTS, the registry and roundtrips. It is what input/wlroots
// needs to speak the virtual input protocols, and what tests need to stand
// in for a compositor; it is not a general toolkit (no generated protocol
// code, no event queues). A Conn is not safe for concurrent use: its owner
// serialises every call.
package wayland

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"syscall"
	"time"
)

// DisplayID is the object id of wl_display, which exists from the start.
const DisplayID = 1

// Requests and events of the core objects this package handles itself.
const (
	displaySync        = 0 // wl_display.sync(callback new_id)
	displayGetRegistry = 1 // wl_display.get_registry(registry new_id)
	displayError       = 0 // event wl_display.error(object, code, message)
	displayDeleteID    = 1 // event wl_display.delete_id(id)
	registryBind       = 0 // wl_registry.bind(name, interface, version, id)
	registryGlobal     = 0 // event wl_registry.global(name, interface, version)
	registryRemove     = 1 // event wl_registry.global_remove(name)
	callbackDone       = 0 // event wl_callback.done(data)
)

// maxMessage is the largest message the wire format can carry: its size
// field has 16 bits.
const maxMessage = 1<<16 - 4

// ErrClosed is returned by a Conn after its connection failed or was
// closed; the error wrapping it says why.
var ErrClosed = errors.New("wayland connection closed")

// ProtocolError is the compositor's wl_display.error event: fatal for the
// connection.
type ProtocolError struct {
	Object  uint32
	Code    uint32
	Message string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("wayland protocol error on object %d, code %d: %s", e.Object, e.Code, e.Message)
}

// SocketPath returns the path of the compositor's socket for
// $WAYLAND_DISPLAY display and $XDG_RUNTIME_DIR runtimeDir, as libwayland
// resolves it: an absolute display is the path itself.
func SocketPath(display, runtimeDir string) (string, error) {
	if display == "" {
		return "", errors.New("$WAYLAND_DISPLAY is not set")
	}
	if filepath.IsAbs(display) {
		return display, nil
	}
	if runtimeDir == "" {
		return "", errors.New("$XDG_RUNTIME_DIR is not set")
	}
	return filepath.Join(runtimeDir, display), nil
}

// Global is one object the compositor advertises in its registry.
type Global struct {
	Name      uint32
	Interface string
	Version   uint32
}

// Handler receives the events of one object. Args decodes the arguments
// in order; it is valid only during the call.
type Handler func(opcode uint16, args *Args)

// Conn is a client connection to a compositor.
type Conn struct {
	uc       *net.UnixConn
	out      []byte
	outFDs   []int
	in       []byte
	inFDs    []int
	next     uint32
	free     []uint32
	handlers map[uint32]Handler
	err      error
	// Timeout bounds each roundtrip; zero means 5 s. A compositor that
	// stops answering fails the call instead of hanging it.
	Timeout time.Duration
}

// Dial connects to the compositor's socket at path.
func Dial(path string) (*Conn, error) {
	uc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("connecting to the compositor: %w", err)
	}
	c := &Conn{uc: uc, next: 2, handlers: map[uint32]Handler{}}
	c.handlers[DisplayID] = c.onDisplay
	return c, nil
}

// Probe connects to the compositor at path, reads its registry and
// disconnects. It creates nothing a user could see, so detection may call
// it; timeout bounds the whole exchange.
func Probe(path string, timeout time.Duration) ([]Global, error) {
	c, err := Dial(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.Timeout = timeout
	_, globals, err := c.Registry()
	return globals, err
}

// Close closes the connection; the compositor then destroys every object
// the client made (virtual devices included). It is idempotent.
func (c *Conn) Close() error {
	if c.uc == nil {
		return nil
	}
	err := c.uc.Close()
	c.uc = nil
	for _, fd := range c.inFDs {
		syscall.Close(fd)
	}
	c.inFDs = nil
	if c.err == nil {
		c.err = fmt.Errorf("closed by the client: %w", ErrClosed)
	}
	return err
}

// Err returns the error that ended the connection, or nil.
func (c *Conn) Err() error { return c.err }

// NewID allocates an object id, reusing ids the compositor has deleted, as
// libwayland does: the compositor takes a new id only if it is free or the
// next unused one.
func (c *Conn) NewID() uint32 {
	if n := len(c.free); n > 0 {
		id := c.free[n-1]
		c.free = c.free[:n-1]
		return id
	}
	id := c.next
	c.next++
	return id
}

// Handle routes the events of object id to h; a nil h drops them.
func (c *Conn) Handle(id uint32, h Handler) {
	if h == nil {
		delete(c.handlers, id)
		return
	}
	c.handlers[id] = h
}

// Request is a message being built: Request, then its arguments, then
// Send.
type Request struct {
	c     *Conn
	start int
}

// Request starts a request with opcode op on object obj.
func (c *Conn) Request(obj uint32, op uint16) *Request {
	r := &Request{c: c, start: len(c.out)}
	c.out = binary.LittleEndian.AppendUint32(c.out, obj)
	c.out = binary.LittleEndian.AppendUint32(c.out, uint32(op))
	return r
}

// Uint appends a uint, object or new_id argument.
func (r *Request) Uint(v uint32) *Request {
	r.c.out = binary.LittleEndian.AppendUint32(r.c.out, v)
	return r
}

// Int appends an int argument.
func (r *Request) Int(v int32) *Request { return r.Uint(uint32(v)) }

// Fixed appends a fixed argument (24.8 signed fixed point).
func (r *Request) Fixed(v float64) *Request {
	return r.Int(int32(math.Round(v * 256)))
}

// String appends a string argument: length with the NUL, bytes, NUL,
// padding to 32 bits.
func (r *Request) String(s string) *Request {
	r.Uint(uint32(len(s) + 1))
	r.c.out = append(r.c.out, s...)
	r.c.out = append(r.c.out, 0)
	for len(r.c.out)%4 != 0 {
		r.c.out = append(r.c.out, 0)
	}
	return r
}

// FD attaches a file descriptor argument; it travels beside the bytes.
// The Conn duplicates nothing: fd must stay open until the next Flush.
func (r *Request) FD(fd int) *Request {
	r.c.outFDs = append(r.c.outFDs, fd)
	return r
}

// Send finishes the request: it fills in the size. The bytes go out on
// the next Flush or Roundtrip.
func (r *Request) Send() {
	size := len(r.c.out) - r.start
	if size > maxMessage {
		r.c.out = r.c.out[:r.start]
		if r.c.err == nil {
			r.c.err = fmt.Errorf("a request of %d bytes is over the wire format's limit: %w", size, ErrClosed)
		}
		return
	}
	word := binary.LittleEndian.Uint32(r.c.out[r.start+4:])
	binary.LittleEndian.PutUint32(r.c.out[r.start+4:], uint32(size)<<16|word&0xffff)
}

// Flush writes the requests built so far.
func (c *Conn) Flush() error {
	if c.err != nil {
		return c.err
	}
	if len(c.out) == 0 {
		return nil
	}
	var oob []byte
	if len(c.outFDs) > 0 {
		oob = syscall.UnixRights(c.outFDs...)
	}
	// A compositor that stopped reading would block us for ever.
	c.uc.SetWriteDeadline(time.Now().Add(c.timeout()))
	n, _, err := c.uc.WriteMsgUnix(c.out, oob, nil)
	for err == nil && n < len(c.out) {
		var m int
		m, err = c.uc.Write(c.out[n:])
		n += m
	}
	c.out, c.outFDs = c.out[:0], c.outFDs[:0]
	if err != nil {
		return c.fail(fmt.Errorf("writing to the compositor: %w", err))
	}
	return nil
}

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 5 * time.Second
}

func (c *Conn) fail(err error) error {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return c.err
}

// Roundtrip flushes, then reads and dispatches events until the
// compositor has handled every request sent before it (wl_display.sync).
// It returns the compositor's protocol error, if one came.
func (c *Conn) Roundtrip() error {
	if c.err != nil {
		return c.err
	}
	cb := c.NewID()
	done := false
	c.Handle(cb, func(op uint16, _ *Args) {
		if op == callbackDone {
			done = true
		}
	})
	defer c.Handle(cb, nil)
	c.Request(DisplayID, displaySync).Uint(cb).Send()
	if err := c.Flush(); err != nil {
		return err
	}
	deadline := time.Now().Add(c.timeout())
	for !done {
		if err := c.dispatch(deadline); err != nil {
			return err
		}
	}
	return nil
}

// Registry asks for the registry and returns its id and the globals
// advertised so far (after one roundtrip). Globals announced later reach
// the Handler set with onGlobal, if any.
func (c *Conn) Registry() (id uint32, globals []Global, err error) {
	id = c.NewID()
	c.Handle(id, func(op uint16, a *Args) {
		if op == registryGlobal {
			globals = append(globals, Global{Name: a.Uint(), Interface: a.String(), Version: a.Uint()})
		}
	})
	c.Request(DisplayID, displayGetRegistry).Uint(id).Send()
	if err := c.Roundtrip(); err != nil {
		return 0, nil, err
	}
	c.Handle(id, nil)
	return id, globals, nil
}

// Bind binds global g of the registry at id, at version (at most what the
// compositor offers, which the caller checks), and returns the new
// object's id.
func (c *Conn) Bind(registry uint32, g Global, version uint32) uint32 {
	obj := c.NewID()
	c.Request(registry, registryBind).Uint(g.Name).String(g.Interface).Uint(version).Uint(obj).Send()
	return obj
}

func (c *Conn) onDisplay(op uint16, a *Args) {
	switch op {
	case displayError:
		e := &ProtocolError{Object: a.Uint(), Code: a.Uint(), Message: a.String()}
		c.fail(e)
	case displayDeleteID:
		id := a.Uint()
		delete(c.handlers, id)
		c.free = append(c.free, id)
	}
}

// dispatch reads at least one whole event, unless one is buffered, and
// hands every whole event buffered to its object's handler.
func (c *Conn) dispatch(deadline time.Time) error {
	if !c.whole() {
		if err := c.read(deadline); err != nil {
			return err
		}
	}
	for c.whole() {
		obj := binary.LittleEndian.Uint32(c.in)
		word := binary.LittleEndian.Uint32(c.in[4:])
		size, op := int(word>>16), uint16(word)
		a := &Args{c: c, b: c.in[8:size]}
		if h := c.handlers[obj]; h != nil {
			h(op, a)
		}
		c.in = c.in[size:]
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// whole reports whether c.in starts with a whole event.
func (c *Conn) whole() bool {
	if len(c.in) < 8 {
		return false
	}
	size := int(binary.LittleEndian.Uint32(c.in[4:]) >> 16)
	return size >= 8 && len(c.in) >= size
}

func (c *Conn) read(deadline time.Time) error {
	if len(c.in) >= 8 {
		if size := int(binary.LittleEndian.Uint32(c.in[4:]) >> 16); size < 8 {
			return c.fail(fmt.Errorf("the compositor sent an event of %d bytes", size))
		}
	}
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(28*4))
	c.uc.SetReadDeadline(deadline)
	n, oobn, _, _, err := c.uc.ReadMsgUnix(buf, oob)
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if fds, err := syscall.ParseUnixRights(&m); err == nil {
				c.inFDs = append(c.inFDs, fds...)
			}
		}
		if perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return c.fail(fmt.Errorf("reading from the compositor: %w", err))
	}
	if n == 0 {
		return c.fail(errors.New("the compositor closed the connection"))
	}
	c.in = append(c.in, buf[:n]...)
	return nil
}

// Args decodes an event's arguments in order. A short event decodes as
// zeros rather than panicking: the compositor is trusted, but not to the
// point of crashing on it.
type Args struct {
	c *Conn
	b []byte
}

// Uint decodes a uint, object or new_id argument.
func (a *Args) Uint() uint32 {
	if len(a.b) < 4 {
		a.b = nil
		return 0
	}
	v := binary.LittleEndian.Uint32(a.b)
	a.b = a.b[4:]
	return v
}

// Int decodes an int argument.
func (a *Args) Int() int32 { return int32(a.Uint()) }

// Fixed decodes a fixed argument.
func (a *Args) Fixed() float64 { return float64(a.Int()) / 256 }

// String decodes a string argument.
func (a *Args) String() string {
	n := int(a.Uint())
	if n == 0 || n > len(a.b) {
		a.b = nil
		return ""
	}
	s := string(a.b[:n-1])
	a.b = a.b[min((n+3)&^3, len(a.b)):]
	return s
}

// FD takes the next file descriptor that came with the events; the
// caller owns it. It returns -1 if none came.
func (a *Args) FD() int {
	if len(a.c.inFDs) == 0 {
		return -1
	}
	fd := a.c.inFDs[0]
	a.c.inFDs = a.c.inFDs[1:]
	return fd
}
