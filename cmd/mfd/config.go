package main

import (
	"bytes"
	"log/slog"
	"os"
	"time"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/internal/filewatch"
)

// configSettle is how long a config file's writes must have stopped before
// it is read again: an editor's save is several events, and a reload should
// follow an edit within a second.
const configSettle = 150 * time.Millisecond

// watchConfig reloads ag's config whenever the file at path changes. An
// edit that does not parse keeps the last good config: the reason goes to
// the log and, through ag, to the host's panels. The caller closes the
// returned watcher.
func watchConfig(log *slog.Logger, path string, ag *agent.Agent) (*filewatch.Watcher, error) {
	last, _ := os.ReadFile(path)
	return filewatch.Watch(path, configSettle, func() {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Equal(b, last) {
			return
		}
		cfg, err := agent.LoadConfig(path)
		if err != nil {
			ag.ConfigError(err)
			return
		}
		last = b
		ag.Reload(cfg)
	}, func(err error) {
		log.Warn("watching the config file", "path", path, "err", err)
	})
}
