package authsvc

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// MaxTokenLen is the longest token looked at; longer ones are refused
// before parsing.
const MaxTokenLen = 4 << 10

// Audience is the aud claim of every token.
const Audience = "mfd"

// Leeway is the clock skew tolerated when checking exp, nbf and iat.
const Leeway = 5 * time.Second

// claims are the contract's token claims. Audience is a single string
// (not an array) as brokers such as EMQX expect.
type claims struct {
	Issuer    string           `json:"iss"`
	Audience  string           `json:"aud"`
	Subject   string           `json:"sub"`
	Role      wire.Role        `json:"role"`
	Name      string           `json:"name"`
	Host      string           `json:"host,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	ID        string           `json:"jti"`
	// ACL is what the client may publish and subscribe to, for an external
	// broker (EMQX) that takes it from the token; the embedded broker
	// enforces the same table itself and ignores it.
	ACL []emqxRule `json:"acl,omitempty"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings{c.Audience}, nil }

func (s *Service) issuer() string { return "mfd:" + s.serverID.String() }

// issue signs a token for rec.
func (s *Service) issue(rec record) (wire.TokenMsg, error) {
	now := s.clock.Now().Truncate(time.Second)
	exp := now.Add(s.opts.TokenTTL)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return wire.TokenMsg{}, err
	}
	c := &claims{
		Issuer:    s.issuer(),
		Audience:  Audience,
		Subject:   string(rec.Sub),
		Role:      rec.Role,
		Name:      rec.Name,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	if rec.Role == wire.RoleAgent {
		c.Host = rec.host().String()
	}
	c.ACL = emqxACL(authn.Identity{Sub: rec.Sub, Role: rec.Role, Host: rec.host()})
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.signer.kid
	signed, err := t.SignedString(s.signer.priv)
	if err != nil {
		return wire.TokenMsg{}, fmt.Errorf("signing token: %w", err)
	}
	return wire.TokenMsg{Token: signed, ExpiresAt: exp}, nil
}

// verify checks a token's form, signature and claims (not the client
// store). Every failure wraps authn.ErrBadCredentials.
func (s *Service) verify(token string) (*claims, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token over %d bytes", authn.ErrBadCredentials, MaxTokenLen)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.issuer()),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.clock.Now),
	)
	c := new(claims)
	_, err := p.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" || kid != s.signer.kid {
			return nil, errors.New("unknown kid")
		}
		return &s.signer.priv.PublicKey, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", authn.ErrBadCredentials, err)
	}
	if c.NotBefore == nil || c.IssuedAt == nil || c.ID == "" {
		return nil, fmt.Errorf("%w: missing claim", authn.ErrBadCredentials)
	}
	if _, err := ids.ParseSubject(c.Subject); err != nil || !c.Role.Valid() || c.Role == wire.RoleIntegration {
		return nil, fmt.Errorf("%w: bad sub or role claim", authn.ErrBadCredentials)
	}
	return c, nil
}

// Authenticate checks an MQTT CONNECT's username and password: a token
// whose sub is username, or an integration's secret. Malformed, forged,
// expired or mismatched credentials wrap authn.ErrBadCredentials; genuine
// ones of a client that is not (or no longer) approved wrap
// authn.ErrNotAuthorized.
func (s *Service) Authenticate(username, password string) (authn.Identity, error) {
	sub, err := ids.ParseSubject(username)
	if err != nil {
		return authn.Identity{}, fmt.Errorf("%w: bad username", authn.ErrBadCredentials)
	}
	if len(password) > MaxTokenLen {
		return authn.Identity{}, fmt.Errorf("%w: password over %d bytes", authn.ErrBadCredentials, MaxTokenLen)
	}
	s.mu.Lock()
	rec := s.store.bySub[sub]
	isIntegration := rec != nil && rec.Role == wire.RoleIntegration
	var secretHash string
	if isIntegration {
		secretHash = rec.SecretHash
	}
	s.mu.Unlock()
	if isIntegration {
		if !secretMatches(password, secretHash) {
			return authn.Identity{}, fmt.Errorf("%w: wrong secret", authn.ErrBadCredentials)
		}
		return s.admit(sub, wire.RoleIntegration, ids.HostID{}, nil)
	}

	c, err := s.verify(password)
	if err != nil {
		return authn.Identity{}, err
	}
	if c.Subject != string(sub) {
		return authn.Identity{}, fmt.Errorf("%w: token is for another subject", authn.ErrBadCredentials)
	}
	var host ids.HostID
	if c.Role == wire.RoleAgent {
		if host, err = ids.ParseHostID(c.Host); err != nil {
			return authn.Identity{}, fmt.Errorf("%w: bad host claim", authn.ErrBadCredentials)
		}
	} else if c.Host != "" {
		return authn.Identity{}, fmt.Errorf("%w: host claim on a %s token", authn.ErrBadCredentials, c.Role)
	}
	return s.admit(sub, c.Role, host, c)
}

