package wire

import (
	"time"

	"github.com/openmfd/mfd/internal/ids"
)

// API is the contract version served in /info.
const API = 1

// MaxCommandSize is the largest command payload an agent accepts.
const MaxCommandSize = 16 << 10

// MaxTextRunes is the most characters one text.type may carry.
const MaxTextRunes = 4096

// Info is the body of GET /info.
type Info struct {
	ServerID       ids.ServerID `json:"server_id"`
	Name           string       `json:"name"`
	Version        string       `json:"version"`
	API            int          `json:"api"`
	TLSFingerprint string       `json:"tls_fingerprint_sha256"`
	// CAFingerprint is the SHA-256 of the local CA that signed the
	// server's certificate, when the server made it (GET /ca.crt).
	CAFingerprint string `json:"tls_ca_fingerprint_sha256,omitempty"`
	MQTTPath      string `json:"mqtt_path"`
}

// AuthoriseRequest is the body of POST /authorise. ClientID is the client
// key (kept as text here; authsvc parses it into an ids.ClientKey).
type AuthoriseRequest struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Role     Role   `json:"role,omitempty"`
	HostID   string `json:"host_id,omitempty"`
}

// Authorised is the 200 body of POST /authorise.
type Authorised struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
	Sub       ids.Subject  `json:"sub"`
	Role      Role         `json:"role"`
	ServerID  ids.ServerID `json:"server_id"`
	Topics    ClientTopics `json:"topics"`
}

// Pending is the 202 body of POST /authorise.
type Pending struct {
	Status      string `json:"status"`
	PairingCode string `json:"pairing_code"`
	RetryAfter  int    `json:"retry_after"`
}

// ErrorBody is every JSON error over HTTP, and the error inside a reply.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo is a machine code and a human message.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TokenMsg is published to a client's token topic.
type TokenMsg struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Presence is published to a client's presence topic.
type Presence struct {
	Online bool `json:"online"`
}

// Screen is a host's screen size in pixels.
type Screen struct {
	W int `json:"w"`
	H int `json:"h"`
}

// Status is a host's retained status; the Will carries only Host and
// Online false.
type Status struct {
	Host    ids.HostID `json:"host"`
	Name    string     `json:"name,omitempty"`
	Online  bool       `json:"online"`
	OS      string     `json:"os,omitempty"`
	Input   string     `json:"input,omitempty"`
	Version string     `json:"version,omitempty"`
	Screen  *Screen    `json:"screen,omitempty"`
	// Caps says what the input backend can do; absent from a Will.
	Caps *Caps `json:"caps,omitempty"`
}

// Caps is what a host's input backend can do (the status topic's "caps").
type Caps struct {
	Unicode    bool `json:"unicode"`
	PointerAbs bool `json:"pointer_abs"`
	Scroll     bool `json:"scroll"`
}

// Action is one entry of a host's retained action list.
type Action struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// Icon is "mdi:NAME" for a Material Design Icon, drawn by the panel.
	Icon string `json:"icon,omitempty"`
	// Color is the button's colour, "#rgb" or "#rrggbb".
	Color string `json:"color,omitempty"`
	// Toggle says the action has a state probe: its state is retained on
	// StateTopic and the button shows it.
	Toggle bool `json:"toggle,omitempty"`
}

// Page is a named, ordered page of a host's buttons.
type Page struct {
	Name    string   `json:"name"`
	Buttons []string `json:"buttons"`
}

// Actions is a host's retained action list.
type Actions struct {
	Actions []Action `json:"actions"`
	// Pages lay the actions out; absent means one page of every action.
	Pages []Page `json:"pages,omitempty"`
	// ConfigError says why the host's config file, as last edited, was
	// not taken: the actions are the last good config's.
	ConfigError string `json:"config_error,omitempty"`
}

// Event is published on a host's events topic when an action runs.
type Event struct {
	EventType string      `json:"event_type"`
	Action    string      `json:"action"`
	Sub       ids.Subject `json:"sub"`
}

// Command is a command on a cmd topic. Fields are pointers or raw where the
// agent must tell "absent" from "zero".
type Command struct {
	ID     string   `json:"id"`
	Op     string   `json:"op"`
	Key    string   `json:"key,omitempty"`
	Mods   []string `json:"mods,omitempty"`
	Text   string   `json:"text,omitempty"`
	X      *float64 `json:"x,omitempty"`
	Y      *float64 `json:"y,omitempty"`
	Rel    bool     `json:"rel,omitempty"`
	Button string   `json:"button,omitempty"`
	Count  int      `json:"count,omitempty"`
	DX     float64  `json:"dx,omitempty"`
	DY     float64  `json:"dy,omitempty"`
	Action string   `json:"action,omitempty"`
}

// The ops of the contract.
const (
	OpKeyTap       = "key.tap"
	OpKeyDown      = "key.down"
	OpKeyUp        = "key.up"
	OpTextType     = "text.type"
	OpMouseMove    = "mouse.move"
	OpMouseClick   = "mouse.click"
	OpMouseDown    = "mouse.down"
	OpMouseUp      = "mouse.up"
	OpMouseScroll  = "mouse.scroll"
	OpActionRun    = "action.run"
	OpActionCancel = "action.cancel"
	OpReleaseAll   = "release.all"
)

// Reply answers a command.
type Reply struct {
	ID    string     `json:"id"`
	OK    bool       `json:"ok"`
	Error *ErrorInfo `json:"error,omitempty"`
}

// The error codes of a reply.
const (
	CodeBadRequest    = "bad_request"
	CodeUnknownOp     = "unknown_op"
	CodeUnknownKey    = "unknown_key"
	CodeUnknownAction = "unknown_action"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeExpired       = "expired"
	CodeNoInput       = "no_input"
	CodeInputOff      = "input_off"
	CodeUnsupported   = "unsupported"
	CodeRefused       = "refused"
	CodeForbidden     = "forbidden"
	CodeInternal      = "internal"
	// CodeBusy refuses an action.run while that action is already running
	// (and its config does not allow overlap), or while too many actions run.
	CodeBusy = "busy"
	// CodeCancelled ends an action stopped by action.cancel, release.all,
	// remote input switched off or the agent closing.
	CodeCancelled = "cancelled"
)

// SubProperty is the MQTT 5 user property the broker stamps on every
// publish with the sender's subject (replacing any the client set).
const SubProperty = "mfd-sub"
