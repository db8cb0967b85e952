package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"

	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/broker"
)

// serverStats are the figures `mfd stats` prints: what a soak test compares
// before and after, and what an operator looks at when the server seems to
// grow. The heap is measured after a collection, so it counts live memory.
func serverStats(br *broker.Broker) map[string]any {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := map[string]any{
		"goroutines": runtime.NumGoroutine(),
		"heap_alloc": ms.HeapAlloc,
		"heap_sys":   ms.HeapSys,
	}
	addOpenFiles(st)
	if br != nil {
		st["mqtt_clients"] = br.ClientCount()
		st["mqtt_sessions"] = br.SessionCount()
		st["mqtt_subscriptions"] = br.SubscriptionCount()
		st["mqtt_retained"] = br.RetainedCount()
		st["mqtt_queued_bytes_max"] = br.QueuedBytes()
	}
	return st
}

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
	ac, err := authsvc.DialAdmin(*stateDir)
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
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if f, ok := st[k].(float64); ok {
			fmt.Fprintf(stdout, "%-14s %.0f\n", k, f)
			continue
		}
		fmt.Fprintf(stdout, "%-14s %v\n", k, st[k])
	}
	return nil
}
