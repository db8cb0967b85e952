package authsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/openmfd/mfd/internal/ids"
)

// The admin channel speaks one JSON request and one JSON response per
// connection. Only the owner of the state dir can reach it: on Unix it is
// the socket STATE_DIR/admin.sock (dir 0700, socket 0600, the peer's uid
// checked where the OS says), on Windows a named pipe whose DACL admits
// the current user alone (admin_windows.go).

const (
	adminTimeout = 10 * time.Second
	maxAdminReq  = 64 << 10
)

// Admin operations.
const (
	opList           = "list"
	opApprove        = "approve"
	opDeny           = "deny"
	opRevoke         = "revoke"
	opAddIntegration = "add_integration"
	opStats          = "stats"
	opInput          = "input"
	opPrune          = "prune"
)

type adminRequest struct {
	Op  string `json:"op"`
	Arg string `json:"arg,omitempty"`
	// OlderThan and DryRun are prune's.
	OlderThan time.Duration `json:"older_than,omitempty"`
	DryRun    bool          `json:"dry_run,omitempty"`
}

type adminResponse struct {
	OK      bool           `json:"ok"`
	Error   string         `json:"error,omitempty"`
	Clients []ClientInfo   `json:"clients,omitempty"`
	Client  *ClientInfo    `json:"client,omitempty"`
	Sub     ids.Subject    `json:"sub,omitempty"`
	Token   string         `json:"token,omitempty"`
	Stats   map[string]any `json:"stats,omitempty"`
}

func (s *Service) serveAdmin(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accepting admin connection", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serveAdminConn(ctx, c)
		}()
	}
}

