package authsvc

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/openmfd/mfd/internal/wire"
)

// FuzzAuthoriseBody throws arbitrary bodies at POST /authorise. It must
// never panic, and every answer must be JSON with one of the contract's
// statuses: an error body for refusals, the pending or approved body
// otherwise.
func FuzzAuthoriseBody(f *testing.F) {
	f.Add([]byte(`{"client_id":"0b9b2a4e-6d0e-4c43-9f4a-8f2d1f0c6a11","name":"Kitchen tablet","role":"panel"}`))
	f.Add([]byte(`{"client_id":"0b9b2a4e-6d0e-4c43-9f4a-8f2d1f0c6a11","name":"x","role":"agent","host_id":"5a1f0c5e-3b7d-4f6e-a1c2-9d8e7f6a5b4c"}`))
	f.Add([]byte(`{"client_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","name":"v1"}`))
	f.Add([]byte(`{"client_id":null,"name":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("{\"client_id\":\"\\ud800\",\"name\":\"\xff\"}"))
	env := newTestService(f, func(o *Options) { o.Rate = 1e9; o.Burst = 1 << 30 })
	h := env.svc.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(h, "/authorise", string(body), "192.0.2.1", nil)
		switch w.Code {
		case http.StatusOK:
			var a wire.Authorised
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Token == "" {
				t.Fatalf("200 body %q: %v", w.Body, err)
			}
		case http.StatusAccepted:
			var p wire.Pending
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != "pending" || !isCode(p.PairingCode) {
				t.Fatalf("202 body %q: %v", w.Body, err)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
			var e wire.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("%d body %q: %v", w.Code, w.Body, err)
			}
		default:
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body)
		}
	})
}
