package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsServe is the whole product on one Windows PC, under Wine:
// `mfd.exe serve` answers /info, a panel pairs through the Windows
// `mfd.exe clients approve CODE` (the admin channel), and the server's own
// agent drives the window in front with every op; what is held when the
// server is interrupted (Ctrl+C) is released.
func TestWindowsServe(t *testing.T) {
	w, log := startWine(t)
	config := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(config, []byte(hostConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, withWine(w, winMfd), withConfig(config))
	if _, err := s.info(); err != nil {
		t.Fatalf("/info of mfd.exe serve: %v", err)
	}
	p := newPanel(t, s, "panel for mfd.exe")
	st := waitStatus(t, p.connect("/status"), "the Windows server's own host online", onlineWindows)
	if st.Screen.W != 1280 || st.Screen.H != 1024 {
		t.Errorf("status %v: want the 1280x1024 screen", st)
	}
	driveWindows(t, s, p, st.Host, log)

	p.do(st.Host, cmd("x1", "key.down", "key", "c"), "c-x1")
	log.Expect(t, "key.down c", keyLine("down", 0x43, 0x2e, 0), "char U+0063 c")
	s.stop()
	log.Expect(t, "c released when the server is interrupted", keyLine("up", 0x43, 0x2e, 0))
}