func (s *Service) serveAdminConn(ctx context.Context, c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(adminTimeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := checkPeer(c); err != nil {
		s.log.Warn("refusing admin connection", "err", err)
		_ = json.NewEncoder(c).Encode(adminResponse{Error: err.Error()})
		return
	}
	var req adminRequest
	if err := json.NewDecoder(io.LimitReader(c, maxAdminReq)).Decode(&req); err != nil {
		_ = json.NewEncoder(c).Encode(adminResponse{Error: "reading request: " + err.Error()})
		return
	}
	_ = json.NewEncoder(c).Encode(s.adminDo(req))
}

func (s *Service) adminDo(req adminRequest) adminResponse {
	var (
		resp = adminResponse{OK: true}
		ci   ClientInfo
		err  error
	)
	switch req.Op {
	case opList:
		resp.Clients = s.List()
		if resp.Clients == nil {
			resp.Clients = []ClientInfo{}
		}
		return resp
	case opApprove:
		ci, err = s.Approve(req.Arg)
	case opDeny:
		ci, err = s.Deny(req.Arg)
	case opRevoke:
		ci, err = s.Revoke(req.Arg)
	case opStats:
		if s.opts.Stats == nil {
			return adminResponse{Error: "this server keeps no stats"}
		}
		resp.Stats = s.opts.Stats()
		return resp
	case opInput:
		if s.opts.Input == nil {
			return adminResponse{Error: "this server runs no agent of its own (--no-agent)"}
		}
		if req.Arg != "on" && req.Arg != "off" {
			return adminResponse{Error: fmt.Sprintf("input: want on or off, not %q", req.Arg)}
		}
		if err := s.opts.Input(req.Arg == "on"); err != nil {
			return adminResponse{Error: err.Error()}
		}
		return resp
	case opPrune:
		if req.OlderThan <= 0 {
			return adminResponse{Error: "prune: older_than must be positive"}
		}
		resp.Clients, err = s.Prune(req.OlderThan, req.DryRun)
		if err != nil {
			return adminResponse{Error: err.Error()}
		}
		if resp.Clients == nil {
			resp.Clients = []ClientInfo{}
		}
		return resp
	case opAddIntegration:
		resp.Sub, resp.Token, err = s.AddIntegration(req.Arg)
		if err != nil {
			return adminResponse{Error: err.Error()}
		}
		return resp
	default:
		return adminResponse{Error: fmt.Sprintf("unknown operation %q", req.Op)}
	}
	if err != nil {
		return adminResponse{Error: err.Error()}
	}
	resp.Client = &ci
	return resp
}

// AdminClient talks to a running server over its admin channel. Each
// call uses its own connection; the zero value is not usable, use
// DialAdmin. It is safe for concurrent use.
type AdminClient struct {
	dir string
}

// DialAdmin checks that a server is listening on stateDir's admin channel
// and returns a client for it.
func DialAdmin(stateDir string) (*AdminClient, error) {
	c, err := dialAdmin(stateDir, adminTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to the server's admin channel (is `mfd serve` running with --state-dir %s?): %w", stateDir, err)
	}
	c.Close()
	return &AdminClient{dir: stateDir}, nil
}

// Close releases the client. It holds no connection between calls, so
// this does nothing, but callers may defer it.
func (a *AdminClient) Close() error { return nil }

func (a *AdminClient) call(req adminRequest) (adminResponse, error) {
	c, err := dialAdmin(a.dir, adminTimeout)
	if err != nil {
		return adminResponse{}, fmt.Errorf("connecting to the admin channel: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(adminTimeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return adminResponse{}, fmt.Errorf("sending request: %w", err)
	}
	var resp adminResponse
	if err := json.NewDecoder(io.LimitReader(c, 16<<20)).Decode(&resp); err != nil {
		return adminResponse{}, fmt.Errorf("reading response: %w", err)
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "request failed"
		}
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// List returns every client and pending request.
func (a *AdminClient) List() ([]ClientInfo, error) {
	resp, err := a.call(adminRequest{Op: opList})
	return resp.Clients, err
}

// Approve approves a pending request by pairing code or subject and
// returns the client as it now stands.
func (a *AdminClient) Approve(idOrCode string) (ClientInfo, error) {
	resp, err := a.call(adminRequest{Op: opApprove, Arg: idOrCode})
	if err != nil {
		return ClientInfo{}, err
	}
	if resp.Client == nil {
		return ClientInfo{}, errors.New("server answered without the client")
	}
	return *resp.Client, nil
}

// Deny denies a pending request by pairing code or subject and returns
// the client as it now stands.
func (a *AdminClient) Deny(idOrCode string) (ClientInfo, error) {
	resp, err := a.call(adminRequest{Op: opDeny, Arg: idOrCode})
	if err != nil {
		return ClientInfo{}, err
	}
	if resp.Client == nil {
		return ClientInfo{}, errors.New("server answered without the client")
	}
	return *resp.Client, nil
}

// Revoke revokes a client by subject, ends its live sessions and returns
// the client as it now stands.
func (a *AdminClient) Revoke(sub string) (ClientInfo, error) {
	resp, err := a.call(adminRequest{Op: opRevoke, Arg: sub})
	if err != nil {
		return ClientInfo{}, err
	}
	if resp.Client == nil {
		return ClientInfo{}, errors.New("server answered without the client")
	}
	return *resp.Client, nil
}

// AddIntegration makes an integration credential: the MQTT username (sub)
// and password (token). The token cannot be shown again.
func (a *AdminClient) AddIntegration(name string) (sub ids.Subject, token string, err error) {
	resp, err := a.call(adminRequest{Op: opAddIntegration, Arg: name})
	if err != nil {
		return "", "", err
	}
	return resp.Sub, resp.Token, nil
}

// Prune removes revoked and denied clients and approved panels and agents
// not seen for olderThan, and returns them; with dryRun it only says which.
func (a *AdminClient) Prune(olderThan time.Duration, dryRun bool) ([]ClientInfo, error) {
	resp, err := a.call(adminRequest{Op: opPrune, OlderThan: olderThan, DryRun: dryRun})
	return resp.Clients, err
}

// Input switches remote input on the server's own host on or off.
func (a *AdminClient) Input(on bool) error {
	arg := "off"
	if on {
		arg = "on"
	}
	_, err := a.call(adminRequest{Op: opInput, Arg: arg})
	return err
}

// Stats returns the running server's figures (Options.Stats): numbers
// decode as float64.
func (a *AdminClient) Stats() (map[string]any, error) {
	resp, err := a.call(adminRequest{Op: opStats})
	return resp.Stats, err
}
