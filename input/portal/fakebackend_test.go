//go:build linux || freebsd || netbsd || openbsd

package portal

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// fakeBusName is the bus name of the fake portal backend.
const fakeBusName = "org.freedesktop.impl.portal.desktop.mfdfake"

// fakeBackend is a portal backend (org.freedesktop.impl.portal.
// RemoteDesktop), standing in for GNOME's and KDE's: the real frontend
// calls it, and it records every call in the order the frontend sent
// them. Its "dialog" grants keyboard and pointer unless told to decline;
// given restore data it issued, it grants without asking.
type fakeBackend struct {
	conn *dbus.Conn

	mu      sync.Mutex
	calls   []fakeCall
	asked   int             // consent dialogs shown
	issued  map[string]bool // restore data handed out
	persist uint32          // persist_mode of the last SelectDevices
	restore string          // restore data of the last SelectDevices
	decline bool            // the user answers Cancel
	grant   uint32          // devices granted; 0 means keyboard and pointer
	hang    chan struct{}   // when set, Start waits for it to close: a dialog left open
}

// fakeCall is one recorded call; serial orders them as the frontend sent
// them, since godbus runs each incoming call on its own goroutine.
type fakeCall struct {
	serial uint32
	what   string
}

// startFakeBackend connects to the bus at addr, exports the backend and
// takes its bus name. It must run before the frontend starts, which reads
// the backend's properties once.
func startFakeBackend(tb testing.TB, addr string) *fakeBackend {
	tb.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	f := &fakeBackend{conn: conn, issued: map[string]bool{}}
	if err := conn.Export(fakeImpl{f}, objPath, "org.freedesktop.impl.portal.RemoteDesktop"); err != nil {
		tb.Fatal(err)
	}
	_, err = prop.Export(conn, objPath, prop.Map{
		"org.freedesktop.impl.portal.RemoteDesktop": {
			"AvailableDeviceTypes": {Value: uint32(7), Emit: prop.EmitFalse},
			"version":              {Value: uint32(2), Emit: prop.EmitFalse},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if r, err := conn.RequestName(fakeBusName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		tb.Fatalf("taking %s: %v, %v", fakeBusName, r, err)
	}
	return f
}

func (f *fakeBackend) record(m dbus.Message, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{m.Serial(), fmt.Sprintf(format, args...)})
}

// Calls returns what was recorded, in the order it was sent.
func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	c := slices.Clone(f.calls)
	f.mu.Unlock()
	sort.Slice(c, func(i, j int) bool { return c[i].serial < c[j].serial })
	var out []string
	for _, x := range c {
		out = append(out, x.what)
	}
	return out
}

// Asked returns how many times the fake asked the user.
func (f *fakeBackend) Asked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked
}

// fakeImpl holds the D-Bus methods only: godbus exports every method of
// the value it is given.
type fakeImpl struct{ f *fakeBackend }

type vardict = map[string]dbus.Variant

func (i fakeImpl) CreateSession(m dbus.Message, handle, session dbus.ObjectPath, app string, opts vardict) (uint32, vardict, *dbus.Error) {
	i.f.record(m, "CreateSession")
	i.f.conn.Export(fakeSession{i.f}, session, "org.freedesktop.impl.portal.Session")
	return 0, vardict{}, nil
}

func (i fakeImpl) SelectDevices(m dbus.Message, handle, session dbus.ObjectPath, app string, opts vardict) (uint32, vardict, *dbus.Error) {
	types, _ := opts["types"].Value().(uint32)
	persist, _ := opts["persist_mode"].Value().(uint32)
	var restore string
	if rd, ok := opts["restore_data"]; ok {
		// (suv): vendor, version, data.
		var v struct {
			Vendor  string
			Version uint32
			Data    dbus.Variant
		}
		if err := dbus.Store([]any{rd.Value()}, &v); err == nil {
			restore, _ = v.Data.Value().(string)
		}
	}
	i.f.mu.Lock()
	i.f.persist, i.f.restore = persist, restore
	i.f.mu.Unlock()
	i.f.record(m, "SelectDevices types=%d persist=%d restore=%q", types, persist, restore)
	return 0, vardict{}, nil
}

