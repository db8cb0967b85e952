// Package authsvc is the auth service: it keeps the server's identity (ID,
// TLS certificate, token signing key) and its clients in the state dir,
// pairs new clients over POST /authorise with a code the user approves on
// the host, issues and checks the ES256 tokens the broker relies on, and
// serves the admin socket that `mfd clients` talks to.
package authsvc

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// Defaults for zero Options fields.
const (
	DefaultTokenTTL          = 15 * time.Minute
	DefaultPendingTTL        = 5 * time.Minute
	DefaultMaxPending        = 32
	DefaultMaxPendingPerAddr = 2
	DefaultDenyCooldown      = time.Minute
	DefaultRate              = 5 // POST /authorise per second and address
	DefaultBurst             = 20
	// MaxWait is the longest ?wait= a request may ask for, in seconds.
	MaxWait = 30
)

// Options configures a Service. Zero fields take the documented defaults.
type Options struct {
	// StateDir holds the server ID, TLS certificate, signing key and
	// client store. Required; made private to the user.
	StateDir string
	// Name is the server's name in /info; the hostname when empty.
	Name string
	// Version is served in /info.
	Version string
	// Clock is read for token lifetimes, pending expiry and last-seen
	// times; clock.Real when nil.
	Clock clock.Clock
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Notifier is told about each new pairing request; LogNotifier when nil.
	Notifier Notifier
	// AllowedOrigins are extra exact origins (such as
	// "https://panel.example") allowed besides the server's own.
	AllowedOrigins []string
	// TokenTTL is the lifetime of panel and agent tokens; 15 minutes when
	// zero.
	TokenTTL time.Duration
	// CertFile and KeyFile name a configured TLS certificate; when empty a
	// self-signed one is made in the state dir.
	CertFile, KeyFile string
	// PendingTTL is how long an undecided pairing request lives; 5
	// minutes when zero.
	PendingTTL time.Duration
	// MaxPending bounds the pending list; 32 when zero.
	MaxPending int
	// MaxPendingPerAddr bounds the pending requests from one remote
	// address; 2 when zero (never more than MaxPending). When the list
	// is full, a request from an address with none pending takes the
	// place of the newest request of the address holding the most.
	MaxPendingPerAddr int
	// DenyCooldown is how long an address whose request was denied must
	// wait before it may file another; a minute when zero.
	DenyCooldown time.Duration
	// Rate and Burst are the per-address token bucket for POST /authorise;
	// 5 per second with bursts of 20 when zero.
	Rate  float64
	Burst int
}

// Service is the auth service. Its methods are safe for concurrent use.
type Service struct {
	opts     Options
	log      *slog.Logger
	clock    clock.Clock
	notifier Notifier

	serverID ids.ServerID
	cert     tls.Certificate
	ca       *x509.Certificate // the local CA that signed cert, if any
	fp       string
	signer   signingKey
	hostname string

	mu        sync.Mutex
	store     *store
	pending   map[ids.Subject]*pendingEntry
	byHash    map[string]*pendingEntry // pending, by client key hash
	byCode    map[string]*pendingEntry
	perAddr   map[string]int
	cooldown  map[string]time.Time // address bucket → may file again at
	limiters  map[string]*limiterEntry
	revoker   authn.Revoker
	seenDirty bool

	started   bool
	closed    bool
	closing   chan struct{} // closed by stop: held ?wait requests answer now
	stopOnce  sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

// Interface guard: the broker checks connections through this seam.
var _ authn.Authenticator = (*Service)(nil)

// New loads the state dir, making on first start whatever is missing: the
// server ID, the self-signed certificate (unless opts names one), the
// signing key and an empty client store. A state file that exists but
// cannot be read is an error wrapping ErrCorruptState, never replaced.
func New(opts Options) (*Service, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Notifier == nil {
		opts.Notifier = LogNotifier{}
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = DefaultPendingTTL
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxPendingPerAddr <= 0 {
		opts.MaxPendingPerAddr = DefaultMaxPendingPerAddr
	}
	if opts.DenyCooldown <= 0 {
		opts.DenyCooldown = DefaultDenyCooldown
	}
	if opts.MaxPendingPerAddr > opts.MaxPending {
		opts.MaxPendingPerAddr = opts.MaxPending
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	hostname, _ := os.Hostname()
	if opts.Name == "" {
		opts.Name = hostname
	}
	if err := ensureStateDir(opts.StateDir); err != nil {
		return nil, fmt.Errorf("preparing state dir: %w", err)
	}
	st, existed, err := loadStore(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("loading clients: %w", err)
	}
	serverID, err := loadServerID(opts.StateDir, existed)
	if err != nil {
		return nil, fmt.Errorf("loading server ID: %w", err)
	}
	cert, err := loadOrCreateTLS(opts.StateDir, opts.CertFile, opts.KeyFile, hostname, opts.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	signer, err := loadOrCreateSigningKey(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	if !existed {
		if err := st.save(); err != nil {
			return nil, fmt.Errorf("creating client store: %w", err)
		}
	}
	sum := sha256.Sum256(cert.tls.Leaf.Raw)
	s := &Service{
		opts:     opts,
		log:      opts.Logger,
		clock:    opts.Clock,
		notifier: opts.Notifier,
		serverID: serverID,
		cert:     cert.tls,
		ca:       cert.ca,
		fp:       hex.EncodeToString(sum[:]),
		signer:   signer,
		hostname: hostname,
		store:    st,
		pending:  make(map[ids.Subject]*pendingEntry),
		byHash:   make(map[string]*pendingEntry),
		byCode:   make(map[string]*pendingEntry),
		perAddr:  make(map[string]int),
		cooldown: make(map[string]time.Time),
		limiters: make(map[string]*limiterEntry),
		closing:  make(chan struct{}),
	}
	return s, nil
}

// ServerID returns the server's permanent ID.
func (s *Service) ServerID() ids.ServerID { return s.serverID }

// Fingerprint returns the lowercase hex SHA-256 of the TLS leaf
// certificate's DER, as served in /info.
func (s *Service) Fingerprint() string { return s.fp }

// CAFingerprint returns the lowercase hex SHA-256 of the local CA
// certificate's DER, or "" when the server's certificate has no local CA
// (configured, or made before the local CA existed).
func (s *Service) CAFingerprint() string {
	if s.ca == nil {
		return ""
	}
	sum := sha256.Sum256(s.ca.Raw)
	return hex.EncodeToString(sum[:])
}

// CACertificate returns the local CA certificate as PEM, or nil when there
// is none.
func (s *Service) CACertificate() []byte {
	if s.ca == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ca.Raw})
}

// TLSConfig returns a fresh TLS 1.2+ server configuration with the
// server's certificate.
func (s *Service) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.cert},
	}
}

