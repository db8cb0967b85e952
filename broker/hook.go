package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/openmfd/mfd/internal/authn"
	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/topicacl"
	"github.com/openmfd/mfd/internal/wire"
)

// maxClientIDLen bounds the client identifier: sub plus a short suffix.
const maxClientIDLen = 128

// hookOptions is the config Init expects: the broker the hook serves.
type hookOptions struct {
	broker *Broker
}

// session is one authenticated connection.
type session struct {
	conn net.Conn
	cl   *mqtt.Client
	// The fields below are guarded by hook.mu.
	grant      // id, and the rules for it
	live  bool // CONNACK sent
	// counted is set when OnConnect accepts the session, before mochi
	// writes the CONNACK: a client may end another session the moment it
	// reads that CONNACK, before OnSessionEstablished runs, and that must
	// not look like its subject's last session ending.
	counted bool
	revoked bool
	expired bool
	rotate  clock.Timer
	expire  clock.Timer
	// overQuota holds, per SUBSCRIBE packet ID, the filters OnSubscribe
	// refused for the subscription caps, so that OnPacketEncode can answer
	// them 0x97 in the SUBACK.
	overQuota map[uint16][]int
}

// hook is the broker's only auth and ACL hook. Sessions are keyed by
// their net.Conn, which is ours (one per connection, never reused), so a
// taken-over client ID never confuses two sessions.
type hook struct {
	mqtt.HookBase
	b *Broker

	mu       sync.RWMutex
	sessions map[net.Conn]*session
	live     map[ids.Subject]int
	// gen counts revocations per subject, so that a CONNECT authenticated
	// just before a revocation cannot slip in after it.
	gen map[ids.Subject]uint64
	// idents is the identity each subject last connected with, so that a
	// revocation knows which retained topics were the client's alone.
	idents map[ids.Subject]authn.Identity
	// retained is, per subject, the topics it keeps a retained message on.
	retained map[ids.Subject]map[string]struct{}
	// queues is, per subject, what its connections hold unwritten.
	queues map[ids.Subject]*clientQueue
	// wills are the delayed Wills waiting for their delay, by client ID.
	wills map[string]*delayedWill
}

func newHook(b *Broker) *hook {
	return &hook{
		b:        b,
		sessions: map[net.Conn]*session{},
		live:     map[ids.Subject]int{},
		gen:      map[ids.Subject]uint64{},
		idents:   map[ids.Subject]authn.Identity{},
		retained: map[ids.Subject]map[string]struct{}{},
		queues:   map[ids.Subject]*clientQueue{},
		wills:    map[string]*delayedWill{},
	}
}

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "mfd-auth" }

// Provides reports the events the hook handles, and no others.
func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect,
		mqtt.OnConnectAuthenticate,
		mqtt.OnSessionEstablished,
		mqtt.OnDisconnect,
		mqtt.OnACLCheck,
		mqtt.OnPublish,
		mqtt.OnWill,
		mqtt.OnAuthPacket,
		mqtt.OnPacketEncode,
		mqtt.OnPacketRead,
		mqtt.OnSubscribe,
	}, []byte{b})
}

// OnPacketEncode corrects mochi's PUBACK for an accepted QoS 1 publish:
// mochi sends reason 0x01 (a SUBACK code, invalid in PUBACK), which strict
// MQTT 5 clients such as MQTT.js take as a protocol error.
//
// It also answers 0x97 (quota exceeded) in a SUBACK for each filter that
// OnSubscribe refused for the subscription caps (mochi itself could only
// call them invalid).
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Puback:
		if pk.ReasonCode == packets.CodeGrantedQos1.Code {
			pk.ReasonCode = packets.CodeSuccess.Code
		}
	case packets.Suback:
		if cl.Properties.ProtocolVersion < 5 {
			break // 3.1.1 has one failure code, 0x80, which mochi sent
		}
		s := h.lookup(cl)
		if s == nil {
			break
		}
		h.mu.Lock()
		over := s.overQuota[pk.PacketID]
		delete(s.overQuota, pk.PacketID)
		h.mu.Unlock()
		if len(over) == 0 {
			break
		}
		codes := slices.Clone(pk.ReasonCodes)
		for _, i := range over {
			if i < len(codes) {
				codes[i] = packets.ErrQuotaExceeded.Code
			}
		}
		pk.ReasonCodes = codes
	}
	return pk
}