// admit checks the store: the client must exist, be approved and have the
// role and host the credential says.
func (s *Service) admit(sub ids.Subject, role wire.Role, host ids.HostID, c *claims) (authn.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.store.bySub[sub]
	if rec == nil {
		return authn.Identity{}, fmt.Errorf("%w: unknown client %s", authn.ErrNotAuthorized, sub)
	}
	if rec.State != StateApproved {
		return authn.Identity{}, fmt.Errorf("%w: client %s is %s", authn.ErrNotAuthorized, sub, rec.State)
	}
	if rec.Role != role || rec.host() != host {
		return authn.Identity{}, fmt.Errorf("%w: role or host does not match client %s", authn.ErrBadCredentials, sub)
	}
	if o := s.hostTakenLocked(rec.host(), sub); o != nil {
		return authn.Identity{}, fmt.Errorf("%w: host %s belongs to agent %s", authn.ErrNotAuthorized, host.Short(), o.Sub)
	}
	rec.LastSeen = s.clock.Now()
	s.seenDirty = true
	id := authn.Identity{Sub: sub, Role: role, Name: rec.Name, Host: host}
	if c != nil {
		id.ExpiresAt = c.ExpiresAt.Time
		id.IssuedAt = c.IssuedAt.Time
		id.JTI = c.ID
	}
	return id, nil
}

// Reissue returns a fresh token for an approved panel or agent.
// Integrations, whose secrets do not expire, and clients that are unknown
// or not approved get authn.ErrNotAuthorized.
func (s *Service) Reissue(sub ids.Subject) (wire.TokenMsg, error) {
	s.mu.Lock()
	rec := s.store.bySub[sub]
	if rec == nil || rec.State != StateApproved || rec.Role == wire.RoleIntegration || s.hostTakenLocked(rec.host(), sub) != nil {
		s.mu.Unlock()
		return wire.TokenMsg{}, fmt.Errorf("reissuing for %s: %w", sub, authn.ErrNotAuthorized)
	}
	cp := *rec
	s.mu.Unlock()
	return s.issue(cp)
}

// JWK is one public key of the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the body of GET /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public signing keys.
func (s *Service) JWKS() JWKS {
	k, err := jwkOf(&s.signer.priv.PublicKey, s.signer.kid)
	if err != nil {
		return JWKS{Keys: []JWK{}}
	}
	return JWKS{Keys: []JWK{k}}
}

func jwkOf(pub *ecdsa.PublicKey, kid string) (JWK, error) {
	ek, err := pub.ECDH()
	if err != nil {
		return JWK{}, err
	}
	b := ek.Bytes() // 0x04 || X || Y, each 32 bytes for P-256
	if len(b) != 65 || ek.Curve() != ecdh.P256() {
		return JWK{}, errors.New("not a P-256 key")
	}
	enc := base64.RawURLEncoding
	return JWK{Kty: "EC", Crv: "P-256", X: enc.EncodeToString(b[1:33]), Y: enc.EncodeToString(b[33:]),
		Kid: kid, Use: "sig", Alg: "ES256"}, nil
}
