package authsvc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// ErrNotFound is wrapped by Approve, Deny and Revoke when nothing matches
// the given code or subject.
var ErrNotFound = errors.New("not found")

// notFound is an error that reads as its own text and matches ErrNotFound.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// MaxNameLen is the longest client name accepted, in characters.
const MaxNameLen = 64

// pendingEntry is an undecided pairing request. It lives in memory only:
// a restart forgets it and the client simply asks again.
type pendingEntry struct {
	sub        ids.Subject
	keyHash    string
	name       string
	role       wire.Role
	host       ids.HostID
	code       string
	remoteAddr string
	bucket     string // remoteAddr's quota bucket
	createdAt  time.Time
	expiresAt  time.Time
	// done is closed when the request is decided or expires, waking
	// ?wait requests.
	done chan struct{}
}

// ClientInfo describes a client for `mfd clients list`.
type ClientInfo struct {
	Sub         ids.Subject `json:"sub"`
	Name        string      `json:"name"`
	Role        wire.Role   `json:"role"`
	State       State       `json:"state"`
	PairingCode string      `json:"pairing_code,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	// LastSeen is zero (JSON null) for a client never seen.
	LastSeen time.Time   `json:"last_seen"`
	Host     *ids.HostID `json:"host,omitempty"`
	// HostShort is the host ID's first 8 hex digits, HostName the name of
	// the host: the name of the agent that holds the host ID, else the
	// one this client asked with.
	HostShort string `json:"host_short,omitempty"`
	HostName  string `json:"host_name,omitempty"`
	// HostTakenBy, on an agent or agent request, is the subject of
	// another agent that already holds this host ID: this one is refused.
	HostTakenBy ids.Subject `json:"host_taken_by,omitempty"`
	RemoteAddr  string      `json:"remote_addr,omitempty"`
	ExpiresAt   *time.Time  `json:"expires_at,omitempty"`
	Local       bool        `json:"local,omitempty"`
}

// MarshalJSON writes a zero LastSeen as null rather than year 1.
func (c ClientInfo) MarshalJSON() ([]byte, error) {
	type plain ClientInfo
	var seen *time.Time
	if !c.LastSeen.IsZero() {
		seen = &c.LastSeen
	}
	return json.Marshal(struct {
		plain
		LastSeen *time.Time `json:"last_seen"`
	}{plain(c), seen})
}

// outcome is what POST /authorise answers.
type outcome int

const (
	outApproved outcome = iota
	outPending
	outDenied
	outRevoked
	outFull
	outMismatch
	outHostTaken
	outCoolingDown
)

type authResult struct {
	out   outcome
	rec   record // a copy, for outApproved; the holder, for outHostTaken
	entry *pendingEntry
	wait  time.Duration // for outCoolingDown
}

// authoriseReq is a parsed POST /authorise body.
type authoriseReq struct {
	key  ids.ClientKey
	name string
	role wire.Role
	host ids.HostID
}

// validName reports whether a client name is fit to show in logs and
// notifications: 1 to MaxNameLen printable characters.
func validName(n string) bool {
	if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen {
		return false
	}
	for _, r := range n {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func subjectPrefix(r wire.Role) string {
	switch r {
	case wire.RoleAgent:
		return "a"
	case wire.RoleIntegration:
		return "i"
	}
	return "p"
}

// addrBucket is the unit rate limits and pending quotas count against: the
// IPv4 address, or the /64 of an IPv6 address, since one IPv6 host can
// pick any address in its /64.
func addrBucket(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// allow takes a token from the bucket of addr.
func (s *Service) allow(addr string) bool {
	addr = addrBucket(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	l := s.limiters[addr]
	if l == nil {
		if len(s.limiters) >= maxLimiters {
			s.pruneLimitersLocked()
			if len(s.limiters) >= maxLimiters {
				// Too many addresses at once: share one bucket rather
				// than grow without bound.
				addr = "*"
				l = s.limiters[addr]
			}
		}
		if l == nil {
			l = &limiterEntry{lim: rate.NewLimiter(rate.Limit(s.opts.Rate), s.opts.Burst)}
			s.limiters[addr] = l
		}
	}
	l.last = now
	return l.lim.AllowN(now, 1)
}

const maxLimiters = 4096

// pruneLimitersLocked forgets buckets idle long enough to be full again.
func (s *Service) pruneLimitersLocked() {
	now := s.clock.Now()
	idle := time.Duration(float64(s.opts.Burst)/s.opts.Rate*float64(time.Second)) + time.Second
	for a, l := range s.limiters {
		if now.Sub(l.last) > idle {
			delete(s.limiters, a)
		}
	}
}

// authorise decides what a POST /authorise gets: a token, the pending
// entry (new or existing) or a refusal.
func (s *Service) authorise(req authoriseReq, addr string) authResult {
	hash := req.key.Hash()
	s.mu.Lock()
	s.expirePendingLocked()
	now := s.clock.Now()
	if rec := s.store.byHash[hash]; rec != nil {
		defer s.mu.Unlock()
		switch rec.State {
		case StateDenied:
			return authResult{out: outDenied}
		case StateRevoked:
			return authResult{out: outRevoked}
		}
		if rec.Role != req.role || rec.host() != req.host {
			return authResult{out: outMismatch, rec: *rec}
		}
		if o := s.hostTakenLocked(rec.host(), rec.Sub); o != nil {
			return authResult{out: outHostTaken, rec: *o}
		}
		rec.LastSeen = now
		s.seenDirty = true
		// The panel sends its name with every sign-in: a rename on the
		// device is a rename here, kept at once.
		if req.name != "" && req.name != rec.Name && rec.Role == wire.RolePanel {
			old := rec.Name
			rec.Name = req.name
			if err := s.store.save(); err != nil {
				s.log.Warn("saving a client's new name", "sub", rec.Sub, "err", err)
			} else {
				s.seenDirty = false
			}
			s.log.Info("client renamed", "sub", rec.Sub, "from", old, "to", rec.Name)
		}
		return authResult{out: outApproved, rec: *rec}
	}
	if o := s.hostTakenLocked(req.host, ""); o != nil {
		if e := s.byHash[hash]; e != nil {
			// Another agent was approved for this host meanwhile: this
			// request can never be.
			s.removePendingLocked(e)
		}
		s.mu.Unlock()
		s.log.Warn("pairing refused: another agent holds this host ID", "name", req.name, "host", req.host, "holder", o.Sub, "holder_name", o.Name, "addr", addr)
		return authResult{out: outHostTaken, rec: *o}
	}
	if e := s.byHash[hash]; e != nil {
		s.mu.Unlock()
		return authResult{out: outPending, entry: e}
	}
	bucket := addrBucket(addr)
	if until, ok := s.cooldown[bucket]; ok {
		if now.Before(until) {
			s.mu.Unlock()
			return authResult{out: outCoolingDown, wait: until.Sub(now)}
		}
		delete(s.cooldown, bucket)
	}
	if s.perAddr[bucket] >= s.opts.MaxPendingPerAddr {
		s.mu.Unlock()
		return authResult{out: outFull}
	}
	if len(s.pending) >= s.opts.MaxPending && !s.makeRoomLocked(bucket) {
		s.mu.Unlock()
		return authResult{out: outFull}
	}
	e := &pendingEntry{
		sub:        ids.NewSubject(subjectPrefix(req.role)),
		keyHash:    hash,
		name:       req.name,
		role:       req.role,
		host:       req.host,
		code:       s.newCodeLocked(),
		remoteAddr: addr,
		bucket:     bucket,
		createdAt:  now,
		expiresAt:  now.Add(s.opts.PendingTTL),
		done:       make(chan struct{}),
	}
	s.pending[e.sub] = e
	s.byHash[hash] = e
	s.byCode[e.code] = e
	s.perAddr[bucket]++
	s.mu.Unlock()

	args := []any{"name", e.name, "role", e.role, "code", e.code, "addr", addr, "sub", e.sub}
	if e.role == wire.RoleAgent {
		args = append(args, "host", e.host, "host_name", e.name)
	}
	s.log.Info("pairing request: compare the code, then run `mfd clients approve CODE`", args...)
	s.notifier.NotifyPairing(PairingRequest{
		Sub: e.sub, Name: e.name, Role: e.role, Host: e.host, Code: e.code,
		RemoteAddr: addr, ExpiresAt: e.expiresAt,
	})
	return authResult{out: outPending, entry: e}
}

// makeRoomLocked frees a place in the full pending list for a request from
// bucket, when bucket holds no pending request: it drops the newest
// request of the address that holds the most, if that is more than one.
// So a flood from few addresses cannot keep everyone else out: filling the
// list against newcomers takes as many addresses as it has places.
func (s *Service) makeRoomLocked(bucket string) bool {
	if s.perAddr[bucket] > 0 {
		return false
	}
	var victim *pendingEntry
	for _, e := range s.pending {
		n, vn := s.perAddr[e.bucket], 0
		if victim != nil {
			vn = s.perAddr[victim.bucket]
		}
		if n > vn || n == vn && victim != nil && e.createdAt.After(victim.createdAt) {
			victim = e
		}
	}
	if victim == nil || s.perAddr[victim.bucket] < 2 {
		return false
	}
	s.log.Info("pairing request dropped to make room for another address", "name", victim.name, "code", victim.code, "sub", victim.sub, "addr", victim.remoteAddr)
	s.removePendingLocked(victim)
	return true
}

// newCodeLocked returns a 6-digit code no pending request holds.
func (s *Service) newCodeLocked() string {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			// crypto/rand does not fail on supported platforms.
			panic(fmt.Sprintf("reading random: %v", err))
		}
		c := fmt.Sprintf("%06d", n.Int64())
		if s.byCode[c] == nil {
			return c
		}
	}
}

// removePendingLocked drops e from the pending list and wakes its waiters.
func (s *Service) removePendingLocked(e *pendingEntry) {
	if s.pending[e.sub] != e {
		return
	}
	delete(s.pending, e.sub)
	delete(s.byHash, e.keyHash)
	delete(s.byCode, e.code)
	if s.perAddr[e.bucket]--; s.perAddr[e.bucket] <= 0 {
		delete(s.perAddr, e.bucket)
	}
	close(e.done)
}

func (s *Service) expirePendingLocked() {
	now := s.clock.Now()
	for _, e := range s.pending {
		if !now.Before(e.expiresAt) {
			s.log.Info("pairing request expired", "name", e.name, "code", e.code, "sub", e.sub)
			s.removePendingLocked(e)
		}
	}
}

func isCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// findLocked resolves a pairing code or subject to a pending entry or a
// stored record.
func (s *Service) findLocked(idOrCode string) (*pendingEntry, *record, error) {
	idOrCode = strings.TrimSpace(idOrCode)
	if isCode(idOrCode) {
		if e := s.byCode[idOrCode]; e != nil {
			return e, nil, nil
		}
		return nil, nil, notFound("no pending request with code " + idOrCode)
	}
	sub := ids.Subject(idOrCode)
	if e := s.pending[sub]; e != nil {
		return e, nil, nil
	}
	if r := s.store.bySub[sub]; r != nil {
		return nil, r, nil
	}
	return nil, nil, notFound(fmt.Sprintf("no client or pending request %q", idOrCode))
}

func recordFromPending(e *pendingEntry, st State, now time.Time) *record {
	r := &record{
		Sub: e.sub, KeyHash: e.keyHash, Name: e.name, Role: e.role,
		State: st, CreatedAt: e.createdAt, DecidedAt: now,
	}
	if e.role == wire.RoleAgent {
		h := e.host
		r.Host = &h
	}
	return r
}

// decideLocked moves a pending entry or a stored record to state st and
// saves the store; on a failed save nothing changes.
func (s *Service) decideLocked(e *pendingEntry, rec *record, st State) error {
	now := s.clock.Now()
	if e != nil {
		r := recordFromPending(e, st, now)
		s.store.add(r)
		if err := s.store.save(); err != nil {
			delete(s.store.bySub, r.Sub)
			delete(s.store.byHash, r.KeyHash)
			return err
		}
		s.removePendingLocked(e)
		return nil
	}
	old, oldAt := rec.State, rec.DecidedAt
	rec.State, rec.DecidedAt = st, now
	if err := s.store.save(); err != nil {
		rec.State, rec.DecidedAt = old, oldAt
		return err
	}
	return nil
}

// Approve approves the pending request with the given pairing code or
// subject, or a denied client by subject. The decision is saved before
// Approve returns. Approving an approved client does nothing.
func (s *Service) Approve(idOrCode string) (ClientInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePendingLocked()
	e, rec, err := s.findLocked(idOrCode)
	if err != nil {
		return ClientInfo{}, fmt.Errorf("approving: %w", err)
	}
	if rec != nil {
		switch rec.State {
		case StateApproved:
			return s.infoLocked(rec), nil
		case StateRevoked:
			return ClientInfo{}, fmt.Errorf("approving: client %s is revoked; it must pair again with a new key", rec.Sub)
		}
	}
	host, sub := ids.HostID{}, ids.Subject("")
	if e != nil && e.role == wire.RoleAgent {
		host, sub = e.host, e.sub
	} else if rec != nil && rec.Role == wire.RoleAgent {
		host, sub = rec.host(), rec.Sub
	}
	if o := s.hostTakenLocked(host, sub); o != nil {
		return ClientInfo{}, fmt.Errorf("approving: host %s is already paired to agent %s (%q); deny this request", host.Short(), o.Sub, o.Name)
	}
	if err := s.decideLocked(e, rec, StateApproved); err != nil {
		return ClientInfo{}, fmt.Errorf("approving: %w", err)
	}
	if rec == nil {
		rec = s.store.bySub[e.sub]
	}
	s.log.Info("client approved", "sub", rec.Sub, "name", rec.Name, "role", rec.Role)
	return s.infoLocked(rec), nil
}

// Deny refuses the pending request with the given pairing code or subject.
// The client key is remembered, so the client gets 403 denied from then
// on. The decision is saved before Deny returns.
func (s *Service) Deny(idOrCode string) (ClientInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePendingLocked()
	e, rec, err := s.findLocked(idOrCode)
	if err != nil {
		return ClientInfo{}, fmt.Errorf("denying: %w", err)
	}
	if rec != nil {
		switch rec.State {
		case StateDenied, StateRevoked:
			return s.infoLocked(rec), nil
		case StateApproved:
			return ClientInfo{}, fmt.Errorf("denying: client %s is approved; revoke it instead", rec.Sub)
		}
	}
	bucket := e.bucket
	if err := s.decideLocked(e, nil, StateDenied); err != nil {
		return ClientInfo{}, fmt.Errorf("denying: %w", err)
	}
	// The address that filed a denied request waits before it may file
	// another: denying a flood's request must not just hand its place
	// back to the flood.
	s.cooldown[bucket] = s.clock.Now().Add(s.opts.DenyCooldown)
	rec = s.store.bySub[e.sub]
	s.log.Info("client denied", "sub", rec.Sub, "name", rec.Name, "role", rec.Role)
	return s.infoLocked(rec), nil
}

// Revoke revokes a client by subject (a pending one too): the revocation
// is saved, then every live session of the client is ended through the
// Revoker. Its tokens stop working at once and its key can never pair
// again. Revoking a revoked client ends its sessions again.
func (s *Service) Revoke(sub string) (ClientInfo, error) {
	s.mu.Lock()
	s.expirePendingLocked()
	if isCode(strings.TrimSpace(sub)) {
		s.mu.Unlock()
		return ClientInfo{}, fmt.Errorf("revoking: %q is a pairing code; deny a pending request instead", sub)
	}
	e, rec, err := s.findLocked(sub)
	if err != nil {
		s.mu.Unlock()
		return ClientInfo{}, fmt.Errorf("revoking: %w", err)
	}
	if rec == nil || rec.State != StateRevoked {
		if err := s.decideLocked(e, rec, StateRevoked); err != nil {
			s.mu.Unlock()
			return ClientInfo{}, fmt.Errorf("revoking: %w", err)
		}
	}
	if rec == nil {
		rec = s.store.bySub[e.sub]
	}
	info := s.infoLocked(rec)
	rv := s.revoker
	s.mu.Unlock()
	s.log.Info("client revoked", "sub", info.Sub, "name", info.Name, "role", info.Role)
	if rv != nil {
		rv.Revoke(info.Sub)
	}
	return info, nil
}

// Prune removes the clients that only clutter the list: every revoked or
// denied one, and approved panels and agents not seen since olderThan ago
// (their tokens ran out long before). Integrations, whose credentials do
// not expire, and the server's own agent stay. A pruned client's key can
// ask to pair again, and then waits for the user like any new device. It
// returns what it removed, or would remove when dryRun is set.
func (s *Service) Prune(olderThan time.Duration, dryRun bool) ([]ClientInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.clock.Now().Add(-olderThan)
	var gone []ClientInfo
	for _, r := range s.store.sorted() {
		seen := r.LastSeen
		if seen.IsZero() {
			seen = r.DecidedAt
		}
		if seen.IsZero() {
			seen = r.CreatedAt
		}
		stale := r.State == StateApproved && r.Role != wire.RoleIntegration && !r.Local && seen.Before(cutoff)
		if r.State != StateRevoked && r.State != StateDenied && !stale {
			continue
		}
		gone = append(gone, s.infoLocked(r))
		if !dryRun {
			s.store.remove(r)
		}
	}
	if dryRun || len(gone) == 0 {
		return gone, nil
	}
	if err := s.store.save(); err != nil {
		return nil, fmt.Errorf("pruning: %w", err)
	}
	s.log.Info("clients pruned", "removed", len(gone))
	return gone, nil
}

// List returns every stored client and every pending request, oldest
// first.
func (s *Service) List() []ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePendingLocked()
	var out []ClientInfo
	for _, r := range s.store.sorted() {
		out = append(out, s.infoLocked(r))
	}
	var pend []*pendingEntry
	for _, e := range s.pending {
		pend = append(pend, e)
	}
	sortPending(pend)
	for _, e := range pend {
		exp := e.expiresAt
		ci := ClientInfo{
			Sub: e.sub, Name: e.name, Role: e.role, State: StatePending,
			PairingCode: e.code, CreatedAt: e.createdAt, RemoteAddr: e.remoteAddr,
			ExpiresAt: &exp,
		}
		if e.role == wire.RoleAgent {
			h := e.host
			ci.Host = &h
			s.describeHostLocked(&ci, h, e.name)
		}
		out = append(out, ci)
	}
	return out
}

func sortPending(p []*pendingEntry) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].createdAt.Before(p[j-1].createdAt); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func (s *Service) infoLocked(r *record) ClientInfo {
	ci := ClientInfo{
		Sub: r.Sub, Name: r.Name, Role: r.Role, State: r.State,
		CreatedAt: r.CreatedAt, Local: r.Local,
	}
	ci.LastSeen = r.LastSeen
	if r.Host != nil {
		h := *r.Host
		ci.Host = &h
		s.describeHostLocked(&ci, h, r.Name)
	}
	return ci
}

// LocalAgent returns the subject of the approved agent client for the
// server's own host, making and saving one on first use, so that the
// in-process agent keeps one subject across restarts. It gets its tokens
// from Reissue.
func (s *Service) LocalAgent(host ids.HostID, name string) (ids.Subject, error) {
	if host.IsZero() {
		return "", errors.New("making local agent: zero host ID")
	}
	if !validName(name) {
		name = "local agent"
	}
	s.mu.Lock()
	sub, squatters, err := s.localAgentLocked(host, name)
	rv := s.revoker
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	// The host ID comes from the server's own state dir: an agent paired
	// from elsewhere under it took it, and keeps nothing.
	for _, o := range squatters {
		s.log.Warn("revoked an agent that claimed this server's own host ID", "sub", o, "host", host)
		if rv != nil {
			rv.Revoke(o)
		}
	}
	return sub, nil
}

func (s *Service) localAgentLocked(host ids.HostID, name string) (ids.Subject, []ids.Subject, error) {
	var squatters []ids.Subject
	var sub ids.Subject
	var created *record
	for _, r := range s.store.bySub {
		switch {
		case r.Role != wire.RoleAgent || r.host() != host || r.State != StateApproved:
		case r.Local:
			sub = r.Sub
		default:
			squatters = append(squatters, r.Sub)
		}
	}
	now := s.clock.Now()
	if sub == "" {
		h := host
		r := &record{
			Sub: ids.NewSubject("a"), Name: name, Role: wire.RoleAgent, Host: &h,
			Local: true, State: StateApproved, CreatedAt: now, DecidedAt: now,
		}
		s.store.add(r)
		sub, created = r.Sub, r
	}
	for _, o := range squatters {
		r := s.store.bySub[o]
		r.State, r.DecidedAt = StateRevoked, now
	}
	if created == nil && len(squatters) == 0 {
		return sub, nil, nil
	}
	if err := s.store.save(); err != nil {
		if created != nil {
			delete(s.store.bySub, created.Sub)
		}
		for _, o := range squatters {
			s.store.bySub[o].State = StateApproved
		}
		return "", nil, fmt.Errorf("making local agent: %w", err)
	}
	if created != nil {
		s.log.Info("local agent registered", "sub", sub, "host", host)
	}
	return sub, squatters, nil
}

// AddIntegration makes an approved integration client (Home Assistant and
// the like) with a server-made secret of 256 random bits. It returns the
// MQTT username (sub) and password (secret); only a hash of the secret is
// kept, so it cannot be shown again. Revoke it like any client.
func (s *Service) AddIntegration(name string) (ids.Subject, string, error) {
	name = strings.TrimSpace(name)
	if !validName(name) {
		return "", "", fmt.Errorf("adding integration: name must be 1 to %d printable characters", MaxNameLen)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("adding integration: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	r := &record{
		Sub: ids.NewSubject("i"), SecretHash: hashSecret(secret), Name: name,
		Role: wire.RoleIntegration, State: StateApproved, CreatedAt: now, DecidedAt: now,
	}
	s.store.add(r)
	if err := s.store.save(); err != nil {
		delete(s.store.bySub, r.Sub)
		return "", "", fmt.Errorf("adding integration: %w", err)
	}
	s.log.Info("integration added", "sub", r.Sub, "name", name)
	return r.Sub, secret, nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func secretMatches(secret, hash string) bool {
	got := hashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}
