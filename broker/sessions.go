package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/openmfd/mfd/internal/ids"
)

// MaxKeptSessions caps, per subject, the sessions the broker keeps after
// their connection ends (MQTT 5 Session Expiry over 0, or a 3.1.1 clean
// session flag of 0). mochi keeps every such session until it expires
// (MaxSessionExpiry) and counts none against MaximumClients, so without a
// cap one approved client that connects under a fresh identifier each time
// would make the broker hold any number of them. Past the cap a new
// session is simply not kept: it ends with its connection. Resuming a
// session that is kept is never refused.
const MaxKeptSessions = 16

// keepsSession reports whether cl's session outlives its connection.
func keepsSession(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

// capKeptSessions makes cl's session end with its connection when sub
// already has MaxKeptSessions other sessions that are, or will be, kept.
// The count is approximate under concurrent CONNECTs, which is enough to
// bound it.
func (b *Broker) capKeptSessions(cl *mqtt.Client, sub ids.Subject) {
	if !keepsSession(cl) {
		return
	}
	n := 0
	for id, other := range b.server.Clients.GetAll() {
		if other == cl || id == cl.ID || other.Net.Inline || subOfClientID(id) != sub {
			continue
		}
		if keepsSession(other) {
			n++
		}
	}
	if n < MaxKeptSessions {
		return
	}
	cl.Properties.Props.SessionExpiryInterval = 0
	cl.Properties.Props.SessionExpiryIntervalFlag = false
	cl.Properties.Clean = true
	b.log.Info("mqtt session will not be kept: its client keeps too many", "client", sub, "id", cl.ID, "kept", n)
}
