package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/internal/wire"
)

// longAgo is a time no file written by a test has as its mtime.
var longAgo = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// ageFile sets path's mtime to longAgo, so that unchanged shows it was not
// written since (atomicfile makes a new file each time).
func ageFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Chtimes(path, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
}

func unchanged(t *testing.T, path string) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().Equal(longAgo)
}

// TestRediscoveryDebounced is issue 11's case 5 in the agent: a flood of
// Home Assistant birth messages brings discovery at once, then at most once
// per rediscoverEvery, and never rewrites the state file.
func TestRediscoveryDebounced(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{Actions: []Action{{ID: "mute-mic", Label: "Mute mic"}}}
	ta := newTestAgent(t, func(o *Options) { o.Config = cfg; o.StateDir = dir })
	ta.publishDiscovery(t.Context(), ta.rec)
	state := filepath.Join(dir, haStateFile)
	ageFile(t, state)
	sw := "homeassistant/switch/mfd-" + testHost.String() + "/input/config"
	sent := func(want int) {
		t.Helper()
		checkFor(t, 5*time.Second, time.Millisecond, func() error {
			if n := len(ta.rec.on(sw)); n != want {
				return fmt.Errorf("discovery sent %d times, want %d", n, want)
			}
			return nil
		})
	}
	flood := func(n int) {
		for range n {
			ta.onPublish(&paho.Publish{Topic: "homeassistant/status", Payload: []byte("online")})
		}
	}
	sent(1)
	flood(1000)
	sent(2) // the first birth message is answered at once
	ta.clk.Advance(rediscoverEvery - time.Millisecond)
	flood(1000)
	ta.clk.Advance(time.Millisecond)
	sent(3) // the ones since, once, when rediscoverEvery has passed
	ta.clk.Advance(time.Minute)
	ta.sync()
	sent(3) // nothing more came: nothing more is sent
	flood(1)
	sent(4)
	if !unchanged(t, state) {
		t.Errorf("%s was rewritten though what it says did not change", haStateFile)
	}
}

// TestInputSetUnchangedWritesNothing: an input/set that changes nothing
// neither rewrites the state file nor republishes the state.
func TestInputSetUnchangedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	ta := newTestAgent(t, func(o *Options) { o.StateDir = dir })
	set := func(v string) {
		ta.onPublish(&paho.Publish{Topic: wire.InputSetTopic(testHost), Payload: []byte(v)})
		ta.sync()
	}
	set("OFF")
	state := filepath.Join(dir, inputFile)
	ageFile(t, state)
	for range 100 {
		set("OFF")
	}
	if n := len(ta.rec.on(wire.InputTopic(testHost))); n != 1 {
		t.Errorf("%d publishes of the input state for one change, want 1", n)
	}
	if !unchanged(t, state) {
		t.Errorf("%s was rewritten though input stayed off", inputFile)
	}
	set("ON")
	if n := len(ta.rec.on(wire.InputTopic(testHost))); n != 2 {
		t.Errorf("%d publishes of the input state after switching on, want 2", n)
	}
}
