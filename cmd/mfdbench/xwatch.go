package main

import (
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// xWatcher is "another X client": a pure-Go (cgo-free) client that owns a
// focused window, selects KeyPress on it and timestamps each event the
// moment it comes out of the X connection. Nothing is parsed from text and
// no process is started per event, unlike xev, so its own cost is a few
// microseconds (one read by xgb's reader goroutine and one channel hop).
// XRecord was not used: it timestamps at the server in milliseconds.
type xWatcher struct {
	conn *xgb.Conn
	win  xproto.Window
	root xproto.Window

	minKC, maxKC xproto.Keycode
	perKC        int
	syms         []xproto.Keysym // keysyms of each keycode, perKC each

	// onKey gets every KeyPress: keycode, modifier state, arrival time.
	onKey atomic.Pointer[func(kc byte, state uint16, at time.Time)]
	done  chan struct{}

	// ft is a second connection that sends XTest events for the floor.
	ft *xgb.Conn
}

// startWatcher connects to display, maps a window, gives it the input
// focus (there is no window manager under Xvfb) and starts reading events.
func startWatcher(display string) (*xWatcher, error) {
	xgb.Logger = log.New(io.Discard, "", 0) // it logs the missing ~/.Xauthority
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("connecting to X %s: %w", display, err)
	}
	setup := xproto.Setup(c)
	scr := setup.DefaultScreen(c)
	w := &xWatcher{conn: c, root: scr.Root, minKC: setup.MinKeycode, maxKC: setup.MaxKeycode, done: make(chan struct{})}
	wid, err := xproto.NewWindowId(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	w.win = wid
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskStructureNotify)
	if err := xproto.CreateWindowChecked(c, scr.RootDepth, wid, scr.Root, 0, 0, 300, 300, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwEventMask, []uint32{mask}).Check(); err != nil {
		c.Close()
		return nil, fmt.Errorf("creating window: %w", err)
	}
	if err := xproto.MapWindowChecked(c, wid).Check(); err != nil {
		c.Close()
		return nil, fmt.Errorf("mapping window: %w", err)
	}
	if err := w.focus(); err != nil {
		c.Close()
		return nil, err
	}
	if err := w.loadKeymap(); err != nil {
		c.Close()
		return nil, err
	}
	if w.ft, err = xgb.NewConnDisplay(display); err != nil {
		c.Close()
		return nil, err
	}
	if err := xtest.Init(w.ft); err != nil {
		c.Close()
		w.ft.Close()
		return nil, fmt.Errorf("XTest: %w", err)
	}
	go w.loop()
	return w, nil
}

func (w *xWatcher) focus() error {
	if err := xproto.SetInputFocusChecked(w.conn, xproto.InputFocusPointerRoot, w.win, xproto.TimeCurrentTime).Check(); err != nil {
		return fmt.Errorf("focusing window: %w", err)
	}
	f, err := xproto.GetInputFocus(w.conn).Reply()
	if err != nil {
		return err
	}
	if f.Focus != w.win {
		return fmt.Errorf("focus is on window %d, not ours (%d)", f.Focus, w.win)
	}
	return nil
}

func (w *xWatcher) loadKeymap() error {
	r, err := xproto.GetKeyboardMapping(w.conn, w.minKC, byte(w.maxKC-w.minKC+1)).Reply()
	if err != nil {
		return fmt.Errorf("reading keymap: %w", err)
	}
	w.perKC = int(r.KeysymsPerKeycode)
	w.syms = r.Keysyms
	return nil
}

// keycodeOf returns the first keycode whose unshifted keysym is sym.
func (w *xWatcher) keycodeOf(sym xproto.Keysym) (byte, bool) {
	for i := 0; i*w.perKC < len(w.syms); i++ {
		if w.syms[i*w.perKC] == sym {
			return byte(int(w.minKC) + i), true
		}
	}
	return 0, false
}

// keysym returns what a KeyPress of kc with state means in the keymap
// read at start: column 1 with Shift, else column 0.
func (w *xWatcher) keysym(kc byte, state uint16) xproto.Keysym {
	i := int(kc) - int(w.minKC)
	if i < 0 || (i+1)*w.perKC > len(w.syms) {
		return 0
	}
	row := w.syms[i*w.perKC : (i+1)*w.perKC]
	if state&xproto.ModMaskShift != 0 && len(row) > 1 && row[1] != 0 {
		return row[1]
	}
	return row[0]
}

func (w *xWatcher) loop() {
	defer close(w.done)
	for {
		ev, err := w.conn.WaitForEvent()
		if ev == nil && err == nil {
			return // connection closed
		}
		at := time.Now()
		if kp, ok := ev.(xproto.KeyPressEvent); ok {
			if f := w.onKey.Load(); f != nil {
				(*f)(byte(kp.Detail), kp.State, at)
			}
		}
	}
}

func (w *xWatcher) setOnKey(f func(kc byte, state uint16, at time.Time)) {
	if f == nil {
		w.onKey.Store(nil)
		return
	}
	w.onKey.Store(&f)
}

// fakeTap sends an XTest press and release of kc on the floor connection
// and waits until the server has handled both (a GetInputFocus round
// trip, as XSync does).
func (w *xWatcher) fakeTap(kc byte) error {
	xtest.FakeInput(w.ft, xproto.KeyPress, kc, 0, w.root, 0, 0, 0)
	xtest.FakeInput(w.ft, xproto.KeyRelease, kc, 0, w.root, 0, 0, 0)
	_, err := xproto.GetInputFocus(w.ft).Reply()
	return err
}

func (w *xWatcher) close() {
	w.ft.Close()
	w.conn.Close()
	<-w.done
}
