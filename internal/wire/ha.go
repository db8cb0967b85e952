package wire

import "github.com/openmfd/mfd/internal/ids"

// Home Assistant MQTT discovery, as topics.md describes it: each host's
// agent publishes retained documents at
// {prefix}/{component}/{node}/{object}/config, one device per host.

// HAPrefix is Home Assistant's default discovery prefix, the only one the
// embedded broker admits.
const HAPrefix = "homeassistant"

// HAStatusTopic is where Home Assistant announces itself (its birth message
// and last will) under HAPrefix.
const HAStatusTopic = HAPrefix + "/status"

// HAAvailabilityTemplate maps a host's status payload to Home Assistant's
// online/offline.
const HAAvailabilityTemplate = "{{ 'online' if value_json.online else 'offline' }}"

// The discovery components and object IDs an agent publishes: a button per
// action, a binary sensor per toggle action (object ID: the action's ID),
// the remote input switch and the press event.
const (
	HAButton       = "button"
	HABinarySensor = "binary_sensor"
	HASwitch       = "switch"
	HAEvent        = "event"

	HASwitchObject = "input"
	HAEventObject  = "press"
)

// HANode is the discovery node ID of host's device. The agent publishes
// under it and the broker's topic table lets an agent write only its own.
func HANode(host ids.HostID) string { return "mfd-" + host.String() }

// DiscoveryTopic is where the document of host's entity object of
// component lives under prefix.
func DiscoveryTopic(prefix, component string, host ids.HostID, object string) string {
	return prefix + "/" + component + "/" + HANode(host) + "/" + object + "/config"
}

// HADevice is the device every entity of one host belongs to.
type HADevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// HAAvailability tells Home Assistant where an entity's availability is.
type HAAvailability struct {
	Topic         string `json:"topic"`
	ValueTemplate string `json:"value_template"`
}

// HAEntity is one discovery document; fields a component does not use stay
// empty.
type HAEntity struct {
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
	Availability  []HAAvailability `json:"availability"`
	Device        HADevice         `json:"device"`
	Origin        map[string]any   `json:"origin,omitempty"`
	EntityCat     string           `json:"entity_category,omitempty"`
	Retain        *bool            `json:"retain,omitempty"`
	QoS           int              `json:"qos"`
	ValueTemplate string           `json:"value_template,omitempty"`
}

// HAInputSwitch is the document of host's remote input switch.
func HAInputSwitch(host ids.HostID) HAEntity {
	return HAEntity{
		Name:         "Remote input",
		UniqueID:     HANode(host) + "-input",
		Icon:         "mdi:keyboard",
		CommandTopic: InputSetTopic(host),
		StateTopic:   InputTopic(host),
		PayloadOn:    "ON",
		PayloadOff:   "OFF",
		StateOn:      "ON",
		StateOff:     "OFF",
		QoS:          1,
	}
}

// HAPressEvent is the document of host's press event.
func HAPressEvent(host ids.HostID) HAEntity {
	return HAEntity{
		Name:       "Press",
		UniqueID:   HANode(host) + "-press",
		StateTopic: EventsTopic(host),
		EventTypes: []string{"press"},
	}
}

// HAActionButton is the document of the button that presses host's action
// id, labelled label.
func HAActionButton(host ids.HostID, id, label string) HAEntity {
	return HAEntity{
		Name:         label,
		UniqueID:     HANode(host) + "-action-" + id,
		CommandTopic: PressTopic(host, id),
		PayloadPress: "PRESS",
		QoS:          1,
	}
}

// HAActionState is the document of the binary sensor that shows the state
// of host's toggle action id (its state probe's last result), labelled
// label.
func HAActionState(host ids.HostID, id, label string) HAEntity {
	return HAEntity{
		Name:       label,
		UniqueID:   HANode(host) + "-state-" + id,
		StateTopic: StateTopic(host, id),
		PayloadOn:  "ON",
		PayloadOff: "OFF",
		QoS:        1,
	}
}