func (i fakeImpl) Start(m dbus.Message, handle, session dbus.ObjectPath, app, parent string, opts vardict) (uint32, vardict, *dbus.Error) {
	f := i.f
	f.conn.Export(fakeRequest{f}, handle, "org.freedesktop.impl.portal.Request")
	f.mu.Lock()
	hang := f.hang
	f.mu.Unlock()
	if hang != nil {
		<-hang
		return 2, vardict{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.restore == "" || !f.issued[f.restore] {
		f.asked++
		f.calls = append(f.calls, fakeCall{m.Serial(), "Start asked the user"})
		if f.decline {
			return 1, vardict{}, nil
		}
	} else {
		f.calls = append(f.calls, fakeCall{m.Serial(), "Start restored " + f.restore})
	}
	grant := f.grant
	if grant == 0 {
		grant = devKeyboard | devPointer
	}
	res := vardict{"devices": dbus.MakeVariant(grant)}
	if f.persist != 0 {
		data := fmt.Sprintf("grant-%d", len(f.issued)+1)
		f.issued[data] = true
		res["persist_mode"] = dbus.MakeVariant(f.persist)
		res["restore_data"] = dbus.MakeVariant(struct {
			Vendor  string
			Version uint32
			Data    dbus.Variant
		}{"mfdfake", 1, dbus.MakeVariant(data)})
	}
	return 0, res, nil
}

func (i fakeImpl) NotifyPointerMotion(m dbus.Message, s dbus.ObjectPath, o vardict, dx, dy float64) *dbus.Error {
	i.f.record(m, "motion %g %g", dx, dy)
	return nil
}

func (i fakeImpl) NotifyPointerMotionAbsolute(m dbus.Message, s dbus.ObjectPath, o vardict, stream uint32, x, y float64) *dbus.Error {
	i.f.record(m, "motion-abs %d %g %g", stream, x, y)
	return nil
}

func (i fakeImpl) NotifyPointerButton(m dbus.Message, s dbus.ObjectPath, o vardict, button int32, state uint32) *dbus.Error {
	i.f.record(m, "button %#x %s", button, upDown(state))
	return nil
}

func (i fakeImpl) NotifyPointerAxis(m dbus.Message, s dbus.ObjectPath, o vardict, dx, dy float64) *dbus.Error {
	i.f.record(m, "axis-smooth %g %g", dx, dy)
	return nil
}

func (i fakeImpl) NotifyPointerAxisDiscrete(m dbus.Message, s dbus.ObjectPath, o vardict, axis uint32, steps int32) *dbus.Error {
	i.f.record(m, "axis %d %d", axis, steps)
	return nil
}

func (i fakeImpl) NotifyKeyboardKeycode(m dbus.Message, s dbus.ObjectPath, o vardict, code int32, state uint32) *dbus.Error {
	i.f.record(m, "keycode %d %s", code, upDown(state))
	return nil
}

func (i fakeImpl) NotifyKeyboardKeysym(m dbus.Message, s dbus.ObjectPath, o vardict, sym int32, state uint32) *dbus.Error {
	i.f.record(m, "keysym %#x %s", sym, upDown(state))
	return nil
}

func upDown(state uint32) string {
	if state == 1 {
		return "down"
	}
	return "up"
}

// fakeSession is the backend's side of a session: the frontend closes it
// when the client does.
type fakeSession struct{ f *fakeBackend }

func (s fakeSession) Close(m dbus.Message) *dbus.Error {
	s.f.record(m, "SessionClose")
	return nil
}

// fakeRequest is the backend's side of a request: the frontend closes it
// when the client gives up, which takes the dialog down.
type fakeRequest struct{ f *fakeBackend }

func (r fakeRequest) Close(m dbus.Message) *dbus.Error {
	r.f.record(m, "RequestClose")
	return nil
}
