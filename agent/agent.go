// Package agent turns commands from per-client MQTT topics into key, text
// and pointer input on the host it runs on, through an input.Injector.
package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/time/rate"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/clock"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// The agent's rules, from the contract.
const (
	dedupWindow   = 60 * time.Second
	maxCommandAge = 10 * time.Second
	leaseTime     = 3 * time.Second
	defaultRate   = 1000
	defaultBurst  = 2000
	queueSize     = 4096
	maxLimiters   = 10000
)

// Reconnect backoff: small at first, so a restarted broker is back in a
// blink, doubling to a ceiling so a dead one is not hammered.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("agent closed")

// Options configure an Agent. Host and Injector are required.
type Options struct {
	// Host is this host's ID (see LoadHostID).
	Host ids.HostID
	// Name is the host's display name; "" means the OS host name.
	Name string
	// Version goes into the status topic.
	Version string
	// StateDir, when set, keeps the remote-input switch and what Home
	// Assistant discovery published across restarts.
	StateDir string
	// Injector drives the keyboard and pointer. The agent does not close
	// it: whoever made it does, after Close.
	Injector input.Injector
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Config holds the host's actions; nil means none.
	Config *Config
	// Conn says how to reach the broker.
	Conn ConnOptions
	// RateLimit is each client's sustained commands a second (default
	// 1000) and RateBurst its burst (default 2000).
	RateLimit float64
	RateBurst int
}

// ConnOptions say how an agent reaches its MQTT 5 broker.
type ConnOptions struct {
	// Servers are tried in turn: wss://, ws://, mqtts:// or mqtt:// URLs.
	Servers []*url.URL
	// TLSConfig is used for wss:// and mqtts://; nil means the system
	// roots.
	TLSConfig *tls.Config
	// ClientID is the MQTT client identifier; "" means "{username}/agent".
	ClientID string
	// Credentials returns the CONNECT username and password. It is called
	// before every connection attempt, so it is the place to fetch a
	// fresh token. Nil means connecting without credentials.
	Credentials func(ctx context.Context) (username, password string, err error)
	// Dial, when set, opens the connection instead of Servers: the
	// in-process pipe into the embedded broker.
	Dial func(ctx context.Context) (net.Conn, error)
}

// Agent turns commands on its host's topics into input. Create it with
// New, then Start; Close stops it. Its methods are safe for concurrent use.
//
// The MQTT callback only checks, decodes and queues; one worker goroutine
// runs commands in arrival order and publishes the replies. An action runs
// on a goroutine of its own and hands its command steps to the worker one
// at a time, so a long action never holds up other commands; it answers
// when it ends, and action.cancel, release.all, remote input switched off
// and Close cancel it. Held keys and
// buttons are released on their up, on release.all, when their client's
// presence goes offline, 3 s after the last repeat of their down, when
// remote input is switched off, on Close, and whenever the broker
// connection drops (a key cannot be known to be wanted across a gap in the
// connection). Tokens are renewed in band (MQTT 5 AUTH) so that renewal is
// no gap; only a broker that refuses that gets a planned reconnect.
type Agent struct {
	host  ids.HostID
	name  string
	opts  Options
	log   *slog.Logger
	clock clock.Clock
	inj   input.Injector
	// cfg is the host config in force; Reload swaps it while commands run.
	cfg atomic.Pointer[Config]

	queue      chan task
	lost       chan struct{}
	sweep      chan struct{}
	stop       chan struct{}
	workerDone chan struct{}
	closing    atomic.Bool
	started    atomic.Bool

	pubMu sync.Mutex
	pub   publisher

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter

	inputOn atomic.Bool

	actMu   sync.Mutex     // guards runs, runSeq and the runs' reply fields
	runs    []*actionRun   // the action runs in progress
	runSeq  uint64         // numbers runs, to name their holds
	actions sync.WaitGroup // the runs' goroutines

	ctx    context.Context
	cancel context.CancelFunc
	cm     *autopaho.ConnectionManager

	mu         sync.Mutex // guards the fields below
	conn       net.Conn   // the current raw connection, for a planned reconnect
	connExp    time.Time  // when the password of the attempt in progress expires
	refresh    clock.Timer
	user       string
	pushed     wire.TokenMsg
	haSent     bool
	haLast     time.Time   // when discovery was last sent for a birth message
	haTimer    clock.Timer // the answer due to a birth message, if one is
	goroutines sync.WaitGroup
	// cfgErr says why the config file's last edit was not taken.
	cfgErr string
	// probes are the running state probes, by action; states what each
	// last found ("ON" or "OFF"), published retained on its state topic.
	probes     map[string]*probe
	states     map[string]string
	probesStop context.CancelFunc

	closeOnce sync.Once

	// Worker state: touched only by the worker goroutine.
	held       map[heldInput]*hold
	dedup      map[dedupKey]dedupEntry
	dedupOrder []dedupKey
	sweepTimer clock.Timer
}