// OnPacketRead clamps the Session Expiry a DISCONNECT asks for to what
// the CONNACK granted: mochi clamps it only at CONNECT, so a DISCONNECT
// with 0xFFFFFFFF would keep the session (and its subscriptions) past
// MaxSessionExpiry. A DISCONNECT may shorten a session, never lengthen
// it. (Raising 0 to more is a protocol error mochi already refuses.)
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Disconnect || !pk.Properties.SessionExpiryIntervalFlag {
		return pk, nil
	}
	if granted := cl.Properties.Props.SessionExpiryInterval; granted > 0 && pk.Properties.SessionExpiryInterval > granted {
		pk.Properties.SessionExpiryInterval = granted
	}
	return pk, nil
}

// OnSubscribe holds each session to MaxSubscriptionsPerSession and each
// client to MaxSubscriptionsPerClient: mochi builds a node per filter
// level and walks them under its global lock, so subscriptions are memory
// and time for everyone. A filter over a cap is emptied (which mochi
// refuses) and answered 0x97 by OnPacketEncode. Filters the session
// already holds are replacements and never count.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	s := h.lookup(cl)
	if s == nil {
		return pk
	}
	own := cl.State.Subscriptions.Len()
	others := -1 // the client's other sessions, counted once needed
	var over []int
	for i, f := range pk.Filters {
		if _, ok := cl.State.Subscriptions.Get(f.Filter); ok {
			continue
		}
		if others < 0 {
			others = h.b.subscriptionsOf(subOfClientID(cl.ID), cl)
		}
		if own >= MaxSubscriptionsPerSession || own+others >= MaxSubscriptionsPerClient {
			pk.Filters[i].Filter = ""
			over = append(over, i)
			continue
		}
		own++
	}
	if len(over) > 0 {
		h.mu.Lock()
		if s.overQuota == nil {
			s.overQuota = map[uint16][]int{}
		}
		s.overQuota[pk.PacketID] = over
		h.mu.Unlock()
		h.b.log.Info("mqtt subscriptions over the cap refused", "client", subOfClientID(cl.ID), "id", cl.ID, "refused", len(over))
	}
	return pk
}

// subscriptionsOf counts the subscriptions of every session of sub but
// except.
func (b *Broker) subscriptionsOf(sub ids.Subject, except *mqtt.Client) int {
	n := 0
	for id, cl := range b.server.Clients.GetAll() {
		if cl != except && !cl.Net.Inline && subOfClientID(id) == sub {
			n += cl.State.Subscriptions.Len()
		}
	}
	return n
}

// Init checks that the hook was given its broker.
func (h *hook) Init(config any) error {
	o, ok := config.(*hookOptions)
	if !ok || o == nil || o.broker != h.b {
		return fmt.Errorf("initialising %s hook: config is %T, want *hookOptions for this broker", h.ID(), config)
	}
	return nil
}

// refuse answers a CONNECT with code (MQTT 5) or v3code (3.1.1) and
// returns the error that makes mochi drop the connection. mochi sends no
// CONNACK itself when OnConnect fails, and its own v5-to-v3 table maps
// 0x86 to 0x05, which the contract does not want.
func (h *hook) refuse(cl *mqtt.Client, code packets.Code, v3code byte, sub string, why string) error {
	if cl.Properties.ProtocolVersion < 5 {
		_ = h.b.server.SendConnack(cl, packets.Code{Code: v3code, Reason: code.Reason}, false, nil)
	} else {
		_ = h.b.server.SendConnack(cl, code, false, nil)
	}
	h.b.log.Info("mqtt connect refused", "client", sub, "remote", cl.Net.Remote, "listener", cl.Net.Listener, "reason", why, "code", fmt.Sprintf("0x%02x", code.Code))
	return code
}

