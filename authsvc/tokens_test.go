package authsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// baseClaims are the claims a genuine token for sub would carry.
func baseClaims(s *Service, sub ids.Subject, role wire.Role, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  s.issuer(),
		"aud":  Audience,
		"sub":  string(sub),
		"role": string(role),
		"name": "test",
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(15 * time.Minute).Unix(),
		"jti":  "test-jti",
	}
}

// mint signs c with method and key, setting kid unless it is empty.
func mint(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

func TestAuthenticateTable(t *testing.T) {
	env := newTestService(t, nil)
	s := env.svc
	_, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	_, revokedSub := env.pair(t, wire.RolePanel, ids.HostID{})
	revokedTok := env.token(t, revokedSub)
	if _, err := s.Revoke(string(revokedSub)); err != nil {
		t.Fatal(err)
	}
	host := ids.NewHostID()
	_, agentSub := env.pair(t, wire.RoleAgent, host)

	now := env.clock.Now()
	priv, kid := s.signer.priv, s.signer.kid
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)

	with := func(f func(jwt.MapClaims)) jwt.MapClaims {
		c := baseClaims(s, sub, wire.RolePanel, now)
		f(c)
		return c
	}
	valid := env.token(t, sub)
	tampered := func() string {
		parts := strings.Split(valid, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		m["role"] = "agent"
		b, _ := json.Marshal(m)
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}()
	agentClaims := baseClaims(s, agentSub, wire.RoleAgent, now)
	agentClaims["host"] = host.String()
	wrongHost := baseClaims(s, agentSub, wire.RoleAgent, now)
	wrongHost["host"] = ids.NewHostID().String()

	tests := []struct {
		name     string
		user     string
		token    string
		wantErr  error
		advance  time.Duration
		wantRole wire.Role
	}{
		{"valid", string(sub), valid, nil, 0, wire.RolePanel},
		{"valid minted", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(jwt.MapClaims) {})), nil, 0, wire.RolePanel},
		{"valid agent", string(agentSub), mint(t, jwt.SigningMethodES256, priv, kid, agentClaims), nil, 0, wire.RoleAgent},
		{"agent wrong host", string(agentSub), mint(t, jwt.SigningMethodES256, priv, kid, wrongHost), authn.ErrBadCredentials, 0, ""},
		{"agent token without host", string(agentSub), mint(t, jwt.SigningMethodES256, priv, kid, baseClaims(s, agentSub, wire.RoleAgent, now)), authn.ErrBadCredentials, 0, ""},
		{"role claim differs from store", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["role"] = "agent"; c["host"] = host.String() })), authn.ErrBadCredentials, 0, ""},
		{"alg none", string(sub), mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, with(func(jwt.MapClaims) {})), authn.ErrBadCredentials, 0, ""},
		{"HS256 with public key", string(sub), mint(t, jwt.SigningMethodHS256, pubDER, kid, with(func(jwt.MapClaims) {})), authn.ErrBadCredentials, 0, ""},
		{"other ES256 key", string(sub), mint(t, jwt.SigningMethodES256, other, kid, with(func(jwt.MapClaims) {})), authn.ErrBadCredentials, 0, ""},
		{"tampered payload", string(sub), tampered, authn.ErrBadCredentials, 0, ""},
		{"expired", string(sub), valid, authn.ErrBadCredentials, 15*time.Minute + Leeway + time.Second, ""},
		{"within leeway", string(sub), valid, nil, 15*time.Minute + Leeway - time.Second, wire.RolePanel},
		{"not yet valid", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), authn.ErrBadCredentials, 0, ""},
		{"issued in the future", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })), authn.ErrBadCredentials, 0, ""},
		{"wrong iss", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["iss"] = "mfd:" + ids.NewServerID().String() })), authn.ErrBadCredentials, 0, ""},
		{"wrong aud", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["aud"] = "emqx" })), authn.ErrBadCredentials, 0, ""},
		{"unknown kid", string(sub), mint(t, jwt.SigningMethodES256, priv, "not-our-kid", with(func(jwt.MapClaims) {})), authn.ErrBadCredentials, 0, ""},
		{"no kid", string(sub), mint(t, jwt.SigningMethodES256, priv, "", with(func(jwt.MapClaims) {})), authn.ErrBadCredentials, 0, ""},
		{"missing exp", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { delete(c, "exp") })), authn.ErrBadCredentials, 0, ""},
		{"oversize", string(sub), mint(t, jwt.SigningMethodES256, priv, kid, with(func(c jwt.MapClaims) { c["name"] = strings.Repeat("x", MaxTokenLen) })), authn.ErrBadCredentials, 0, ""},
		{"username is not sub", string(revokedSub), valid, authn.ErrBadCredentials, 0, ""},
		{"username not a subject", "a/b", valid, authn.ErrBadCredentials, 0, ""},
		{"garbage", string(sub), "not.a.jwt", authn.ErrBadCredentials, 0, ""},
		{"empty", string(sub), "", authn.ErrBadCredentials, 0, ""},
		{"revoked client", string(revokedSub), revokedTok, authn.ErrNotAuthorized, 0, ""},
		{"unknown client", "p-unknown", mint(t, jwt.SigningMethodES256, priv, kid, baseClaims(s, "p-unknown", wire.RolePanel, now)), authn.ErrNotAuthorized, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(tt.advance)
			defer env.clock.Advance(-tt.advance)
			id, err := s.Authenticate(tt.user, tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Authenticate(%q, %s) = %v, want success", tt.user, tt.name, err)
				}
				if string(id.Sub) != tt.user || id.Role != tt.wantRole {
					t.Errorf("Authenticate(%q, %s) = %+v, want sub %s role %s", tt.user, tt.name, id, tt.user, tt.wantRole)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Authenticate(%q, %s) = %v, want %v", tt.user, tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestIssuedTokenClaims(t *testing.T) {
	env := newTestService(t, nil)
	host := ids.NewHostID()
	_, sub := env.pair(t, wire.RoleAgent, host)
	tok := env.token(t, sub)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var hdr, c map[string]any
	for i, dst := range []*map[string]any{&hdr, &c} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	if hdr["alg"] != "ES256" || hdr["kid"] != env.svc.signer.kid {
		t.Errorf("header = %v, want alg ES256 kid %s", hdr, env.svc.signer.kid)
	}
	for _, k := range []string{"iss", "aud", "sub", "role", "name", "iat", "nbf", "exp", "jti", "host"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %q missing from %v", k, c)
		}
	}
	if c["iss"] != "mfd:"+env.svc.ServerID().String() || c["aud"] != "mfd" || c["host"] != host.String() {
		t.Errorf("claims = %v", c)
	}
	exp := int64(c["exp"].(float64)) - int64(c["iat"].(float64))
	if exp != int64(DefaultTokenTTL/time.Second) {
		t.Errorf("lifetime = %ds, want %v", exp, DefaultTokenTTL)
	}
	id, err := env.svc.Authenticate(string(sub), tok)
	if err != nil || id.Host != host || id.ExpiresAt.IsZero() || id.JTI == "" {
		t.Errorf("Authenticate = %+v, %v", id, err)
	}
}

