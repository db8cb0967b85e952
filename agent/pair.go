package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openmfd/mfd/internal/atomicfile"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// Pairing state files, beside LoadHostID's host-id.
const (
	clientKeyFile = "agent-client-key"
	pinFile       = "agent-server-pin.json"
)

// tokenMargin is how long before its expiry a token is renewed.
const tokenMargin = 2 * time.Minute

// ErrServerChanged means the server at the URL has a different server ID
// from the one pinned on first contact: another server, or a reinstalled
// one. The agent refuses to go on; the user decides.
var ErrServerChanged = errors.New("the server's ID changed since this agent paired")

// ErrCertChanged means the server's TLS certificate does not match the
// fingerprint pinned on first contact (or, on first contact, the one the
// server itself reports): someone may be intercepting.
var ErrCertChanged = errors.New("the server's TLS certificate changed since this agent paired")

// ErrDenied means the user denied or revoked this agent on the server.
var ErrDenied = errors.New("the server refused this agent")

// PairOptions configure Pair.
type PairOptions struct {
	// Server is the server's base URL, https://HOST:6789.
	Server *url.URL
	// StateDir keeps the host ID, the client key and the pins. Required.
	StateDir string
	// Name is the name the user sees when approving; "" means the OS
	// host name.
	Name string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// OnPairingCode is called with the pairing code whenever the server
	// hands out a new one, so the user can compare it with the host's.
	OnPairingCode func(code string)
	// HTTPTimeout bounds each request other than the held /authorise
	// poll; 0 means 15 s.
	HTTPTimeout time.Duration
}

// Pairing is an approved agent: its IDs, the pinned server, and a token
// that Credentials keeps fresh. It is safe for concurrent use.
type Pairing struct {
	Host        ids.HostID
	ServerID    ids.ServerID
	Sub         ids.Subject
	Fingerprint string // pinned SHA-256 of the server's certificate, hex
	// BrokerURL is the server's MQTT WebSocket, wss://HOST:PORT/mqtt.
	BrokerURL *url.URL

	opts   PairOptions
	log    *slog.Logger
	key    ids.ClientKey
	client *http.Client
	tls    *tls.Config

	mu    sync.Mutex
	token wire.TokenMsg
}

// serverPin is what first contact pins.
type serverPin struct {
	Server      string       `json:"server"`
	ServerID    ids.ServerID `json:"server_id"`
	Fingerprint string       `json:"tls_fingerprint_sha256"`
	PinnedAt    time.Time    `json:"pinned_at"`
}

// Pair pairs this host with the server as role agent, or finds it already
// approved, and returns what the agent needs to connect. On first contact
// it pins the server's ID and certificate; afterwards it refuses a server
// whose ID or certificate changed (ErrServerChanged, ErrCertChanged) and
// never falls back to an unverified connection. While the user has not
// decided it calls OnPairingCode and waits, until ctx ends.
func Pair(ctx context.Context, opts PairOptions) (*Pairing, error) {
	if opts.Server == nil || opts.Server.Scheme != "https" || opts.Server.Host == "" {
		return nil, errors.New("pairing: the server URL must be https://HOST:PORT")
	}
	if opts.StateDir == "" {
		return nil, errors.New("pairing: no state dir")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = 15 * time.Second
	}
	host, err := LoadHostID(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("pairing: %w", err)
	}
	key, err := loadClientKey(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("pairing: %w", err)
	}
	pin, err := loadPin(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("pairing: %w", err)
	}
	p := &Pairing{Host: host, opts: opts, log: opts.Logger, key: key, Fingerprint: pin.Fingerprint}

	// First contact: accept whatever certificate is presented, but only
	// if /info, read over that very connection, reports the same
	// fingerprint. Later contacts check the pin in the handshake.
	var presented, presentedCA string
	var presentedMu sync.Mutex
	p.tls = &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin check below
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			fp, ca := certFingerprints(cs.PeerCertificates)
			presentedMu.Lock()
			defer presentedMu.Unlock()
			// The pin is the server's local CA when it has one (so that
			// the leaf it signs can be renewed), else its certificate.
			want := p.Fingerprint
			if want != "" && fp != want && (ca == "" || ca != want) {
				return fmt.Errorf("%w: pinned %s, presented %s", ErrCertChanged, ids.ShortHex(want, 16), ids.ShortHex(fp, 16))
			}
			presented, presentedCA = fp, ca
			return nil
		},
	}
	p.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     p.tls,
		Proxy:               nil,
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Minute,
	}}

	info, err := p.info(ctx)
	if err != nil {
		if errors.Is(err, ErrCertChanged) && !pin.ServerID.IsZero() {
			err = p.explainCertChange(ctx, err, pin.ServerID)
		}
		return nil, err
	}
	presentedMu.Lock()
	fp, caFP := presented, presentedCA
	presentedMu.Unlock()
	if info.API != wire.API {
		return nil, fmt.Errorf("pairing: the server speaks API %d, this agent %d", info.API, wire.API)
	}
	if pin.ServerID.IsZero() {
		if normFingerprint(info.TLSFingerprint) != fp {
			return nil, fmt.Errorf("pairing: %w: the server reports %s but presented %s",
				ErrCertChanged, ids.ShortHex(normFingerprint(info.TLSFingerprint), 16), ids.ShortHex(fp, 16))
		}
		pinned := fp
		if caFP != "" && normFingerprint(info.CAFingerprint) == caFP {
			pinned = caFP
		}
		pin = serverPin{Server: opts.Server.String(), ServerID: info.ServerID, Fingerprint: pinned, PinnedAt: time.Now().UTC()}
		if err := savePin(opts.StateDir, pin); err != nil {
			return nil, fmt.Errorf("pairing: %w", err)
		}
		p.log.Info("pinned the server on first contact", "server", info.ServerID, "fingerprint", ids.ShortHex(pinned, 16), "ca", pinned != fp)
	} else if info.ServerID != pin.ServerID {
		// No advice on the pin file here: mfd agent gives it for both
		// refusals.
		return nil, fmt.Errorf("pairing: %w: pinned %s, the server now says %s",
			ErrServerChanged, pin.ServerID, info.ServerID)
	}
	presentedMu.Lock()
	p.ServerID, p.Fingerprint = pin.ServerID, pin.Fingerprint
	presentedMu.Unlock()

	mqttPath := info.MQTTPath
	if mqttPath == "" {
		mqttPath = "/mqtt"
	}
	p.BrokerURL = &url.URL{Scheme: "wss", Host: opts.Server.Host, Path: mqttPath}

	if err := p.authorise(ctx, true); err != nil {
		return nil, err
	}
	return p, nil
}