// Certificate returns the server's TLS certificate, leaf parsed.
func (s *Service) Certificate() tls.Certificate { return s.cert }

// PublicKey returns the token signing key and its kid.
func (s *Service) PublicKey() (*ecdsa.PublicKey, string) {
	return &s.signer.priv.PublicKey, s.signer.kid
}

// Info returns the body of GET /info.
func (s *Service) Info() wire.Info {
	return wire.Info{
		ServerID:       s.serverID,
		Name:           s.opts.Name,
		Version:        s.opts.Version,
		API:            wire.API,
		TLSFingerprint: s.fp,
		CAFingerprint:  s.CAFingerprint(),
		MQTTPath:       "/mqtt",
	}
}

// SetRevoker sets who ends live sessions when a client is revoked: the
// broker, once it exists.
func (s *Service) SetRevoker(r authn.Revoker) {
	s.mu.Lock()
	s.revoker = r
	s.mu.Unlock()
}

// Start removes the temp files a crash left in the state dir and starts
// the janitor that expires pending requests. The caller must hold the
// state dir alone (the server holds its admin channel), or the clean-up
// could pull a temp file from under another live server's write.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("starting auth service: closed")
	}
	if s.started {
		return errors.New("starting auth service: already started")
	}
	s.started = true
	removeTempFiles(s.opts.StateDir)
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		// A canceled ctx answers held ?wait requests even before Close,
		// so an HTTP server's Shutdown is not held up.
		s.stop()
	}()
	go func() {
		defer s.wg.Done()
		s.janitor(ctx)
	}()
	s.log.Info("auth service started", "server", s.serverID, "tls_sha256", s.fp)
	return nil
}

// Close stops the janitor, wakes every held ?wait request and saves
// last-seen times. It is idempotent and safe after a failed or missing
// Start.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.stop()
		cancel := s.cancel
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		s.wg.Wait()
		s.mu.Lock()
		if s.seenDirty {
			s.closeErr = s.store.save()
			s.seenDirty = false
		}
		s.mu.Unlock()
	})
	return s.closeErr
}

func (s *Service) stop() { s.stopOnce.Do(func() { close(s.closing) }) }

// janitor expires pending requests, flushes last-seen times now and then
// and forgets idle rate limiters.
func (s *Service) janitor(ctx context.Context) {
	// The tick is wall time: it says how often to look, not what time it
	// is; what it finds due is decided by s.clock.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastFlush := s.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.expirePendingLocked()
		s.pruneLimitersLocked()
		for b, until := range s.cooldown {
			if !s.clock.Now().Before(until) {
				delete(s.cooldown, b)
			}
		}
		if s.seenDirty && s.clock.Now().Sub(lastFlush) > time.Minute {
			if err := s.store.save(); err != nil {
				s.log.Warn("saving last-seen times", "err", err)
			} else {
				s.seenDirty = false
			}
			lastFlush = s.clock.Now()
		}
		s.mu.Unlock()
	}
}
