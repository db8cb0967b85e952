package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/winetest"
)

// The Windows builds the Wine tests run, made once per test binary.
var (
	winBuild     sync.Once
	winMfd       string // mfd.exe
	winInputLog  string // inputlog.exe
	winBuildFail string
)

// startWine starts (once) the test binary's Wine prefix, builds mfd.exe
// and inputlog.exe for it, and starts an inputlog with the focus.
func startWine(t *testing.T) (*winetest.Wine, *winetest.InputLog) {
	t.Helper()
	w := winetest.Start(t)
	winBuild.Do(func() {
		dir := filepath.Dir(mfdBin)
		r := &buildRecorder{T: t}
		func() {
			defer func() { recover() }()
			winMfd = winetest.BuildExe(r, dir, "./cmd/mfd")
			winInputLog = winetest.BuildInputLog(r, dir)
		}()
		winBuildFail = r.msg
	})
	if winBuildFail != "" {
		t.Fatal(winBuildFail)
	}
	return w, winetest.StartInputLog(t, w.Command(winInputLog))
}

// buildRecorder turns a build's Fatalf into a message kept for every
// test that needs the build, not only the first.
type buildRecorder struct {
	*testing.T
	msg string
}

func (r *buildRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

// startWineProc starts the Windows program exe with args under Wine; it
// is stopped when the test ends.
func startWineProc(t *testing.T, w *winetest.Wine, exe string, args ...string) *proc {
	t.Helper()
	return startProc(t, w.Env(), w.Loader(), append([]string{exe}, args...)...)
}

// onlineWindows matches an online host that drives Windows.
func onlineWindows(st hostStatus) bool {
	return st.Online && st.Input == "windows" && st.OS == "windows"
}

// Lines inputlog prints for keys, as the window sees them: the generic
// virtual key (VK_SHIFT for either Shift), the extended-key flag, the
// scan code.
func keyLine(dir string, vk, scan, ext int) string {
	return fmt.Sprintf("key%s vk=%#02x ext=%d scan=%#02x", dir, vk, ext, scan)
}

func keyTap(vk, scan, ext int, chars ...string) []string {
	out := []string{keyLine("down", vk, scan, ext)}
	out = append(out, chars...)
	return append(out, keyLine("up", vk, scan, ext))
}

// charPacket is what a character typed as a Unicode packet prints: a
// VK_PACKET down and up per UTF-16 unit (scan code: the unit's low
// byte) around one char line.
func charPacket(r rune) []string {
	units := []rune{r}
	if r > 0xffff {
		r -= 0x10000
		units = []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff}
		r += 0x10000
	}
	var down, up []string
	for _, u := range units {
		down = append(down, keyLine("down", 0xe7, int(u&0xff), 0))
		up = append(up, keyLine("up", 0xe7, int(u&0xff), 0))
	}
	return append(append(down, fmt.Sprintf("char U+%04X %c", r, r)), up...)
}

func lines(ls ...[]string) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

