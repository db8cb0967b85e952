// Package authn is the seam between the auth service, which knows clients
// and signs tokens, and the broker, which checks every connection against
// it. Neither imports the other.
package authn

import (
	"errors"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// ErrBadCredentials means the username or token is malformed, forged,
// expired or for another subject: CONNACK 0x86 (v5) or 0x04 (3.1.1).
var ErrBadCredentials = errors.New("bad username or token")

// ErrNotAuthorized means the credentials are genuine but the client is not
// allowed in (revoked, denied, unknown): CONNACK 0x87 (v5) or 0x05 (3.1.1).
var ErrNotAuthorized = errors.New("client not authorised")

// Identity is who a verified token or credential speaks for.
type Identity struct {
	Sub  ids.Subject
	Role wire.Role
	Name string
	// Host is the agent's host ID; zero for other roles.
	Host ids.HostID
	// ExpiresAt is when the token stops being valid; zero for integration
	// credentials, which do not expire.
	ExpiresAt time.Time
	// IssuedAt is when the token was made; zero for integrations.
	IssuedAt time.Time
	// JTI is the token's unique ID.
	JTI string
}

// Authenticator checks credentials. Implementations are safe for
// concurrent use.
type Authenticator interface {
	// Authenticate checks an MQTT CONNECT's username and password. It
	// returns an error wrapping ErrBadCredentials or ErrNotAuthorized.
	Authenticate(username, password string) (Identity, error)
	// Reissue returns a fresh token for sub, or ErrNotAuthorized if the
	// client is no longer approved. Integrations, whose credentials do not
	// expire, get ErrNotAuthorized too.
	Reissue(sub ids.Subject) (wire.TokenMsg, error)
}

// Revoker ends every live session of a subject at once. The broker
// implements it; the auth service calls it when a client is revoked.
type Revoker interface {
	Revoke(sub ids.Subject)
}