// OnConnect authenticates the CONNECT (username = sub, password = token),
// binds the client identifier to sub, vets the Will and clamps keepalive.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	username := string(pk.Connect.Username)
	logSub := "[invalid]"
	if s, err := ids.ParseSubject(username); err == nil {
		logSub = string(s)
	}
	if !pk.Connect.UsernameFlag || !pk.Connect.PasswordFlag {
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, 0x04, logSub, "no username or password")
	}
	sub := ids.Subject(username)

	h.mu.RLock()
	gen := h.gen[sub]
	h.mu.RUnlock()

	id, err := h.b.opts.Authenticator.Authenticate(username, string(pk.Connect.Password))
	switch {
	case errors.Is(err, authn.ErrNotAuthorized):
		return h.refuse(cl, packets.ErrNotAuthorized, 0x05, logSub, "not authorised")
	case err != nil:
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, 0x04, logSub, "bad credentials")
	case id.Sub != sub:
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, 0x04, logSub, "token for another subject")
	case !id.Role.Valid(), id.Role == wire.RoleAgent && id.Host.IsZero():
		return h.refuse(cl, packets.ErrNotAuthorized, 0x05, logSub, "no valid role")
	case !id.ExpiresAt.IsZero() && !h.b.clock.Now().Before(id.ExpiresAt):
		return h.refuse(cl, packets.ErrBadUsernameOrPassword, 0x04, logSub, "token expired")
	}

	// The identifier is sub or sub/...: another credential can never name,
	// and so never take over, this client's session (mochi #398).
	if pk.Connect.ClientIdentifier == "" {
		cl.ID = string(sub) + "/" + cl.ID // mochi assigned a random xid
		if cl.Properties.ProtocolVersion == 5 {
			cl.Properties.Props.AssignedClientID = cl.ID
		}
	}
	if len(cl.ID) > maxClientIDLen || subOfClientID(cl.ID) != sub {
		return h.refuse(cl, packets.ErrClientIdentifierNotValid, 0x02, logSub, "client identifier not bound to subject")
	}

	if pk.Connect.WillFlag && !canWill(id, pk.Connect.WillTopic, pk.Connect.WillRetain) {
		return h.refuse(cl, packets.ErrNotAuthorized, 0x05, logSub, "will not allowed on this topic")
	}

	h.b.capKeptSessions(cl, sub)
	clampWillDelay(cl)

	if ka := time.Duration(cl.State.Keepalive) * time.Second; ka == 0 || ka > MaxKeepalive {
		cl.State.Keepalive = uint16(DefaultKeepalive / time.Second)
		cl.State.ServerKeepalive = cl.Properties.ProtocolVersion == 5
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen[sub] != gen {
		return h.refuse(cl, packets.ErrNotAuthorized, 0x05, logSub, "revoked while connecting")
	}
	h.sessions[cl.Net.Conn] = &session{conn: cl.Net.Conn, cl: cl, grant: grantFor(id), counted: true}
	h.live[sub]++
	h.idents[sub] = id
	if q, ok := cl.Net.Conn.(*queueConn); ok {
		cq := h.queues[sub]
		if cq == nil {
			cq = &clientQueue{sub: sub, log: h.b.log, conns: map[*queueConn]*held{}}
			h.queues[sub] = cq
		}
		cq.attach(q)
	}
	return nil
}

// clampWillDelay holds a Will's delay to the session's expiry, which
// OnConnect has clamped already: mochi clamps it only when the CONNECT
// carries a Session Expiry, so a Will Delay with none (a session that
// ends with its connection) would wait for as long as the client asked.
func clampWillDelay(cl *mqtt.Client) {
	if cl.Properties.Will.WillDelayInterval == 0 {
		return
	}
	var expiry uint32
	if cl.Properties.ProtocolVersion == 5 && cl.Properties.Props.SessionExpiryIntervalFlag {
		expiry = min(cl.Properties.Props.SessionExpiryInterval, uint32(MaxSessionExpiry/time.Second))
	}
	if cl.Properties.Will.WillDelayInterval > expiry {
		cl.Properties.Will.WillDelayInterval = expiry
	}
}

// subOfClientID returns the subject a client identifier is bound to: the
// part before the first '/'.
func subOfClientID(clientID string) ids.Subject {
	s, _, _ := strings.Cut(clientID, "/")
	return ids.Subject(s)
}

// OnConnectAuthenticate confirms what OnConnect recorded.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	s := h.lookup(cl)
	if s == nil {
		return false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return !s.revoked
}