// driveWindows sends host, a Windows host with hostConfig's action, every
// op of topics.md as a panel and checks each in inputlog's window; last, a
// key held by a panel that vanishes is released.
func driveWindows(t *testing.T, s *server, p *panel, host string, log *winetest.InputLog) {
	t.Helper()
	const (
		shift = 0x10
		ctrl  = 0x11
	)
	p.do(host, cmd("w1", "key.tap", "key", "a"), "c-w1")
	log.Expect(t, "key.tap a", keyTap(0x41, 0x1e, 0, "char U+0061 a")...)
	p.do(host, cmd("w2", "key.tap", "key", "s", "mods", []string{"ctrl", "shift"}), "c-w2")
	log.Expect(t, "key.tap ctrl+shift+s",
		keyLine("down", ctrl, 0x1d, 0), keyLine("down", shift, 0x2a, 0), keyLine("down", 0x53, 0x1f, 0), "char U+0013",
		keyLine("up", 0x53, 0x1f, 0), keyLine("up", shift, 0x2a, 0), keyLine("up", ctrl, 0x1d, 0))
	p.do(host, cmd("w3", "text.type", "text", "hé€😀"), "c-w3")
	log.Expect(t, `text.type "hé€😀"`, lines(charPacket('h'), charPacket('é'), charPacket('€'), charPacket('😀'))...)
	p.do(host, cmd("w4", "text.type", "text", "\n\t"), "c-w4")
	p.do(host, cmd("w5", "key.tap", "key", "enter"), "c-w5")
	p.do(host, cmd("w6", "key.tap", "key", "num_enter"), "c-w6")
	log.Expect(t, `text.type "\n\t", enter, num_enter`, lines(
		keyTap(0x0d, 0x1c, 0, "char U+000D"), keyTap(0x09, 0x0f, 0, "char U+0009"),
		keyTap(0x0d, 0x1c, 0, "char U+000D"), keyTap(0x0d, 0x1c, 1, "char U+000D"))...)
	p.do(host, cmd("w7", "key.down", "key", "rshift"), "c-w7")
	p.do(host, cmd("w8", "key.tap", "key", "f5"), "c-w8")
	p.do(host, cmd("w9", "key.up", "key", "rshift"), "c-w9")
	log.Expect(t, "rshift held over f5", keyLine("down", shift, 0x36, 0), keyLine("down", 0x74, 0x3f, 0),
		keyLine("up", 0x74, 0x3f, 0), keyLine("up", shift, 0x36, 0))

	// The relative move first: under Wine, an absolute move warps the X
	// pointer, and the X server's late report of that warp can put the
	// pointer back after a relative move that followed. A small move:
	// larger ones go through pointer acceleration.
	p.do(host, cmd("m1", "mouse.move", "x", 4, "y", -5, "rel", true), "c-m1")
	log.ExpectCursor(t, "mouse.move by 4,-5", log.X+4, log.Y-5)
	p.do(host, cmd("m2", "mouse.move", "x", 100, "y", 120), "c-m2")
	log.ExpectCursor(t, "mouse.move to 100,120", 100, 120)
	p.do(host, cmd("m3", "mouse.click"), "c-m3")
	log.Expect(t, "mouse.click", "button down left", "button up left")
	// Elsewhere, or the first click would pair with the one before.
	p.do(host, cmd("m4", "mouse.move", "x", 300, "y", 200), "c-m4")
	log.ExpectCursor(t, "mouse.move to 300,200", 300, 200)
	p.do(host, cmd("m5", "mouse.click", "button", "left", "count", 2), "c-m5")
	log.Expect(t, "double click", "button down left", "button up left", "button dblclk left", "button up left")
	p.do(host, cmd("m6", "mouse.click", "button", "right"), "c-m6")
	p.do(host, cmd("m7", "mouse.down", "button", "middle"), "c-m7")
	p.do(host, cmd("m8", "mouse.up", "button", "middle"), "c-m8")
	log.Expect(t, "right click, middle down and up", "button down right", "button up right",
		"button down middle", "button up middle")
	p.do(host, cmd("m9", "mouse.scroll", "dx", 0, "dy", 2), "c-m9")
	p.do(host, cmd("m10", "mouse.scroll", "dx", -1, "dy", -1), "c-m10")
	log.Expect(t, "mouse.scroll down 2, then up and left", "wheel v -120", "wheel v -120", "wheel v 120", "wheel h -120")

	p.do(host, cmd("r1", "key.down", "key", "ctrl"), "c-r1")
	p.do(host, cmd("r2", "mouse.down"), "c-r2")
	log.Expect(t, "ctrl and the left button held", keyLine("down", ctrl, 0x1d, 0), "button down left")
	p.do(host, cmd("r3", "release.all"), "c-r3")
	log.ExpectAnyOrder(t, "release.all", keyLine("up", ctrl, 0x1d, 0), "button up left")

	// The host's one action (hostConfig): "yo", then Enter.
	p.do(host, cmd("a1", "action.run", "action", "greet"), "c-a1")
	log.Expect(t, "action.run greet", lines(charPacket('y'), charPacket('o'), keyTap(0x0d, 0x1c, 0, "char U+000D"))...)

	// A panel of its own: presence goes offline only when a client's
	// last session ends.
	q := newPanel(t, s, "vanishing panel")
	q.do(host, cmd("v1", "key.down", "key", "b"), "c-v1")
	log.Expect(t, "key.down b", keyLine("down", 0x42, 0x30, 0), "char U+0062 b")
	start := time.Now()
	q.rc.conn.Close() // no DISCONNECT: the socket just goes
	log.Expect(t, "the vanished panel's b released", keyLine("up", 0x42, 0x30, 0))
	// Past 2.5 s the 3 s lease let go, not the disconnect.
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("held b released %v after its panel vanished: by the 3 s lease, not on the disconnect", took)
	}
	for _, l := range log.Pending() {
		if !strings.HasPrefix(l, "cursor ") {
			t.Errorf("inputlog printed a line nobody sent: %q", l)
		}
	}
}

// TestWindowsAgent is the multi-host case of issue 10: `mfd.exe agent
// --server` under Wine against the Linux `mfd serve` pairs (approved with
// the Linux `mfd clients approve`), comes online with input windows, and
// drives the window in front with every op.
func TestWindowsAgent(t *testing.T) {
	s := startServer(t)
	w, log := startWine(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(config, []byte(hostConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := startWineProc(t, w, winMfd, "agent", "--server", "https://"+s.addr, "--state-dir", winetest.WinPath(dir),
		"--name", "windows host", "--config", winetest.WinPath(config))
	code := ag.waitOutput(`pairing code (\d{6})`, 30*time.Second)[1]
	if out, err := s.cli("clients", "approve", code); err != nil {
		t.Fatalf("mfd clients approve %s: %v\n%s", code, err, out)
	}
	host := ag.waitOutput(`agent for host ([0-9a-f-]{36}) running \(input: windows\)`, 30*time.Second)[1]
	p := newPanel(t, s, "panel for the windows host")
	st := waitStatus(t, p.connect("/status"), "the windows host online", func(st hostStatus) bool {
		return st.Host == host && onlineWindows(st)
	})
	if st.Name != "windows host" || st.Screen.W != 1280 || st.Screen.H != 1024 {
		t.Errorf("the windows host's status %v: want its name and the 1280x1024 screen", st)
	}
	if !strings.Contains(ag.out.String(), "running") {
		t.Fatalf("agent output:\n%s", ag.out)
	}
	driveWindows(t, s, p, host, log)

	// A key held and never repeated is let go by the 3 s lease.
	p.do(host, cmd("l1", "key.down", "key", "d"), "c-l1")
	log.Expect(t, "key.down d", keyLine("down", 0x44, 0x20, 0), "char U+0064 d")
	start := time.Now()
	log.Expect(t, "d released by the lease", keyLine("up", 0x44, 0x20, 0))
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("d released %v after its key.down, want about 3 s (the lease)", took)
	}

	// Stopping the agent (Ctrl+C) lets go of what it holds.
	p.do(host, cmd("l2", "key.down", "key", "e"), "c-l2")
	log.Expect(t, "key.down e", keyLine("down", 0x45, 0x12, 0), "char U+0065 e")
	ag.stop()
	log.Expect(t, "e released when the agent is interrupted", keyLine("up", 0x45, 0x12, 0))
}
