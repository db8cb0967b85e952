package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/openmfd/mfd/server/admin"
)

func runStats(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := stateDirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("stats: unexpected argument %q", pos[0])}
	}
	ac, err := admin.Dial(*stateDir)
	if err != nil {
		return err
	}
	defer ac.Close()
	st, err := ac.Stats()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	// One line per figure, by its JSON name; the descriptor count only
	// where this OS has one.
	lines := []struct {
		name string
		v    uint64
		ok   bool
	}{
		{"goroutines", uint64(st.Goroutines), true},
		{"heap_alloc", st.HeapAlloc, true},
		{"heap_sys", st.HeapSys, true},
		{"mqtt_clients", uint64(st.MQTTClients), true},
		{"mqtt_queued_bytes_max", uint64(st.MQTTQueuedBytesMax), true},
		{"mqtt_retained", uint64(st.MQTTRetained), true},
		{"mqtt_sessions", uint64(st.MQTTSessions), true},
		{"mqtt_subscriptions", uint64(st.MQTTSubscriptions), true},
		{"open_fds", uint64(deref(st.OpenFDs)), st.OpenFDs != nil},
		{"open_handles", uint64(deref(st.OpenHandles)), st.OpenHandles != nil},
	}
	for _, l := range lines {
		if l.ok {
			fmt.Fprintf(stdout, "%-14s %d\n", l.name, l.v)
		}
	}
	return nil
}

// deref returns what p points to, or zero for nil.
func deref[T int | uint32](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}
