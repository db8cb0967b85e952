package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/openmfd/mfd/internal/wire"
)

const defaultHAPrefix = "homeassistant"

// haAvailabilityTemplate maps the status payload to Home Assistant's
// online/offline.
const haAvailabilityTemplate = "{{ 'online' if value_json.online else 'offline' }}"

func (a *Agent) haPrefix() string {
	if p := a.config().HomeAssistant.Prefix; p != "" {
		return p
	}
	return defaultHAPrefix
}

// haNode is the discovery node ID of this host: one device per host.
func (a *Agent) haNode() string { return "mfd-" + a.host.String() }

type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

type haAvailability struct {
	Topic         string `json:"topic"`
	ValueTemplate string `json:"value_template"`
}

// haEntity is one discovery document; fields unused by a component stay
// empty.
type haEntity struct {
	Name          string           `json:"name"`
	UniqueID      string           `json:"unique_id"`
	ObjectID      string           `json:"object_id,omitempty"`
	Icon          string           `json:"icon,omitempty"`
	CommandTopic  string           `json:"command_topic,omitempty"`
	PayloadPress  string           `json:"payload_press,omitempty"`
	StateTopic    string           `json:"state_topic,omitempty"`
	PayloadOn     string           `json:"payload_on,omitempty"`
	PayloadOff    string           `json:"payload_off,omitempty"`
	StateOn       string           `json:"state_on,omitempty"`
	StateOff      string           `json:"state_off,omitempty"`
	EventTypes    []string         `json:"event_types,omitempty"`
	Availability  []haAvailability `json:"availability"`
	Device        haDevice         `json:"device"`
	Origin        map[string]any   `json:"origin,omitempty"`
	EntityCat     string           `json:"entity_category,omitempty"`
	Retain        *bool            `json:"retain,omitempty"`
	QoS           int              `json:"qos"`
	ValueTemplate string           `json:"value_template,omitempty"`
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
	p, node, host := a.haPrefix(), a.haNode(), a.host.String()
	dev := haDevice{
		Identifiers:  []string{host},
		Name:         a.name,
		Manufacturer: "mfd",
		Model:        "mfd agent (" + a.inj.Backend() + ")",
		SWVersion:    a.opts.Version,
	}
	avail := []haAvailability{{Topic: wire.StatusTopic(a.host), ValueTemplate: haAvailabilityTemplate}}
	var out []haMessage
	add := func(component, object string, e haEntity) {
		e.Device, e.Availability = dev, avail
		b, _ := json.Marshal(e)
		out = append(out, haMessage{Topic: p + "/" + component + "/" + node + "/" + object + "/config", Payload: b})
	}
	for _, act := range a.config().Actions {
		e := haEntity{
			Name:         act.Label,
			UniqueID:     node + "-action-" + act.ID,
			CommandTopic: wire.PressTopic(a.host, act.ID),
			PayloadPress: "PRESS",
			QoS:          1,
		}
		if strings.HasPrefix(act.Icon, "mdi:") {
			e.Icon = act.Icon
		}
		add("button", act.ID, e)
		if act.State != nil {
			s := haEntity{
				Name:       act.Label,
				UniqueID:   node + "-state-" + act.ID,
				StateTopic: wire.StateTopic(a.host, act.ID),
				PayloadOn:  "ON",
				PayloadOff: "OFF",
				QoS:        1,
			}
			if strings.HasPrefix(act.Icon, "mdi:") {
				s.Icon = act.Icon
			}
			add("binary_sensor", act.ID, s)
		}
	}
	add("switch", "input", haEntity{
		Name:         "Remote input",
		UniqueID:     node + "-input",
		Icon:         "mdi:keyboard",
		CommandTopic: wire.InputSetTopic(a.host),
		StateTopic:   wire.InputTopic(a.host),
		PayloadOn:    "ON",
		PayloadOff:   "OFF",
		StateOn:      "ON",
		StateOff:     "OFF",
		QoS:          1,
	})
	add("event", "press", haEntity{
		Name:       "Press",
		UniqueID:   node + "-press",
		StateTopic: wire.EventsTopic(a.host),
		EventTypes: []string{"press"},
		QoS:        0,
	})
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
				msgs = append(msgs, haMessage{Topic: a.haPrefix() + "/button/" + a.haNode() + "/" + id + "/config"})
			}
		}
		for _, id := range prev.Toggles {
			if !slices.Contains(toggles, id) {
				msgs = append(msgs, haMessage{Topic: a.haPrefix() + "/binary_sensor/" + a.haNode() + "/" + id + "/config"})
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