// lookup returns cl's session, or nil when cl has none (any more).
func (h *hook) lookup(cl *mqtt.Client) *session {
	if cl == nil || cl.Net.Conn == nil {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.sessions[cl.Net.Conn]
	if s == nil || s.cl != cl {
		return nil
	}
	return s
}

// OnSessionEstablished counts the session for presence and starts its
// rotation and expiry timers.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	s := h.lookup(cl)
	if s == nil {
		return
	}
	h.mu.Lock()
	if s.revoked {
		h.mu.Unlock()
		h.b.disconnect(cl, packets.ErrAdministrativeAction)
		return
	}
	s.live = true
	h.scheduleLocked(s)
	id := s.id
	// A session resumed under the same identifier cancels its delayed
	// Will, as mochi does for the Wills it delays itself.
	h.cancelWillLocked(cl.ID)
	h.mu.Unlock()
	h.b.log.Info("mqtt client connected", "client", id.Sub, "role", id.Role, "id", cl.ID, "remote", cl.Net.Remote, "listener", cl.Net.Listener)
}

// scheduleLocked (re)arms s's timers from its identity's expiry.
func (h *hook) scheduleLocked(s *session) {
	stopTimers(s)
	exp := s.id.ExpiresAt
	if exp.IsZero() {
		return // integrations do not expire
	}
	now := h.b.clock.Now()
	iat := s.id.IssuedAt
	if iat.IsZero() || iat.After(now) {
		iat = now
	}
	rotateIn := iat.Add(exp.Sub(iat) * 2 / 3).Sub(now)
	s.rotate = h.b.clock.AfterFunc(max(rotateIn, 0), func() { h.rotate(s) })
	s.expire = h.b.clock.AfterFunc(max(exp.Add(h.b.opts.Grace).Sub(now), 0), func() { h.expireSession(s) })
}

func stopTimers(s *session) {
	if s.rotate != nil {
		s.rotate.Stop()
		s.rotate = nil
	}
	if s.expire != nil {
		s.expire.Stop()
		s.expire = nil
	}
}

// current reports whether s is still a session the hook tracks.
func (h *hook) currentLocked(s *session) bool {
	return h.sessions[s.conn] == s && !s.revoked && !s.expired
}

// rotate publishes a fresh token to s's token topic.
func (h *hook) rotate(s *session) {
	h.mu.RLock()
	ok := h.currentLocked(s)
	sub := s.id.Sub
	h.mu.RUnlock()
	if !ok {
		return
	}
	tok, err := h.b.opts.Authenticator.Reissue(sub)
	if err != nil {
		h.b.log.Warn("reissuing token", "client", sub, "error", err)
		return
	}
	body, err := json.Marshal(tok)
	if err != nil {
		h.b.log.Error("encoding token message", "client", sub, "error", err)
		return
	}
	if err := h.b.Publish(wire.TokenTopic(sub), body, false); err != nil && !errors.Is(err, ErrClosed) {
		h.b.log.Warn("publishing token", "client", sub, "error", err)
		return
	}
	h.b.log.Debug("token rotated", "client", sub, "expires_at", tok.ExpiresAt)
}

// expireSession closes s with 0xA0: its token ran out and the grace with it.
func (h *hook) expireSession(s *session) {
	h.mu.Lock()
	if !h.currentLocked(s) {
		h.mu.Unlock()
		return
	}
	if exp := s.id.ExpiresAt; exp.IsZero() || h.b.clock.Now().Before(exp.Add(h.b.opts.Grace)) {
		// Re-authenticated in band since the timer was armed.
		h.mu.Unlock()
		return
	}
	s.expired = true
	sub := s.id.Sub
	h.mu.Unlock()
	h.b.log.Info("mqtt session expired", "client", sub, "id", s.cl.ID)
	h.b.disconnect(s.cl, packets.ErrMaxConnectTime)
}

// OnDisconnect ends the session's bookkeeping.
func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	if cl.Net.Conn != nil {
		h.connEnded(cl.Net.Conn, false)
	}
}

