package agent

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"github.com/openmfd/mfd/internal/wire"
)

// afterPress is how soon after a press of a toggle its probe runs a second
// time: the press's own effect (a program an exec step started, a key the
// desktop handles) may land a moment after the action's reply.
const afterPress = 500 * time.Millisecond

// config returns the host config in force.
func (a *Agent) config() *Config { return a.cfg.Load() }

// Config returns the host config in force and why the config file's last
// edit was refused ("" when it was not). The config must not be changed.
func (a *Agent) Config() (*Config, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.config(), a.cfgErr
}

// wireActions is the retained actions payload: the config's actions and
// pages, and why the file's last edit was refused, if it was.
func (a *Agent) wireActions() wire.Actions {
	w := a.config().wireActions()
	a.mu.Lock()
	w.ConfigError = a.cfgErr
	a.mu.Unlock()
	return w
}

// Reload puts cfg in force at once: panels get the new actions and pages,
// state probes restart, Home Assistant discovery is sent again and the
// state of actions that are no longer toggles is cleared. A press already
// running finishes with the config it started with. Reload is what a
// watcher of the config file calls after a good edit.
func (a *Agent) Reload(cfg *Config) {
	if cfg == nil {
		cfg = &Config{}
	}
	a.cfg.Store(cfg)
	a.mu.Lock()
	a.cfgErr = ""
	a.mu.Unlock()
	a.log.Info("config reloaded", "actions", len(cfg.Actions), "pages", len(cfg.Pages))
	if a.started.Load() {
		a.startProbes()
	}
	a.goSafely(a.republish)
}

// ConfigError says that the config file's last edit was refused and why:
// the last good config stays in force, and the reason goes to the log and,
// in the actions payload, to every panel. A nil err clears it.
func (a *Agent) ConfigError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
		a.log.Warn("the edited config file is not valid; keeping the last good config", "err", err)
	}
	a.mu.Lock()
	a.cfgErr = msg
	a.mu.Unlock()
	a.goSafely(a.republish)
}

// republish sends the actions payload and discovery after a change of
// config, and clears the retained state of actions that are no longer
// toggles.
func (a *Agent) republish() {
	a.pubMu.Lock()
	pub := a.pub
	a.pubMu.Unlock()
	if pub == nil {
		return // announce sends everything on connect
	}
	ctx, cancel := context.WithTimeout(a.ctx, 15*time.Second)
	defer cancel()
	if err := a.publishRetained(ctx, pub, wire.ActionsTopic(a.host), a.wireActions()); err != nil {
		a.log.Warn("publishing actions", "err", err)
	}
	cfg := a.config()
	a.mu.Lock()
	var gone []string
	for id := range a.states {
		if act, ok := cfg.action(id); !ok || act.State == nil {
			gone = append(gone, id)
			delete(a.states, id)
		}
	}
	a.mu.Unlock()
	for _, id := range gone {
		if err := a.publishRetained(ctx, pub, wire.StateTopic(a.host, id), []byte{}); err != nil {
			a.log.Warn("clearing a toggle's state", "action", id, "err", err)
		}
	}
	a.publishDiscovery(ctx, pub)
}

// probe is one toggle action's state probe: it runs on its own goroutine
// every Every, and again when kicked (after a press).
type probe struct {
	kick chan struct{}
}

// startProbes (re)starts a probe per toggle action of the config in force.
func (a *Agent) startProbes() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.probesStop != nil {
		a.probesStop()
	}
	if a.closing.Load() || a.ctx == nil {
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	a.probesStop = cancel
	a.probes = map[string]*probe{}
	if a.states == nil {
		a.states = map[string]string{}
	}
	for _, act := range a.config().Actions {
		if act.State == nil {
			continue
		}
		p := &probe{kick: make(chan struct{}, 1)}
		a.probes[act.ID] = p
		id, sp := act.ID, *act.State
		a.goroutines.Add(1)
		go func() {
			defer a.goroutines.Done()
			a.runProbe(ctx, id, sp, p)
		}()
	}
}

// probeNow asks action id's probe, if it has one, to look again now.
func (a *Agent) probeNow(id string) {
	a.mu.Lock()
	p := a.probes[id]
	a.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) runProbe(ctx context.Context, id string, sp StateProbe, p *probe) {
	wake := make(chan struct{}, 1)
	var lastErr string
	first := true
	next := sp.Every
	for {
		kicked := false
		if !first {
			t := a.clock.AfterFunc(next, func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-wake:
			case <-p.kick:
				t.Stop()
				kicked = true
			}
		}
		first = false
		on, err := runProbeExec(ctx, sp.Exec)
		next = sp.Every
		if kicked {
			next = min(afterPress, sp.Every)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Said once per new reason, not every few seconds.
			if err.Error() != lastErr {
				a.log.Warn("running a state probe", "action", id, "program", sp.Exec[0], "err", err)
				lastErr = err.Error()
			}
			continue
		}
		lastErr = ""
		a.setState(ctx, id, onOff(on))
	}
}

// runProbeExec runs argv and reports whether it exited 0. A program that
// ran and exited non-zero is "off"; one that could not run, or outlived
// probeTimeout, is an error.
func runProbeExec(ctx context.Context, argv []string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, errors.New("the probe took longer than " + probeTimeout.String())
	case errors.As(err, &ee) && ee.Exited():
		return false, nil
	default:
		return false, err
	}
}

// setState records action id's state and publishes it when it changed.
func (a *Agent) setState(ctx context.Context, id, st string) {
	a.mu.Lock()
	if a.states[id] == st {
		a.mu.Unlock()
		return
	}
	a.states[id] = st
	a.mu.Unlock()
	a.pubMu.Lock()
	pub := a.pub
	a.pubMu.Unlock()
	if pub == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.publishRetained(pctx, pub, wire.StateTopic(a.host, id), st); err != nil {
		// Kept in states: the next connect's announce sends it.
		a.log.Debug("publishing a toggle's state", "action", id, "err", err)
	}
}