func TestReissue(t *testing.T) {
	env := newTestService(t, nil)
	_, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	if _, err := env.svc.Reissue(sub); err != nil {
		t.Fatalf("Reissue approved: %v", err)
	}
	isub, _, err := env.svc.AddIntegration("home assistant")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []ids.Subject{isub, "p-nosuchclient"} {
		if _, err := env.svc.Reissue(s); !errors.Is(err, authn.ErrNotAuthorized) {
			t.Errorf("Reissue(%s) = %v, want ErrNotAuthorized", s, err)
		}
	}
	if _, err := env.svc.Revoke(string(sub)); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Reissue(sub); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("Reissue(revoked) = %v, want ErrNotAuthorized", err)
	}
}

func TestIntegrationCredentials(t *testing.T) {
	env := newTestService(t, nil)
	rv := &recordingRevoker{}
	env.svc.SetRevoker(rv)
	sub, secret, err := env.svc.AddIntegration("Home Assistant")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(sub), "i-") || len(secret) < 22 {
		t.Fatalf("AddIntegration = %q, %d-char secret", sub, len(secret))
	}
	id, err := env.svc.Authenticate(string(sub), secret)
	if err != nil || id.Role != wire.RoleIntegration || !id.ExpiresAt.IsZero() {
		t.Fatalf("Authenticate(integration) = %+v, %v", id, err)
	}
	if _, err := env.svc.Authenticate(string(sub), secret+"x"); !errors.Is(err, authn.ErrBadCredentials) {
		t.Errorf("Authenticate(wrong secret) = %v, want ErrBadCredentials", err)
	}
	if _, err := env.svc.Revoke(string(sub)); err != nil {
		t.Fatal(err)
	}
	if got := rv.revoked(); len(got) != 1 || got[0] != string(sub) {
		t.Errorf("revoker saw %v, want [%s]", got, sub)
	}
	if _, err := env.svc.Authenticate(string(sub), secret); !errors.Is(err, authn.ErrNotAuthorized) {
		t.Errorf("Authenticate(revoked integration) = %v, want ErrNotAuthorized", err)
	}
}

func TestJWKSVerifiesToken(t *testing.T) {
	env := newTestService(t, nil)
	_, sub := env.pair(t, wire.RolePanel, ids.HostID{})
	tok := env.token(t, sub)
	set := env.svc.JWKS()
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(set.Keys))
	}
	k := set.Keys[0]
	x, _ := base64.RawURLEncoding.DecodeString(k.X)
	y, _ := base64.RawURLEncoding.DecodeString(k.Y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("JWK does not decode: %v", err)
	}
	_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(env.clock.Now))
	if err != nil {
		t.Errorf("token does not verify against the JWKS: %v", err)
	}
}
