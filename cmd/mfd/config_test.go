package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/poll"
)

// TestWatchConfigReloadsAndKeepsTheLastGood edits a real file under a real
// agent: a good edit is taken, a broken one is refused with its line while
// the last good config stays, and a fix clears the error.
func TestWatchConfigReloadsAndKeepsTheLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("actions: [{id: a, steps: [{op: key.tap, key: a}]}]\n")
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Options{Host: ids.NewHostID(), Injector: input.Unavailable(), Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	w, err := watchConfig(slog.New(slog.DiscardHandler), path, ag)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	want := func(what string, ids []string, errPart string) {
		t.Helper()
		poll.Until(t, 5*time.Second, 10*time.Millisecond, func() error {
			c, cerr := ag.Config()
			var got []string
			for _, a := range c.Actions {
				got = append(got, a.ID)
			}
			if strings.Join(got, ",") != strings.Join(ids, ",") || (errPart == "") != (cerr == "") || !strings.Contains(cerr, errPart) {
				return fmt.Errorf("%s: actions %v, error %q; want %v and an error containing %q", what, got, cerr, ids, errPart)
			}
			return nil
		})
	}
	write("actions:\n  - {id: a, steps: [{op: key.tap, key: a}]}\n  - {id: b, steps: [{op: key.tap, key: b}]}\n")
	want("a good edit", []string{"a", "b"}, "")
	write("actions:\n  - {id: a, steps: [{op: key.tap, key: a}]}\nactoins: []\n")
	want("a broken edit", []string{"a", "b"}, `line 3: unknown field "actoins" (did you mean "actions"?)`)
	write("actions:\n  - {id: c, steps: [{op: key.tap, key: c}]}\n")
	want("the fix", []string{"c"}, "")
}