// connEnded forgets conn's session, publishes presence when it was its
// subject's last live one, and, when the connection died of a panic inside
// mochi, removes the client mochi left behind. It is idempotent.
func (h *hook) connEnded(conn net.Conn, panicked bool) {
	h.mu.Lock()
	s := h.sessions[conn]
	if s == nil {
		h.mu.Unlock()
		return
	}
	delete(h.sessions, conn)
	stopTimers(s)
	if q, ok := conn.(*queueConn); ok {
		if cq := h.queues[s.id.Sub]; cq != nil && cq.detach(q) {
			delete(h.queues, s.id.Sub)
		}
	}
	last := false
	if s.counted {
		h.live[s.id.Sub]--
		if h.live[s.id.Sub] <= 0 {
			delete(h.live, s.id.Sub)
			last = true
		}
	}
	sub := s.id.Sub
	established := s.live
	h.mu.Unlock()

	// After a panic mochi never ran its own clean-up; a session that never
	// got its CONNACK (revoked meanwhile, or the write failed) was
	// registered all the same. Neither may leave a client behind.
	if panicked || !established {
		h.b.dropClient(s.cl)
	}
	if last {
		body, _ := json.Marshal(wire.Presence{Online: false})
		if err := h.b.Publish(wire.PresenceTopic(sub), body, false); err != nil && !errors.Is(err, ErrClosed) {
			h.b.log.Warn("publishing presence", "client", sub, "error", err)
		}
	}
}

// dropClient removes cl and everything mochi keeps for it, if cl is still
// the client registered under its ID.
func (b *Broker) dropClient(cl *mqtt.Client) {
	cl.Stop(packets.ErrAdministrativeAction)
	if cur, ok := b.server.Clients.Get(cl.ID); ok && cur == cl {
		b.server.UnsubscribeClient(cl)
		cl.ClearInflights()
		b.server.Clients.Delete(cl.ID)
	}
}

// OnACLCheck decides subscriptions (filter), publishes (write) and every
// delivery (topic, write false) by the contract's table, and only for a
// session that is live, not revoked and not past its token.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	g, ok := h.grant(cl)
	if !ok {
		return false
	}
	if write {
		return g.canWrite(topic, false)
	}
	return g.canRead(topic)
}

// grant returns what cl's session may do while it may still act.
func (h *hook) grant(cl *mqtt.Client) (grant, bool) {
	s := h.lookup(cl)
	if s == nil {
		return grant{}, false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if s.revoked || s.expired {
		return grant{}, false
	}
	if exp := s.id.ExpiresAt; !exp.IsZero() && !h.b.clock.Now().Before(exp.Add(h.b.opts.Grace)) {
		return grant{}, false
	}
	return s.grant, true
}

// OnPublish refuses what the topic check alone cannot see (retained
// messages, response topics), caps message expiry, and stamps the
// sender's subject as the mfd-sub user property in place of any the client
// set.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	deny := func() (packets.Packet, error) {
		switch {
		case pk.FixedHeader.Qos == 0:
		case cl.Properties.ProtocolVersion == 5:
			// mochi answers the PUBACK/PUBREC with this code.
			return pk, packets.ErrNotAuthorized
		default:
			// 3.1.1 has no negative PUBACK; as mochi does for a refused
			// topic, end the connection rather than leave it waiting.
			h.b.disconnect(cl, packets.ErrNotAuthorized)
		}
		// Any other error would let mochi deliver the message anyway.
		return pk, packets.ErrRejectPacket
	}
	g, ok := h.grant(cl)
	if !ok || !g.canWrite(pk.TopicName, pk.FixedHeader.Retain) {
		return deny()
	}
	id := g.id
	if rt := pk.Properties.ResponseTopic; rt != "" && !ownReplyTree(id, rt) {
		return deny()
	}
	if len(pk.Properties.CorrelationData) > MaxCorrelationData {
		return deny()
	}
	if strings.HasPrefix(pk.TopicName, topicacl.HARoot) && pk.TopicName != wire.HAStatusTopic &&
		!h.b.discoveryAllowed(id, pk.TopicName, len(pk.Payload) == 0) {
		return deny()
	}
	if pk.FixedHeader.Retain && !h.countRetained(id.Sub, pk.TopicName, len(pk.Payload) == 0) {
		h.b.log.Info("mqtt retained publish over the cap refused", "client", id.Sub, "topic", pk.TopicName)
		return deny()
	}
	pk.Properties.User = stampSub(pk.Properties.User, id.Sub)
	if !pk.FixedHeader.Retain {
		max := int64(MaxMessageExpiry / time.Second)
		if e := int64(pk.Properties.MessageExpiryInterval); e == 0 || e > max {
			pk.Expiry = pk.Created + max
		}
	}
	return pk, nil
}

