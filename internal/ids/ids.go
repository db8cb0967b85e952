// Package ids defines the typed identifiers of the wire contract: the server
// ID, a host ID, a client's secret key and the public subject the server
// gives an approved client. Each is parsed at the edge (HTTP body, MQTT
// username, topic level) and passed around typed, never as a raw string.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"
)

// ErrNotUUIDv4 is returned when a value is not a canonical UUID version 4.
var ErrNotUUIDv4 = errors.New("not a UUID v4")

// ErrBadSubject is returned when a subject is empty, too long or holds a
// character that is not URL- and topic-safe.
var ErrBadSubject = errors.New("not a valid subject")

func parseV4(s string) (uuid.UUID, error) {
	// uuid.Parse also takes braces, URNs and missing dashes; the contract
	// wants the canonical 36-character form only.
	if len(s) != 36 {
		return uuid.UUID{}, ErrNotUUIDv4
	}
	u, err := uuid.Parse(s)
	if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return uuid.UUID{}, ErrNotUUIDv4
	}
	return u, nil
}

// ServerID identifies a server. It is made on first start and never changes.
// The zero value is not a valid ID.
type ServerID uuid.UUID

// NewServerID returns a fresh random server ID.
func NewServerID() ServerID { return ServerID(uuid.New()) }

// ParseServerID parses a canonical UUID v4.
func ParseServerID(s string) (ServerID, error) {
	u, err := parseV4(s)
	return ServerID(u), err
}

func (id ServerID) String() string               { return uuid.UUID(id).String() }
func (id ServerID) IsZero() bool                 { return id == ServerID{} }
func (id ServerID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }
func (id ServerID) LogValue() slog.Value         { return slog.StringValue(id.String()[:8]) }
func (id *ServerID) UnmarshalText(b []byte) error {
	v, err := ParseServerID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// HostID identifies a host whose keyboard and mouse an agent drives.
type HostID uuid.UUID

// NewHostID returns a fresh random host ID.
func NewHostID() HostID { return HostID(uuid.New()) }

// ParseHostID parses a canonical UUID v4.
func ParseHostID(s string) (HostID, error) {
	u, err := parseV4(s)
	return HostID(u), err
}

func (id HostID) String() string               { return uuid.UUID(id).String() }
func (id HostID) IsZero() bool                 { return id == HostID{} }
func (id HostID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }
func (id HostID) LogValue() slog.Value         { return slog.StringValue(id.Short()) }

// Short returns the first 8 hex digits of the host ID: how logs, `mfd
// clients list` and the panel tell hosts of one name apart.
func (id HostID) Short() string { return id.String()[:8] }
func (id *HostID) UnmarshalText(b []byte) error {
	v, err := ParseHostID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ClientKey is a client's own UUID v4, a secret that only ever travels in
// POST /authorise. It has no String method on purpose: use Hash to store or
// compare it. Formatting it with %v prints a redaction.
type ClientKey struct{ u uuid.UUID }

// NewClientKey returns a fresh random client key.
func NewClientKey() ClientKey { return ClientKey{uuid.New()} }

// ParseClientKey parses a canonical UUID v4.
func ParseClientKey(s string) (ClientKey, error) {
	u, err := parseV4(s)
	return ClientKey{u}, err
}

// Reveal returns the key's text, for the one place that must send it: the
// body of POST /authorise.
func (k ClientKey) Reveal() string { return k.u.String() }

// Hash returns the hex SHA-256 of the key's canonical text. A UUID v4 holds
// 122 random bits, so a fast hash cannot be brute-forced.
func (k ClientKey) Hash() string {
	sum := sha256.Sum256([]byte(k.u.String()))
	return hex.EncodeToString(sum[:])
}

func (k ClientKey) IsZero() bool               { return k.u == uuid.UUID{} }
func (k ClientKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[client key]")) }
func (k ClientKey) LogValue() slog.Value       { return slog.StringValue("[client key]") }
func (k *ClientKey) UnmarshalText(b []byte) error {
	v, err := ParseClientKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Subject is the public name the server gives an approved client: the MQTT
// username, a topic level, the token's sub claim. It is 1 to 64 characters
// of [a-z0-9_-] and never derived from the client key.
type Subject string

var subjectEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSubject returns a fresh random subject with the given short prefix,
// such as "p" for a panel.
func NewSubject(prefix string) Subject {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return Subject(prefix + "-" + subjectEnc.EncodeToString(b[:]))
}

// ParseSubject checks that s is a valid subject.
func ParseSubject(s string) (Subject, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", ErrBadSubject
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 'A' && c <= 'Z') {
			return "", ErrBadSubject
		}
	}
	return Subject(s), nil
}

func (s Subject) String() string { return string(s) }
func (s *Subject) UnmarshalText(b []byte) error {
	v, err := ParseSubject(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ShortHex returns the first n hex digits of a SHA-256 fingerprint, for
// log lines.
func ShortHex(h string, n int) string {
	if len(h) < n {
		return h
	}
	return strings.ToLower(h[:n])
}