// publisher is the part of autopaho's ConnectionManager the agent
// publishes through; tests record instead.
type publisher interface {
	Publish(ctx context.Context, p *paho.Publish) (*paho.PublishResponse, error)
}

// New checks opts and returns an agent that has not started.
func New(opts Options) (*Agent, error) {
	if opts.Host.IsZero() {
		return nil, errors.New("creating agent: no host ID")
	}
	if opts.Injector == nil {
		return nil, errors.New("creating agent: no injector")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Config == nil {
		opts.Config = &Config{}
	}
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = defaultRate
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = defaultBurst
	}
	for _, u := range opts.Conn.Servers {
		switch strings.ToLower(u.Scheme) {
		case "wss", "ws", "mqtts", "mqtt", "tls", "ssl", "tcp":
		default:
			return nil, fmt.Errorf("creating agent: unsupported broker URL scheme %q (want wss, ws, mqtts or mqtt)", u.Scheme)
		}
	}
	a := &Agent{
		host:       opts.Host,
		name:       opts.Name,
		opts:       opts,
		log:        opts.Logger,
		clock:      opts.Clock,
		inj:        opts.Injector,
		queue:      make(chan task, queueSize),
		lost:       make(chan struct{}, 1),
		sweep:      make(chan struct{}, 1),
		stop:       make(chan struct{}),
		workerDone: make(chan struct{}),
		limiters:   map[string]*rate.Limiter{},
		held:       map[heldInput]*hold{},
		dedup:      map[dedupKey]dedupEntry{},
	}
	a.cfg.Store(opts.Config)
	on, err := loadInputState(opts.StateDir)
	if err != nil {
		a.log.Warn("reading the remote input state; input is on", "err", err)
	}
	a.inputOn.Store(on)
	return a, nil
}

// Start starts the worker and the broker connection, which is made and
// remade in the background with backoff. ctx is only used while starting:
// stop the agent with Close.
func (a *Agent) Start(ctx context.Context) error {
	if a.closing.Load() {
		return ErrClosed
	}
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("starting agent: already started")
	}
	if len(a.opts.Conn.Servers) == 0 && a.opts.Conn.Dial == nil {
		return errors.New("starting agent: no broker (set Conn.Servers or Conn.Dial)")
	}
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	servers := a.opts.Conn.Servers
	if a.opts.Conn.Dial != nil {
		servers = []*url.URL{{Scheme: "mqtt", Host: "in-process"}}
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    servers,
		TlsCfg:                        a.opts.Conn.TLSConfig,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              reconnectBackoff,
		ConnectTimeout:                15 * time.Second,
		AttemptConnection:             a.dial,
		ConnectPacketBuilder:          a.buildConnect,
		OnConnectionUp:                a.onConnectionUp,
		OnConnectionDown:              a.onConnectionDown,
		OnConnectError: func(err error) {
			a.log.Warn("connecting to the broker", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					a.onPublish(pr.Packet)
					return true, nil
				},
			},
			OnClientError: func(err error) { a.log.Debug("broker connection error", "err", err) },
			OnServerDisconnect: func(d *paho.Disconnect) {
				a.log.Info("the broker closed the connection", "reason", d.ReasonCode)
			},
		},
	}
	go a.worker()
	a.startProbes()
	cm, err := autopaho.NewConnection(a.ctx, cfg)
	if err != nil {
		return fmt.Errorf("starting broker connection: %w", err)
	}
	a.mu.Lock()
	a.cm = cm
	a.mu.Unlock()
	a.setPublisher(cm)
	return nil
}