// stampSub returns props without any mfd-sub property, plus the real one.
func stampSub(props []packets.UserProperty, sub ids.Subject) []packets.UserProperty {
	out := make([]packets.UserProperty, 0, len(props)+1)
	for _, p := range props {
		if p.Key != wire.SubProperty {
			out = append(out, p)
		}
	}
	return append(out, packets.UserProperty{Key: wire.SubProperty, Val: string(sub)})
}

// OnWill stamps the sender's subject on its Will, which OnConnect already
// allowed. A revoked client's Will is dropped. A delayed Will is kept by
// the hook rather than by mochi, whose list of delayed Wills nothing
// outside it can clear: a revocation must cancel it.
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	sub := subOfClientID(cl.ID)
	will.User = stampSub(will.User, sub)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen[sub] > 0 {
		h.b.log.Info("will of a revoked client dropped", "client", sub, "id", cl.ID)
		return voidWill, nil
	}
	if d := cl.Properties.Will.WillDelayInterval; d > 0 {
		// mochi reads the delay from the client, not from what we return.
		cl.Properties.Will.WillDelayInterval = 0
		h.delayWillLocked(cl.ID, sub, will, time.Duration(d)*time.Second)
		return voidWill, nil
	}
	return will, nil
}

// OnAuthPacket re-authenticates a session in band: AUTH reason 0x19,
// method mfd-jwt, the fresh token as authentication data. The token must be
// for the same subject; the session then lives until the new expiry.
func (h *hook) OnAuthPacket(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.lookup(cl)
	if s == nil || cl.Properties.ProtocolVersion != 5 {
		return pk, packets.ErrProtocolViolation
	}
	if pk.ReasonCode != packets.CodeReAuthenticate.Code || pk.Properties.AuthenticationMethod != wire.AuthMethod {
		return pk, packets.ErrBadAuthenticationMethod
	}
	h.mu.RLock()
	sub := s.id.Sub
	h.mu.RUnlock()
	id, err := h.b.opts.Authenticator.Authenticate(string(sub), string(pk.Properties.AuthenticationData))
	if err != nil || id.Sub != sub || id.Role != s.id.Role || id.Host != s.id.Host {
		h.b.log.Info("mqtt re-authentication refused", "client", sub, "id", cl.ID)
		if errors.Is(err, authn.ErrNotAuthorized) {
			return pk, packets.ErrNotAuthorized
		}
		return pk, packets.ErrBadUsernameOrPassword
	}
	h.mu.Lock()
	if !h.currentLocked(s) {
		h.mu.Unlock()
		return pk, packets.ErrNotAuthorized
	}
	s.grant = grantFor(id)
	h.scheduleLocked(s)
	h.mu.Unlock()
	return pk, cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Auth},
		ReasonCode:  packets.CodeSuccess.Code,
		Properties:  packets.Properties{AuthenticationMethod: wire.AuthMethod},
	})
}

// revoke ends every session of sub and drops whatever mochi keeps for it.
func (h *hook) revoke(sub ids.Subject) {
	h.mu.Lock()
	h.gen[sub]++
	var victims []*session
	for _, s := range h.sessions {
		if s.id.Sub == sub {
			s.revoked = true
			stopTimers(s)
			victims = append(victims, s)
		}
	}
	h.mu.Unlock()
	for _, s := range victims {
		h.b.disconnect(s.cl, packets.ErrAdministrativeAction)
	}
	for id, cl := range h.b.server.Clients.GetAll() {
		if !cl.Net.Inline && subOfClientID(id) == sub {
			h.b.dropClient(cl)
		}
	}
	h.mu.Lock()
	wills := h.cancelWillsOfLocked(sub)
	h.mu.Unlock()
	cleared := h.clearRetained(sub)
	h.b.log.Info("mqtt client revoked", "client", sub, "sessions", len(victims), "delayed_wills", wills, "retained_cleared", cleared)
}

// stopTimers stops every session's timers (at Close).
func (h *hook) stopTimers() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		stopTimers(s)
	}
	for id := range h.wills {
		h.cancelWillLocked(id)
	}
}
