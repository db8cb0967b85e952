// Package admin is a server's admin channel: `mfd clients`, `mfd stats`
// and `mfd input` talk to a running `mfd serve` through it. It speaks one
// JSON request and one JSON response per connection. Only the owner of the
// state dir can reach it: on Unix it is the socket STATE_DIR/admin.sock
// (dir 0700, socket 0600, the peer's uid checked where the OS says), on
// Windows a named pipe whose DACL admits the current user alone
// (listen_windows.go). Holding it is also what makes a server the only one
// on its state dir: Listen fails while another server answers.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/internal/ids"
)

const (
	timeout = 10 * time.Second
	maxReq  = 64 << 10
)

// The operations of the channel.
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

// request is one request on the wire; each operation reads its own fields.
type request struct {
	Op string `json:"op"`
	// Arg is the pairing code or subject of approve, deny and revoke, and
	// add_integration's name.
	Arg string `json:"arg,omitempty"`
	// On is input's: remote input on or off.
	On bool `json:"on,omitempty"`
	// OlderThan and DryRun are prune's.
	OlderThan time.Duration `json:"older_than,omitempty"`
	DryRun    bool          `json:"dry_run,omitempty"`
}

type response struct {
	OK      bool                 `json:"ok"`
	Error   string               `json:"error,omitempty"`
	Clients []authsvc.ClientInfo `json:"clients,omitempty"`
	Client  *authsvc.ClientInfo  `json:"client,omitempty"`
	Sub     ids.Subject          `json:"sub,omitempty"`
	Token   string               `json:"token,omitempty"`
	Stats   *Stats               `json:"stats,omitempty"`
}

// Stats are the figures `mfd stats` prints: what a soak test compares
// before and after, and what an operator looks at when the server seems to
// grow.
type Stats struct {
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapSys    uint64 `json:"heap_sys"`
	// OpenFDs counts the open file descriptors (Unix, where /proc says)
	// and OpenHandles the open handles (Windows): what a leak of sockets,
	// pipes or files grows. Nil where they were not counted; a count
	// of zero (Wine's GetProcessHandleCount) is still a count.
	OpenFDs            *int    `json:"open_fds,omitempty"`
	OpenHandles        *uint32 `json:"open_handles,omitempty"`
	MQTTClients        int     `json:"mqtt_clients"`
	MQTTSessions       int     `json:"mqtt_sessions"`
	MQTTSubscriptions  int     `json:"mqtt_subscriptions"`
	MQTTRetained       int     `json:"mqtt_retained"`
	MQTTQueuedBytesMax int     `json:"mqtt_queued_bytes_max"`
}

// Handler answers the channel's requests. The server implements it with
// its auth service, its broker's figures and its own host's agent.
type Handler interface {
	List() []authsvc.ClientInfo
	Approve(codeOrSub string) (authsvc.ClientInfo, error)
	Deny(codeOrSub string) (authsvc.ClientInfo, error)
	Revoke(sub string) (authsvc.ClientInfo, error)
	AddIntegration(name string) (ids.Subject, string, error)
	Prune(olderThan time.Duration, dryRun bool) ([]authsvc.ClientInfo, error)
	Stats() Stats
	// SetInput switches remote input on the server's own host; it fails
	// when the server runs no agent of its own.
	SetInput(on bool) error
}

// Serve answers the requests that come on ln with h, each connection in its
// own goroutine, until ln is closed; it returns once every connection it
// took has been answered. The end of ctx cuts connections short.
func Serve(ctx context.Context, ln net.Listener, h Handler, log *slog.Logger) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			log.Warn("accepting admin connection", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			serveConn(ctx, c, h, log)
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler, log *slog.Logger) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := checkPeer(c); err != nil {
		log.Warn("refusing admin connection", "err", err)
		_ = json.NewEncoder(c).Encode(response{Error: err.Error()})
		return
	}
	var req request
	if err := json.NewDecoder(io.LimitReader(c, maxReq)).Decode(&req); err != nil {
		_ = json.NewEncoder(c).Encode(response{Error: "reading request: " + err.Error()})
		return
	}
	_ = json.NewEncoder(c).Encode(do(h, req))
}

