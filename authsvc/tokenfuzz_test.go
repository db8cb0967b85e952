package authsvc

import (
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

// FuzzVerifyToken throws arbitrary passwords at Authenticate, the MQTT
// CONNECT check, seeded with a genuine token and the forgeries an attacker
// would try. It must never panic, every refusal must wrap one of the two
// sentinels the broker maps to CONNACK codes, and whatever it accepts must
// be an ES256 token with the server's kid, for the username's subject, that
// still verifies against the published key.
func FuzzVerifyToken(f *testing.F) {
	env := newTestService(f, nil)
	now := env.clock.Now()
	res := env.svc.authorise(panelReq(ids.NewClientKey(), "fuzz panel"), "192.0.2.1")
	if _, err := env.svc.Approve(res.entry.code); err != nil {
		f.Fatal(err)
	}
	sub := res.entry.sub
	good, err := env.svc.Reissue(sub)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good.Token, ".")
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	kid := env.svc.signer.kid
	f.Add(string(sub), good.Token)
	f.Add(string(sub), enc(map[string]string{"alg": "none", "kid": kid})+"."+parts[1]+".")
	f.Add(string(sub), enc(map[string]string{"alg": "HS256", "kid": kid})+"."+parts[1]+"."+parts[2])
	f.Add(string(sub), parts[0]+"."+enc(baseClaims(env.svc, sub, wire.RoleAgent, now))+"."+parts[2])
	f.Add(string(sub), parts[0]+"."+parts[1]+"."+parts[2][:len(parts[2])-2])
	f.Add(string(sub), parts[0]+"."+parts[1])
	f.Add("p-other", good.Token)
	f.Add(string(sub), "not.a.jwt")
	f.Add(string(sub), "")
	f.Add(string(sub), strings.Repeat("A", MaxTokenLen+1))
	f.Add(string(sub), enc(map[string]any{"alg": "ES256", "kid": []int{1}})+"."+parts[1]+"."+parts[2])
	pub, _ := env.svc.PublicKey()
	f.Fuzz(func(t *testing.T, username, password string) {
		id, err := env.svc.Authenticate(username, password)
		if err != nil {
			if !errors.Is(err, authn.ErrBadCredentials) && !errors.Is(err, authn.ErrNotAuthorized) {
				t.Fatalf("Authenticate(%q, %q) = %v, wraps neither sentinel", username, password, err)
			}
			return
		}
		if string(id.Sub) != username || id.Role != wire.RolePanel || id.ExpiresAt.IsZero() {
			t.Fatalf("Authenticate(%q, %q) accepted identity %+v", username, password, id)
		}
		// An independent check of what was accepted.
		tok, err := jwt.Parse(password, func(tk *jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(func() time.Time { return env.clock.Now() }))
		if err != nil || tok.Header["kid"] != kid {
			t.Fatalf("Authenticate accepted %q, which does not verify as ES256 with kid %s: %v", password, kid, err)
		}
	})
}
