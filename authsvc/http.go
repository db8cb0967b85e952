package authsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/origin"
	"github.com/openmfd/mfd/internal/wire"
)

// MaxBodySize is the largest POST /authorise body accepted.
const MaxBodySize = 4 << 10

// RetryAfter is the poll interval, in seconds, a pending client is told.
const RetryAfter = 2

// Error codes of the HTTP API, besides the contract's denied and revoked.
const (
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "too_large"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeForbiddenOrigin  = "forbidden_origin"
	CodeForbidden        = "forbidden"
	CodeRateLimited      = "rate_limited"
	CodeTooManyPending   = "too_many_pending"
	CodeDenied           = "denied"
	CodeRevoked          = "revoked"
	CodeHostTaken        = "host_taken"
	CodeNotFound         = "not_found"
	CodeInternal         = "internal"
)

// Handler serves the routes of RegisterRoutes alone; other paths get a
// JSON 404. A server mounts the routes on its own mux with RegisterRoutes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.RegisterRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	})
	return mux
}

// RegisterRoutes adds the service's endpoints to mux: /info, /authorise,
// /.well-known/jwks.json and /ca.crt.
func (s *Service) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/info", s.handleInfo)
	mux.HandleFunc("/authorise", s.handleAuthorise)
	mux.HandleFunc("/.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("/ca.crt", s.handleCA)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encoding response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.ErrorBody{Error: wire.ErrorInfo{Code: code, Message: msg}})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use "+allow)
}

func (s *Service) handleInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, s.Info())
}

func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, s.JWKS())
}

// handleCA serves the local CA certificate, for a user who chooses to
// install it on a device instead of accepting the certificate warning. It
// is public: it is what every TLS handshake presents anyway.
func (s *Service) handleCA(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	b := s.CACertificate()
	if b == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "this server's certificate was not made by a local CA of its own (configured, or made before mfd had one)")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-x509-ca-cert")
	h.Set("Content-Disposition", `attachment; filename="mfd-ca.crt"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// remoteIP is the address a request's rate limit and pending quota count
// against. Forwarding headers are ignored: they are the client's to forge.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseAuthorise checks a POST /authorise body; the error message is safe
// to send back (it never echoes the client key).
func parseAuthorise(body []byte) (authoriseReq, error) {
	var in wire.AuthoriseRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return authoriseReq{}, errors.New("body is not a JSON object of the expected shape")
	}
	if _, err := dec.Token(); err != io.EOF {
		return authoriseReq{}, errors.New("trailing data after the JSON object")
	}
	if in.ClientID == "" {
		return authoriseReq{}, errors.New("missing field client_id")
	}
	key, err := ids.ParseClientKey(in.ClientID)
	if err != nil {
		return authoriseReq{}, errors.New("client_id is not a UUID v4")
	}
	if in.Name == "" {
		return authoriseReq{}, errors.New("missing field name")
	}
	if !validName(in.Name) {
		return authoriseReq{}, errors.New("name must be 1 to 64 printable characters")
	}
	out := authoriseReq{key: key, name: in.Name, role: in.Role}
	switch in.Role {
	case "":
		out.role = wire.RolePanel
		fallthrough
	case wire.RolePanel:
		if in.HostID != "" {
			return authoriseReq{}, errors.New("host_id is only for role agent")
		}
	case wire.RoleAgent:
		if in.HostID == "" {
			return authoriseReq{}, errors.New("missing field host_id (required for role agent)")
		}
		if out.host, err = ids.ParseHostID(in.HostID); err != nil {
			return authoriseReq{}, errors.New("host_id is not a UUID v4")
		}
	default:
		return authoriseReq{}, errors.New(`role must be "panel" or "agent"`)
	}
	return out, nil
}

func (s *Service) handleAuthorise(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if !origin.Allowed(r, s.opts.AllowedOrigins) {
		writeError(w, http.StatusForbidden, CodeForbiddenOrigin, "requests from this origin are not allowed")
		return
	}
	addr := remoteIP(r)
	if !s.allow(addr) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests from this address")
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "wait must be a number of seconds")
			return
		}
		wait = time.Duration(min(n, MaxWait)) * time.Second
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "body over 4 KiB")
			return
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reading body")
		return
	}
	req, err := parseAuthorise(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if wait > 0 {
		// The body is in: lift the server's bound on reading the request
		// (connlimit.EndHandshakeOnRequest), which would otherwise end the
		// long poll by cancelling its context.
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	}

	res := s.authorise(req, addr)
	if res.out == outPending && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-res.entry.done:
		case <-t.C:
		case <-s.closing:
		case <-r.Context().Done():
			t.Stop()
			return // the client is gone
		}
		t.Stop()
		res = s.authorise(req, addr)
	}
	s.respond(w, res)
}

func (s *Service) respond(w http.ResponseWriter, res authResult) {
	switch res.out {
	case outApproved:
		tok, err := s.issue(res.rec)
		if err != nil {
			s.log.Error("issuing token", "sub", res.rec.Sub, "err", err)
			writeError(w, http.StatusInternalServerError, CodeInternal, "issuing token")
			return
		}
		writeJSON(w, http.StatusOK, wire.Authorised{
			Token:     tok.Token,
			ExpiresAt: tok.ExpiresAt,
			Sub:       res.rec.Sub,
			Role:      res.rec.Role,
			ServerID:  s.serverID,
			Topics:    wire.TopicsFor(res.rec.Role, res.rec.Sub, res.rec.host()),
		})
	case outPending:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		writeJSON(w, http.StatusAccepted, wire.Pending{
			Status: "pending", PairingCode: res.entry.code, RetryAfter: RetryAfter,
		})
	case outDenied:
		writeError(w, http.StatusForbidden, CodeDenied, "the host denied this client")
	case outRevoked:
		writeError(w, http.StatusForbidden, CodeRevoked, "the host revoked this client")
	case outMismatch:
		writeError(w, http.StatusForbidden, CodeForbidden, "this client was approved as "+string(res.rec.Role)+" with another role or host")
	case outHostTaken:
		writeError(w, http.StatusForbidden, CodeHostTaken, "this host ID is already paired to another agent")
	case outCoolingDown:
		secs := int((res.wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, "a request from this address was denied; wait before asking again")
	case outFull:
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.PendingTTL/time.Second)/10+1))
		writeError(w, http.StatusTooManyRequests, CodeTooManyPending, "too many pairing requests are waiting for a decision")
	default:
		writeError(w, http.StatusInternalServerError, CodeInternal, "unexpected state")
	}
}