func do(h Handler, req request) response {
	var (
		resp = response{OK: true}
		ci   authsvc.ClientInfo
		err  error
	)
	switch req.Op {
	case opList:
		resp.Clients = h.List()
		if resp.Clients == nil {
			resp.Clients = []authsvc.ClientInfo{}
		}
		return resp
	case opApprove:
		ci, err = h.Approve(req.Arg)
	case opDeny:
		ci, err = h.Deny(req.Arg)
	case opRevoke:
		ci, err = h.Revoke(req.Arg)
	case opStats:
		st := h.Stats()
		resp.Stats = &st
		return resp
	case opInput:
		if err := h.SetInput(req.On); err != nil {
			return response{Error: err.Error()}
		}
		return resp
	case opPrune:
		if req.OlderThan <= 0 {
			return response{Error: "prune: older_than must be positive"}
		}
		resp.Clients, err = h.Prune(req.OlderThan, req.DryRun)
		if err != nil {
			return response{Error: err.Error()}
		}
		if resp.Clients == nil {
			resp.Clients = []authsvc.ClientInfo{}
		}
		return resp
	case opAddIntegration:
		resp.Sub, resp.Token, err = h.AddIntegration(req.Arg)
		if err != nil {
			return response{Error: err.Error()}
		}
		return resp
	default:
		return response{Error: fmt.Sprintf("unknown operation %q", req.Op)}
	}
	if err != nil {
		return response{Error: err.Error()}
	}
	resp.Client = &ci
	return resp
}

// Client talks to a running server over its admin channel. Each call
// uses its own connection; the zero value is not usable, use Dial. It is
// safe for concurrent use.
type Client struct {
	dir string
}

// Dial checks that a server is listening on stateDir's admin channel and
// returns a client for it.
func Dial(stateDir string) (*Client, error) {
	c, err := dial(stateDir, timeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to the server's admin channel (is `mfd serve` running with --state-dir %s?): %w", stateDir, err)
	}
	c.Close()
	return &Client{dir: stateDir}, nil
}

// Close releases the client. It holds no connection between calls, so
// this does nothing, but callers may defer it.
func (a *Client) Close() error { return nil }

func (a *Client) call(req request) (response, error) {
	c, err := dial(a.dir, timeout)
	if err != nil {
		return response{}, fmt.Errorf("connecting to the admin channel: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return response{}, fmt.Errorf("sending request: %w", err)
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(c, 16<<20)).Decode(&resp); err != nil {
		return response{}, fmt.Errorf("reading response: %w", err)
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
func (a *Client) List() ([]authsvc.ClientInfo, error) {
	resp, err := a.call(request{Op: opList})
	return resp.Clients, err
}

// Approve approves a pending request by pairing code or subject and
// returns the client as it now stands.
func (a *Client) Approve(idOrCode string) (authsvc.ClientInfo, error) {
	return a.decide(opApprove, idOrCode)
}

// Deny denies a pending request by pairing code or subject and returns
// the client as it now stands.
func (a *Client) Deny(idOrCode string) (authsvc.ClientInfo, error) {
	return a.decide(opDeny, idOrCode)
}

// Revoke revokes a client by subject, ends its live sessions and returns
// the client as it now stands.
func (a *Client) Revoke(sub string) (authsvc.ClientInfo, error) {
	return a.decide(opRevoke, sub)
}

// decide sends approve, deny or revoke and returns the client it changed.
func (a *Client) decide(op, arg string) (authsvc.ClientInfo, error) {
	resp, err := a.call(request{Op: op, Arg: arg})
	if err != nil {
		return authsvc.ClientInfo{}, err
	}
	if resp.Client == nil {
		return authsvc.ClientInfo{}, errors.New("server answered without the client")
	}
	return *resp.Client, nil
}

// AddIntegration makes an integration credential: the MQTT username (sub)
// and password (token). The token cannot be shown again.
func (a *Client) AddIntegration(name string) (sub ids.Subject, token string, err error) {
	resp, err := a.call(request{Op: opAddIntegration, Arg: name})
	if err != nil {
		return "", "", err
	}
	return resp.Sub, resp.Token, nil
}

// Prune removes revoked and denied clients and approved panels and agents
// not seen for olderThan, and returns them; with dryRun it only says which.
func (a *Client) Prune(olderThan time.Duration, dryRun bool) ([]authsvc.ClientInfo, error) {
	resp, err := a.call(request{Op: opPrune, OlderThan: olderThan, DryRun: dryRun})
	return resp.Clients, err
}

// SetInput switches remote input on the server's own host on or off.
func (a *Client) SetInput(on bool) error {
	_, err := a.call(request{Op: opInput, On: on})
	return err
}

// Stats returns the running server's figures.
func (a *Client) Stats() (Stats, error) {
	resp, err := a.call(request{Op: opStats})
	if err != nil {
		return Stats{}, err
	}
	if resp.Stats == nil {
		return Stats{}, errors.New("server answered without its stats")
	}
	return *resp.Stats, nil
}