// reconnectBackoff is 0 before the first attempt, then 100 ms doubling to
// 10 s, each with up to 25% jitter so that many agents do not reconnect in
// step after a broker restart.
func reconnectBackoff(attempt int) time.Duration {
	if attempt <= 0 {
		return 0
	}
	d := backoffMin << min(attempt-1, 10)
	if d > backoffMax {
		d = backoffMax
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// Close releases every held key and button, publishes the offline status,
// disconnects and waits for the agent's goroutines. It is idempotent and
// safe after a failed or missing Start.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock() // so that goSafely adds nothing after the Wait below
		a.closing.Store(true)
		a.mu.Unlock()
		close(a.stop)
		a.cancelActions("", errClosing)
		if a.started.Load() {
			<-a.workerDone
		} else {
			a.releaseAll("closing")
		}
		// The runs answer "cancelled" while the connection is still up.
		a.actions.Wait()
		a.mu.Lock()
		cm := a.cm
		if a.refresh != nil {
			a.refresh.Stop()
		}
		if a.haTimer != nil {
			a.haTimer.Stop()
		}
		a.mu.Unlock()
		if cm != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := a.publishRetained(ctx, cm, wire.StatusTopic(a.host), a.offlineStatus()); err != nil {
				a.log.Debug("publishing offline status", "err", err)
			}
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			if err := cm.Disconnect(ctx); err != nil {
				a.log.Debug("disconnecting", "err", err)
			}
			cancel()
		}
		if a.cancel != nil {
			a.cancel()
		}
		a.mu.Lock()
		if a.probesStop != nil {
			a.probesStop()
		}
		a.mu.Unlock()
		a.goroutines.Wait()
	})
	return nil
}

// goSafely runs f in a goroutine that Close waits for, unless the agent is
// closing.
func (a *Agent) goSafely(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.goLocked(f)
}

// goLocked is goSafely with a.mu held.
func (a *Agent) goLocked(f func()) {
	if a.closing.Load() {
		return
	}
	a.goroutines.Add(1)
	go func() {
		defer a.goroutines.Done()
		f()
	}()
}

func (a *Agent) setPublisher(p publisher) {
	a.pubMu.Lock()
	a.pub = p
	a.pubMu.Unlock()
}

// publish sends p at most once, best effort: replies and events are worth
// nothing late.
func (a *Agent) publish(p *paho.Publish) {
	a.pubMu.Lock()
	pub := a.pub
	a.pubMu.Unlock()
	if pub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, p); err != nil {
		a.log.Debug("publishing", "topic", p.Topic, "err", err)
	}
}

func (a *Agent) publishRetained(ctx context.Context, pub publisher, topic string, v any) error {
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encoding %s: %w", topic, err)
		}
	}
	_, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: b})
	if err != nil {
		return fmt.Errorf("publishing %s: %w", topic, err)
	}
	return nil
}

func (a *Agent) status() wire.Status {
	s := wire.Status{
		Host:    a.host,
		Name:    a.name,
		Online:  true,
		OS:      runtime.GOOS,
		Input:   a.inj.Backend(),
		Version: a.opts.Version,
	}
	c := a.inj.Caps()
	s.Caps = &wire.Caps{Unicode: c.Unicode, PointerAbs: c.PointerAbs, Scroll: c.Scroll}
	if w, h := a.inj.Screen(); w > 0 && h > 0 {
		s.Screen = &wire.Screen{W: w, H: h}
	}
	return s
}

func (a *Agent) offlineStatus() wire.Status { return wire.Status{Host: a.host, Online: false} }