// ConnOptions returns the agent's connection to the server's broker: the
// WebSocket, the pinned TLS config and fresh tokens.
func (p *Pairing) ConnOptions() ConnOptions {
	return ConnOptions{
		Servers:     []*url.URL{p.BrokerURL},
		TLSConfig:   p.tls,
		ClientID:    string(p.Sub) + "/agent",
		Credentials: p.Credentials,
	}
}

// Credentials returns the subject and a token valid for a while yet,
// asking the server for a new one when the current one is near expiry.
// It fails with ErrDenied once the agent is revoked.
func (p *Pairing) Credentials(ctx context.Context) (string, string, error) {
	p.mu.Lock()
	tok, sub := p.token, p.Sub
	p.mu.Unlock()
	if tok.Token != "" && time.Until(tok.ExpiresAt) > tokenMargin {
		return string(sub), tok.Token, nil
	}
	if err := p.authorise(ctx, false); err != nil {
		return "", "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.Sub), p.token.Token, nil
}

// CloseIdleConnections drops the pairing's idle HTTPS connections.
func (p *Pairing) CloseIdleConnections() { p.client.CloseIdleConnections() }

func (p *Pairing) info(ctx context.Context) (wire.Info, error) {
	var info wire.Info
	ctx, cancel := context.WithTimeout(ctx, p.opts.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.Server.JoinPath("/info").String(), nil)
	if err != nil {
		return info, fmt.Errorf("pairing: %w", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return info, fmt.Errorf("pairing: getting /info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("pairing: getting /info: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil {
		return info, fmt.Errorf("pairing: decoding /info: %w", err)
	}
	if info.ServerID.IsZero() {
		return info, errors.New("pairing: /info has no server_id")
	}
	return info, nil
}

// explainCertChange adds to err, a refused certificate, whether the server
// behind it also reports a server ID other than pinned: a reinstalled or
// another server rather than a renewed certificate. It asks /info over a
// connection that checks nothing, so it sends nothing secret there and
// trusts the answer only to word the error.
func (p *Pairing) explainCertChange(ctx context.Context, err error, pinned ids.ServerID) error {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		Proxy:             nil,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, min(p.opts.HTTPTimeout, 5*time.Second))
	defer cancel()
	req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.Server.JoinPath("/info").String(), nil)
	if rerr != nil {
		return err
	}
	resp, rerr := (&http.Client{Transport: tr}).Do(req)
	if rerr != nil {
		return err
	}
	defer resp.Body.Close()
	var info wire.Info
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info) != nil ||
		info.ServerID.IsZero() || info.ServerID == pinned {
		return err
	}
	return fmt.Errorf("%w; %w too: pinned %s, the server now says %s", err, ErrServerChanged, pinned, info.ServerID)
}

// authorise asks for a token. With wait it holds on while the request is
// pending, showing the pairing code; without, pending is an error.
func (p *Pairing) authorise(ctx context.Context, wait bool) error {
	body, _ := json.Marshal(wire.AuthoriseRequest{
		ClientID: p.key.Reveal(),
		Name:     p.opts.Name,
		Role:     wire.RoleAgent,
		HostID:   p.Host.String(),
	})
	u := p.opts.Server.JoinPath("/authorise")
	held := *u
	held.RawQuery = "wait=30"
	lastCode := ""
	failures := 0
	for {
		// The first request is answered at once, so the pairing code
		// shows without delay; later ones are held until a decision.
		target := u
		if wait && lastCode != "" {
			target = &held
		}
		status, hdr, b, err := p.post(ctx, target, body, target == &held)
		if err != nil {
			if errors.Is(err, ErrCertChanged) || ctx.Err() != nil || !wait {
				return err
			}
			failures++
			p.log.Warn("asking the server for approval; retrying", "err", err)
			if err := sleepCtx(ctx, min(time.Duration(failures)*2*time.Second, 30*time.Second)); err != nil {
				return err
			}
			continue
		}
		failures = 0
		switch status {
		case http.StatusOK:
			var a wire.Authorised
			if err := json.Unmarshal(b, &a); err != nil || a.Token == "" {
				return fmt.Errorf("pairing: decoding /authorise: %v", err)
			}
			if a.ServerID != p.ServerID {
				return fmt.Errorf("pairing: %w: the token is from %s", ErrServerChanged, a.ServerID)
			}
			p.mu.Lock()
			first := p.Sub == ""
			p.Sub = a.Sub
			p.token = wire.TokenMsg{Token: a.Token, ExpiresAt: a.ExpiresAt}
			p.mu.Unlock()
			if first {
				p.log.Info("approved by the server", "sub", a.Sub)
			}
			return nil
		case http.StatusAccepted:
			var pd wire.Pending
			_ = json.Unmarshal(b, &pd)
			if !wait {
				return fmt.Errorf("pairing: the server wants this agent approved again (code %s)", pd.PairingCode)
			}
			if pd.PairingCode != lastCode {
				lastCode = pd.PairingCode
				p.log.Info("waiting for approval", "pairing_code", pd.PairingCode)
				if p.opts.OnPairingCode != nil {
					p.opts.OnPairingCode(pd.PairingCode)
				}
			}
			// A server that does not hold the request answers at once;
			// poll at the pace it asks for.
			if err := sleepCtx(ctx, time.Duration(max(pd.RetryAfter, 1))*time.Second/4); err != nil {
				return err
			}
		case http.StatusForbidden:
			return fmt.Errorf("pairing: %w: %s", ErrDenied, errorMessage(b))
		case http.StatusTooManyRequests:
			if !wait {
				return fmt.Errorf("pairing: rate limited: %s", errorMessage(b))
			}
			d, _ := strconv.Atoi(hdr.Get("Retry-After"))
			if err := sleepCtx(ctx, time.Duration(min(max(d, 1), 60))*time.Second); err != nil {
				return err
			}
		default:
			return fmt.Errorf("pairing: /authorise answered HTTP %d: %s", status, errorMessage(b))
		}
	}
}

func (p *Pairing) post(ctx context.Context, u *url.URL, body []byte, wait bool) (int, http.Header, []byte, error) {
	timeout := p.opts.HTTPTimeout
	if wait {
		timeout += 35 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("posting /authorise: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading /authorise: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

func errorMessage(b []byte) string {
	var e wire.ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		return "no error body"
	}
	return e.Error.Code + ": " + e.Error.Message
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// certFingerprints returns the SHA-256 of the presented leaf and, when the
// chain ends in a CA that signed it, of that CA; "" when there is none.
func certFingerprints(chain []*x509.Certificate) (leaf, ca string) {
	sum := sha256.Sum256(chain[0].Raw)
	leaf = hex.EncodeToString(sum[:])
	if len(chain) < 2 {
		return leaf, ""
	}
	root := chain[len(chain)-1]
	if !root.IsCA || chain[0].CheckSignatureFrom(root) != nil {
		return leaf, ""
	}
	sum = sha256.Sum256(root.Raw)
	return leaf, hex.EncodeToString(sum[:])
}

func normFingerprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

// loadClientKey returns the agent's secret client key, making it once.
func loadClientKey(dir string) (ids.ClientKey, error) {
	p := filepath.Join(dir, clientKeyFile)
	b, err := os.ReadFile(p)
	if err == nil {
		k, err := ids.ParseClientKey(strings.TrimSpace(string(b)))
		if err != nil {
			return ids.ClientKey{}, fmt.Errorf("loading client key from %s: %w", p, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return ids.ClientKey{}, fmt.Errorf("loading client key: %w", err)
	}
	k := ids.NewClientKey()
	if err := atomicfile.WriteFile(p, []byte(k.Reveal()+"\n"), 0o600); err != nil {
		return ids.ClientKey{}, fmt.Errorf("saving client key: %w", err)
	}
	return k, nil
}

func loadPin(dir string) (serverPin, error) {
	var pin serverPin
	b, err := os.ReadFile(filepath.Join(dir, pinFile))
	if errors.Is(err, fs.ErrNotExist) {
		return pin, nil
	}
	if err != nil {
		return pin, fmt.Errorf("loading server pin: %w", err)
	}
	if err := json.Unmarshal(b, &pin); err != nil || pin.ServerID.IsZero() || len(pin.Fingerprint) != 64 {
		return serverPin{}, fmt.Errorf("loading server pin: %s is damaged; delete it to pair again", filepath.Join(dir, pinFile))
	}
	return pin, nil
}

func savePin(dir string, pin serverPin) error {
	b, err := json.MarshalIndent(pin, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, pinFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving server pin: %w", err)
	}
	return nil
}
