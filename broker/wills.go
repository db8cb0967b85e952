package broker

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
)

// voidWill is what OnWill hands back to mochi for a Will it must not
// send now: a topic no client can subscribe to ($-topics are refused),
// not retained, so mochi's immediate publish reaches no one.
var voidWill = mqtt.Will{TopicName: "$mfd/void-will"}

// willClientID is the inline client delayed Wills are published through.
const willClientID = "mfd-delayed-will"

// delayedWill is a Will waiting for its delay (MQTT 5 Will Delay
// Interval), held by the hook so that a reconnect or a revocation can
// cancel it.
type delayedWill struct {
	sub   ids.Subject
	will  mqtt.Will
	timer clock.Timer
}

// delayWillLocked sends will for client id after d unless it is cancelled
// first. h.mu must be held.
func (h *hook) delayWillLocked(id string, sub ids.Subject, will mqtt.Will, d time.Duration) {
	h.cancelWillLocked(id)
	w := &delayedWill{sub: sub, will: will}
	w.timer = h.b.clock.AfterFunc(d, func() { h.sendDelayedWill(id, w) })
	h.wills[id] = w
}

// cancelWillLocked drops client id's delayed Will, if any. h.mu must be
// held.
func (h *hook) cancelWillLocked(id string) {
	if w := h.wills[id]; w != nil {
		w.timer.Stop()
		delete(h.wills, id)
	}
}

// cancelWillsOfLocked drops every delayed Will of sub and returns how many
// there were. h.mu must be held.
func (h *hook) cancelWillsOfLocked(sub ids.Subject) int {
	n := 0
	for id, w := range h.wills {
		if w.sub == sub {
			w.timer.Stop()
			delete(h.wills, id)
			n++
		}
	}
	return n
}

// sendDelayedWill publishes w once its delay is over, if it is still the
// Will waiting for client id and its client has not been revoked since.
func (h *hook) sendDelayedWill(id string, w *delayedWill) {
	h.mu.Lock()
	if h.wills[id] != w {
		h.mu.Unlock()
		return
	}
	delete(h.wills, id)
	revoked := h.gen[w.sub] > 0
	h.mu.Unlock()
	if revoked {
		return
	}
	b := h.b
	b.mu.Lock()
	ok := b.started && !b.closed
	b.mu.Unlock()
	if !ok {
		return
	}
	err := b.server.InjectPacket(b.willClient, packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: w.will.Qos, Retain: w.will.Retain},
		PacketID:    1, // mochi wants one for QoS 1 or 2; an inline client gets no ack
		TopicName:   w.will.TopicName,
		Payload:     w.will.Payload,
		Properties:  packets.Properties{User: w.will.User},
	})
	if err != nil {
		b.log.Warn("publishing delayed will", "client", w.sub, "id", id, "error", err)
	}
}