// dial opens one connection for autopaho and remembers it, so that a
// planned reconnect can end it.
func (a *Agent) dial(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if a.opts.Conn.Dial != nil {
		c, err = a.opts.Conn.Dial(ctx)
	} else {
		switch strings.ToLower(u.Scheme) {
		case "ws", "wss":
			var tc *tls.Config
			if strings.EqualFold(u.Scheme, "wss") {
				tc = a.opts.Conn.TLSConfig
			}
			c, err = dialWebSocket(ctx, u, tc)
		case "mqtts", "tls", "ssl":
			d := tls.Dialer{Config: a.opts.Conn.TLSConfig}
			c, err = d.DialContext(ctx, "tcp", hostPort(u, "8883"))
		default:
			var d net.Dialer
			c, err = d.DialContext(ctx, "tcp", hostPort(u, "1883"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dialling broker: %w", err)
	}
	if _, ok := c.(interface{ Lock() }); !ok {
		c = packets.NewThreadSafeConn(c)
	}
	a.mu.Lock()
	a.conn = c
	a.mu.Unlock()
	return c, nil
}

func hostPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// buildConnect fills the CONNECT packet before every attempt: fresh
// credentials, clean start, and the Will that marks the host offline.
func (a *Agent) buildConnect(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	user, pass, err := a.credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting credentials: %w", err)
	}
	cp.CleanStart = true
	cp.Username, cp.UsernameFlag = user, user != ""
	cp.Password, cp.PasswordFlag = []byte(pass), pass != ""
	cp.ClientID = a.opts.Conn.ClientID
	if cp.ClientID == "" {
		cp.ClientID = "mfd-agent-" + a.host.String()
		if _, err := ids.ParseSubject(user); err == nil {
			cp.ClientID = user + "/agent"
		}
	}
	will, _ := json.Marshal(a.offlineStatus())
	cp.WillMessage = &paho.WillMessage{Retain: true, QoS: 1, Topic: wire.StatusTopic(a.host), Payload: will}
	cp.WillProperties = &paho.WillProperties{}
	a.mu.Lock()
	a.connExp = jwtExpiry(pass)
	a.mu.Unlock()
	return cp, nil
}

// credentials returns what to connect with: the caller's Credentials, or
// a token the server pushed to our token topic if that one lasts longer.
func (a *Agent) credentials(ctx context.Context) (string, string, error) {
	var user, pass string
	var err error
	if f := a.opts.Conn.Credentials; f != nil {
		user, pass, err = f(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pushed := a.pushed
	if err == nil && user != "" {
		a.user = user
	}
	usable := pushed.Token != "" && a.user != "" && pushed.ExpiresAt.Sub(a.clock.Now()) > time.Minute
	if usable && (err != nil || pushed.ExpiresAt.After(jwtExpiry(pass))) {
		return a.user, pushed.Token, nil
	}
	return user, pass, err
}

func (a *Agent) onConnectionUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	a.log.Info("connected to the broker")
	a.mu.Lock()
	exp := a.connExp
	if a.refresh != nil {
		a.refresh.Stop()
		a.refresh = nil
	}
	a.scheduleRenewLocked(exp)
	a.mu.Unlock()
	a.goSafely(func() { a.announce(cm) })
}

// scheduleRenewLocked arranges for a fresh token before exp, with jitter so
// that agents do not all renew at once. a.mu must be held.
func (a *Agent) scheduleRenewLocked(exp time.Time) {
	if exp.IsZero() || a.closing.Load() {
		return
	}
	d := renewIn(exp.Sub(a.clock.Now()), time.Duration(rand.Int64N(int64(15*time.Second))))
	a.refresh = a.clock.AfterFunc(d, func() { a.goSafely(a.renew) })
}

// renew hands the broker a fresh token in band (MQTT 5 AUTH, reason 0x19,
// method mfd-jwt), which keeps the session: no command is lost and nothing
// held is released. A broker that does not take it (Mosquitto, or a
// refusal) gets the planned reconnect instead.
func (a *Agent) renew() {
	a.mu.Lock()
	cm := a.cm
	a.mu.Unlock()
	if cm == nil || a.closing.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	_, pass, err := a.credentials(ctx)
	exp := jwtExpiry(pass)
	// A broker without in-band re-authentication may never answer.
	actx, acancel := context.WithTimeout(ctx, 3*time.Second)
	defer acancel()
	if err == nil && !exp.IsZero() {
		var ar *paho.AuthResponse
		ar, err = cm.Authenticate(actx, &paho.Auth{
			ReasonCode: 0x19,
			Properties: &paho.AuthProperties{AuthMethod: wire.AuthMethod, AuthData: []byte(pass)},
		})
		if err == nil && ar != nil && ar.Success {
			a.log.Info("renewed the token in band", "expires", exp)
			a.mu.Lock()
			a.connExp = exp
			a.scheduleRenewLocked(exp)
			a.mu.Unlock()
			return
		}
	}
	a.log.Info("in-band token renewal not taken; reconnecting", "err", err)
	a.plannedReconnect()
}

// renewIn is how long after connecting with a token that has left to run
// the agent reconnects to renew it: 30 s plus jitter before it expires, or,
// for a token too short for that margin (MFD_TOKEN_TTL of a minute or two),
// at two thirds of what is left; never sooner than a second. Without the
// second rule a 30 s token made the agent reconnect every second, releasing
// whatever was held each time.
func renewIn(left, jitter time.Duration) time.Duration {
	margin := 30*time.Second + jitter
	if margin > left/3 {
		margin = left / 3
	}
	return max(left-margin, time.Second)
}

func (a *Agent) onConnectionDown() bool {
	a.log.Warn("lost the broker connection; releasing held keys and buttons")
	select {
	case a.lost <- struct{}{}:
	default:
	}
	return true
}

// plannedReconnect ends the connection politely (DISCONNECT 0, so the
// broker does not publish our Will) so that autopaho reconnects at once,
// with credentials fetched anew. Like any connection loss it releases held
// keys: a key held across the gap would be stuck for its length.
func (a *Agent) plannedReconnect() {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c == nil || a.closing.Load() {
		return
	}
	a.log.Info("reconnecting to renew the token")
	_, _ = (&packets.Disconnect{ReasonCode: 0}).WriteTo(c)
	_ = c.Close()
}

// announce subscribes and publishes the retained state after a connect.
func (a *Agent) announce(cm *autopaho.ConnectionManager) {
	ctx, cancel := context.WithTimeout(a.ctx, 15*time.Second)
	defer cancel()
	subs := []paho.SubscribeOptions{
		{Topic: wire.HostTopic(a.host, "cmd/+"), QoS: 1},
		{Topic: wire.HostTopic(a.host, "press/+"), QoS: 1},
		{Topic: wire.InputSetTopic(a.host), QoS: 1},
		{Topic: wire.Root + "/clients/+/presence", QoS: 1},
	}
	a.mu.Lock()
	user := a.user
	a.mu.Unlock()
	if _, err := ids.ParseSubject(user); err == nil {
		subs = append(subs, paho.SubscribeOptions{Topic: wire.TokenTopic(ids.Subject(user)), QoS: 1})
	}
	if !a.config().HomeAssistant.Disabled {
		subs = append(subs, paho.SubscribeOptions{Topic: a.haPrefix() + "/status", QoS: 1})
	}
	sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if sa != nil {
		for i, code := range sa.Reasons {
			if code < 0x80 || i >= len(subs) {
				continue
			}
			level := slog.LevelWarn
			if strings.HasSuffix(subs[i].Topic, "/status") {
				// Brokers that keep the discovery tree to integrations
				// refuse this one; discovery is then sent once a connect.
				level = slog.LevelDebug
			}
			a.log.Log(ctx, level, "the broker refused a subscription", "topic", subs[i].Topic, "reason", code)
		}
	} else if err != nil {
		a.log.Warn("subscribing", "err", err)
		return
	}
	for _, m := range []struct {
		topic string
		v     any
	}{
		{wire.StatusTopic(a.host), a.status()},
		{wire.ActionsTopic(a.host), a.wireActions()},
		{wire.InputTopic(a.host), onOff(a.inputOn.Load())},
	} {
		if err := a.publishRetained(ctx, cm, m.topic, m.v); err != nil {
			a.log.Warn("announcing", "err", err)
		}
	}
	a.mu.Lock()
	states := maps.Clone(a.states)
	a.mu.Unlock()
	for id, st := range states {
		if err := a.publishRetained(ctx, cm, wire.StateTopic(a.host, id), st); err != nil {
			a.log.Warn("announcing", "err", err)
		}
	}
	a.publishDiscovery(ctx, cm)
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

// jwtExpiry reads the exp claim of a JWT without checking it (the broker
// does that); zero if s is not a JWT with an exp.
func jwtExpiry(s string) time.Time {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) > 8192 {
		return time.Time{}
	}
	b, err := base64URLDecode(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil {
		return time.Time{}
	}
	n, err := c.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// SetInput switches remote input on or off, as an input/set message does:
// off answers every command input_off and releases everything held. The
// state is announced on the input topic and kept in the state dir.
func (a *Agent) SetInput(on bool) {
	a.enqueue(task{kind: taskInput, on: on})
}

// InputOn reports whether remote input is on.
func (a *Agent) InputOn() bool { return a.inputOn.Load() }
