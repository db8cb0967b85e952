package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/openmfd/mfd/internal/wire"
)

func (a *Agent) haPrefix() string {
	if p := a.config().HomeAssistant.Prefix; p != "" {
		return p
	}
	return wire.HAPrefix
}

// haMessage is one retained discovery publish; an empty payload removes
// the entity.
type haMessage struct {
	Topic   string
	Payload []byte
}

// discovery returns the discovery documents for this host: a button per
// action, a binary sensor per toggle action (its state probe), the remote
// input switch and the press event.
func (a *Agent) discovery() []haMessage {
	p := a.haPrefix()
	dev := wire.HADevice{
		Identifiers:  []string{a.host.String()},
		Name:         a.name,
		Manufacturer: "mfd",
		Model:        "mfd agent (" + a.inj.Backend() + ")",
		SWVersion:    a.opts.Version,
	}
	avail := []wire.HAAvailability{{Topic: wire.StatusTopic(a.host), ValueTemplate: wire.HAAvailabilityTemplate}}
	var out []haMessage
	add := func(component, object string, e wire.HAEntity) {
		e.Device, e.Availability = dev, avail
		b, _ := json.Marshal(e)
		out = append(out, haMessage{Topic: wire.DiscoveryTopic(p, component, a.host, object), Payload: b})
	}
	for _, act := range a.config().Actions {
		e := wire.HAActionButton(a.host, act.ID, act.Label)
		if strings.HasPrefix(act.Icon, "mdi:") {
			e.Icon = act.Icon
		}
		add(wire.HAButton, act.ID, e)
		if act.State != nil {
			s := wire.HAActionState(a.host, act.ID, act.Label)
			s.Icon = e.Icon
			add(wire.HABinarySensor, act.ID, s)
		}
	}
	add(wire.HASwitch, wire.HASwitchObject, wire.HAInputSwitch(a.host))
	add(wire.HAEvent, wire.HAEventObject, wire.HAPressEvent(a.host))
	return out
}

// publishDiscovery sends the discovery documents and removes the buttons
// of actions that left the config since the last run (known from the
// state dir).
func (a *Agent) publishDiscovery(ctx context.Context, pub publisher) {
	if a.config().HomeAssistant.Disabled {
		return
	}
	prev, err := loadHAState(a.opts.StateDir)
	if err != nil {
		a.log.Warn("reading what discovery published before", "err", err)
	}
	cfg := a.config()
	now := make([]string, 0, len(cfg.Actions))
	var toggles []string
	for _, act := range cfg.Actions {
		now = append(now, act.ID)
		if act.State != nil {
			toggles = append(toggles, act.ID)
		}
	}
	msgs := a.discovery()
	if prev.Prefix == a.haPrefix() || prev.Prefix == "" {
		for _, id := range prev.Actions {
			if !slices.Contains(now, id) {
				msgs = append(msgs, haMessage{Topic: wire.DiscoveryTopic(a.haPrefix(), wire.HAButton, a.host, id)})
			}
		}
		for _, id := range prev.Toggles {
			if !slices.Contains(toggles, id) {
				msgs = append(msgs, haMessage{Topic: wire.DiscoveryTopic(a.haPrefix(), wire.HABinarySensor, a.host, id)})
			}
		}
	}
	for _, m := range msgs {
		if err := a.publishRetained(ctx, pub, m.Topic, m.Payload); err != nil {
			a.log.Warn("publishing discovery", "err", err)
			return
		}
	}
	if prev.Prefix == a.haPrefix() && slices.Equal(prev.Actions, now) && slices.Equal(prev.Toggles, toggles) {
		return // the file says so already
	}
	if err := saveHAState(a.opts.StateDir, haState{Prefix: a.haPrefix(), Actions: now, Toggles: toggles}); err != nil {
		a.log.Warn("saving what discovery published", "err", err)
	}
}

// rediscoverEvery is the least time between two answers to Home
// Assistant's birth message: every integration may publish "online", and
// each answer is a retained publish per discovery document.
const rediscoverEvery = 5 * time.Second

// haOnline answers Home Assistant's birth message: at once if the last
// answer is rediscoverEvery old, else once when it is, however many came
// meanwhile. a.mu guards the state.
func (a *Agent) haOnline() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.haTimer != nil || a.closing.Load() {
		return // an answer is already due
	}
	now := a.clock.Now()
	wait := a.haLast.Add(rediscoverEvery).Sub(now)
	if a.haLast.IsZero() || wait <= 0 {
		a.haLast = now
		a.goLocked(a.rediscover)
		return
	}
	a.haTimer = a.clock.AfterFunc(wait, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.haTimer = nil
		a.haLast = a.clock.Now()
		if !a.closing.Load() {
			a.goLocked(a.rediscover)
		}
	})
}

// rediscover answers Home Assistant's birth message.
func (a *Agent) rediscover() {
	a.pubMu.Lock()
	pub := a.pub
	a.pubMu.Unlock()
	if pub == nil {
		return
	}
	base := a.ctx
	if base == nil { // not started: tests that drive the worker alone
		base = context.Background()
	}
	ctx, cancel := context.WithTimeout(base, 15*time.Second)
	defer cancel()
	a.log.Info("home assistant came online; sending discovery again")
	a.publishDiscovery(ctx, pub)
}
