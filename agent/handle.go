package agent

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/time/rate"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

type taskKind int

const (
	taskCommand  taskKind = iota + 1 // run cmd (and reply)
	taskReply                        // only answer err
	taskPresence                     // sub went offline
	taskInput                        // switch remote input to on
	taskStep                         // run one step of an action's run (and answer res)
	taskRelease                      // release what sub holds (an action's run ended)
)

// task is one unit of work for the worker. The MQTT callback only decodes
// and queues tasks; the worker runs them in arrival order.
type task struct {
	kind     taskKind
	cmd      command
	sub      ids.Subject
	rt       replyTarget
	deadline time.Time
	err      *cmdError
	on       bool
	run      *actionRun     // taskStep: the run the step belongs to
	res      chan *cmdError // taskStep: where the step's result goes
}

// replyTarget is where a command's answer goes; a zero topic means nowhere.
type replyTarget struct {
	topic string
	corr  []byte
}

type heldInputKind int

const (
	heldKeyboard heldInputKind = iota + 1
	heldButton
)

type heldInput struct {
	kind   heldInputKind
	key    string
	button input.Button
}

// heldOrder lists held's inputs keys first, then buttons, each by name,
// so that what is released together is released in the same order every
// time (a map's order would differ from run to run).
func heldOrder(held map[heldInput]*hold) []heldInput {
	ks := slices.Collect(maps.Keys(held))
	slices.SortFunc(ks, func(a, b heldInput) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.key, b.key), cmp.Compare(a.button, b.button))
	})
	return ks
}

// hold is a held key or button: who holds it and until when each lease
// runs. It is released when the last lease ends.
type hold struct {
	leases map[ids.Subject]time.Time
}

type dedupKey struct {
	sub ids.Subject
	id  string
}

// dedupEntry is a command seen recently: its reply, or the action run it
// started, which answers when it ends.
type dedupEntry struct {
	at    time.Time
	reply wire.Reply
	run   *actionRun
}

// onPublish is paho's callback. It never blocks: it checks, decodes and
// queues.
func (a *Agent) onPublish(p *paho.Publish) {
	if p == nil || a.closing.Load() {
		return
	}
	now := a.clock.Now()
	t, ok := wire.ParseTopic(p.Topic)
	if !ok {
		if !a.config().HomeAssistant.Disabled && p.Topic == a.haPrefix()+"/status" {
			if strings.EqualFold(strings.TrimSpace(string(p.Payload)), "online") {
				a.haOnline()
			}
		}
		return
	}
	switch {
	case t.Kind == wire.TopicHost && t.Host == a.host:
		switch t.Leaf {
		case "cmd":
			a.onCommand(p, t.Sub, now)
		case "press":
			a.onPress(p, t.Arg, now)
		case "input/set":
			a.onInputSet(p)
		}
	case t.Kind == wire.TopicClient && t.Leaf == "presence":
		var pr wire.Presence
		if err := json.Unmarshal(p.Payload, &pr); err != nil {
			a.log.Debug("ignoring a malformed presence message", "client", t.Sub)
			return
		}
		if !pr.Online {
			a.enqueue(task{kind: taskPresence, sub: t.Sub})
		}
	case t.Kind == wire.TopicClient && t.Leaf == "token":
		a.onToken(t.Sub, p.Payload)
	}
}

func (a *Agent) onCommand(p *paho.Publish, sub ids.Subject, now time.Time) {
	rt := a.replyTargetFor(p, sub)
	if len(p.Payload) > wire.MaxCommandSize {
		a.enqueue(task{kind: taskReply, rt: rt, err: errf(wire.CodeTooLarge,
			"command is %d bytes, the limit is %d", len(p.Payload), wire.MaxCommandSize)})
		return
	}
	if !a.allow(string(sub), now) {
		a.enqueue(task{kind: taskReply, rt: rt, cmd: command{ID: peekID(p.Payload)},
			err: errf(wire.CodeRateLimited, "more than %g commands a second", a.opts.RateLimit)})
		return
	}
	c, err := decodeCommand(p.Payload)
	if err != nil {
		a.enqueue(task{kind: taskReply, rt: rt, cmd: c, err: err})
		return
	}
	a.enqueue(task{kind: taskCommand, cmd: c, sub: sub, rt: rt, deadline: deadlineFor(p, now)})
}

// onPress handles press/{action}. The sender is the subject the broker
// stamped on the message; without one (a broker that does not stamp) the
// press still runs but is answered only to a Response Topic.
func (a *Agent) onPress(p *paho.Publish, action string, now time.Time) {
	var sub ids.Subject
	if p.Properties != nil {
		if s, err := ids.ParseSubject(p.Properties.User.Get(wire.SubProperty)); err == nil {
			sub = s
		}
	}
	rt := a.replyTargetFor(p, sub)
	limKey := "press:"
	if sub != "" {
		limKey = string(sub)
	}
	if !a.allow(limKey, now) {
		a.enqueue(task{kind: taskReply, rt: rt, err: errf(wire.CodeRateLimited, "more than %g commands a second", a.opts.RateLimit)})
		return
	}
	id, ts, err := pressPayload(p.Payload)
	if err != nil {
		a.enqueue(task{kind: taskReply, rt: rt, cmd: command{ID: id}, err: err})
		return
	}
	c := command{ID: id, Op: wire.OpActionRun, Action: action, TS: ts}
	a.enqueue(task{kind: taskCommand, cmd: c, sub: sub, rt: rt, deadline: deadlineFor(p, now)})
}

func (a *Agent) onInputSet(p *paho.Publish) {
	switch strings.ToUpper(strings.TrimSpace(string(p.Payload))) {
	case "ON":
		a.enqueue(task{kind: taskInput, on: true})
	case "OFF":
		a.enqueue(task{kind: taskInput, on: false})
	default:
		a.log.Warn("ignoring an input/set that is neither ON nor OFF", "bytes", len(p.Payload))
	}
}

func (a *Agent) onToken(sub ids.Subject, payload []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if string(sub) != a.user {
		return
	}
	var tm wire.TokenMsg
	if err := json.Unmarshal(payload, &tm); err != nil || tm.Token == "" || tm.ExpiresAt.IsZero() {
		a.log.Warn("ignoring a malformed token message")
		return
	}
	if tm.ExpiresAt.After(a.pushed.ExpiresAt) {
		a.pushed = tm
		a.log.Info("received a fresh token", "expires_at", tm.ExpiresAt.Format(time.RFC3339))
	}
}

// deadlineFor is the latest time a command received at now may run: its
// remaining Message Expiry as delivered (the broker counts it down), and
// never more than ten seconds.
func deadlineFor(p *paho.Publish, now time.Time) time.Time {
	d := maxCommandAge
	if p.Properties != nil && p.Properties.MessageExpiry != nil {
		d = min(d, time.Duration(max(*p.Properties.MessageExpiry, 1))*time.Second)
	}
	return now.Add(d)
}

// replyTargetFor picks where to answer: the Response Topic, unless it
// points into the mfd tree (other than the sender's own reply topics) or
// the discovery tree, where a client could make the agent write on its
// behalf; else the sender's reply topic.
func (a *Agent) replyTargetFor(p *paho.Publish, sub ids.Subject) replyTarget {
	var rt replyTarget
	if p.Properties != nil {
		rt.corr = p.Properties.CorrelationData
		if t := p.Properties.ResponseTopic; t != "" && a.responseTopicOK(t, sub) {
			rt.topic = t
			return rt
		}
	}
	if sub != "" {
		rt.topic = wire.ReplyTopic(sub)
	}
	return rt
}

func (a *Agent) responseTopicOK(t string, sub ids.Subject) bool {
	if len(t) > 1024 || !utf8.ValidString(t) || strings.ContainsAny(t, "+#\x00") || strings.HasPrefix(t, "$") {
		return false
	}
	if sub != "" {
		own := wire.ReplyTopic(sub)
		if t == own || strings.HasPrefix(t, own+"/") {
			return true
		}
	}
	if t == wire.Root || strings.HasPrefix(t, wire.Root+"/") {
		return false
	}
	p := a.haPrefix()
	return t != p && !strings.HasPrefix(t, p+"/")
}

// allow takes a token from key's bucket.
func (a *Agent) allow(key string, now time.Time) bool {
	a.limMu.Lock()
	defer a.limMu.Unlock()
	l := a.limiters[key]
	if l == nil {
		if len(a.limiters) >= maxLimiters {
			clear(a.limiters)
		}
		l = rate.NewLimiter(rate.Limit(a.opts.RateLimit), a.opts.RateBurst)
		a.limiters[key] = l
	}
	return l.AllowN(now, 1)
}

// enqueue hands t to the worker without blocking. A full queue means the
// host cannot keep up; dropping is safer than stalling the MQTT client.
func (a *Agent) enqueue(t task) {
	select {
	case a.queue <- t:
	default:
		a.log.Warn("command queue full; dropping", "client", t.sub)
	}
}

// worker runs every task in order on one goroutine, so injection never
// races and no MQTT callback waits on it.
func (a *Agent) worker() {
	defer close(a.workerDone)
	for {
		select {
		case <-a.stop:
			a.releaseAll("closing")
			if a.sweepTimer != nil {
				a.sweepTimer.Stop()
			}
			return
		case <-a.lost:
			a.releaseAll("connection lost")
		case <-a.sweep:
			a.sweepLeases()
		case t := <-a.queue:
			a.run(t)
		}
	}
}

func (a *Agent) run(t task) {
	switch t.kind {
	case taskReply:
		a.reply(t.rt, t.cmd.ID, t.err)
	case taskPresence:
		a.releaseSub(t.sub)
		a.limMu.Lock()
		delete(a.limiters, string(t.sub))
		a.limMu.Unlock()
	case taskInput:
		a.setInput(t.on)
	case taskCommand:
		a.runCommand(t)
	case taskStep:
		a.runStepTask(t)
	case taskRelease:
		a.releaseSub(t.sub)
	}
}

func (a *Agent) runCommand(t task) {
	now := a.clock.Now()
	c := t.cmd
	key := dedupKey{t.sub, c.ID}
	if c.ID != "" {
		if e, ok := a.dedupGet(key, now); ok {
			if c.Op == wire.OpKeyDown || c.Op == wire.OpMouseDown {
				a.refreshLease(c, t.sub, now)
			}
			if e.run != nil {
				a.answerRun(e.run, t.rt)
				return
			}
			a.publishReply(t.rt, e.reply)
			return
		}
	}
	if now.After(t.deadline) {
		a.reply(t.rt, c.ID, errf(wire.CodeExpired, "the command expired before it could run"))
		return
	}
	if c.TS != 0 && now.Sub(time.UnixMilli(c.TS)) > maxCommandAge {
		a.reply(t.rt, c.ID, errf(wire.CodeExpired, "the command was sent more than %v ago", maxCommandAge))
		return
	}
	if !a.inputOn.Load() {
		a.reply(t.rt, c.ID, errf(wire.CodeInputOff, "remote input is switched off on this host"))
		return
	}
	var err *cmdError
	switch c.Op {
	case wire.OpActionRun:
		// The run answers when it ends; the worker goes on at once.
		run, serr := a.startAction(t)
		if serr == nil {
			if c.ID != "" {
				a.dedupPut(key, dedupEntry{run: run}, now)
			}
			return
		}
		r := makeReply(c.ID, serr)
		if c.ID != "" {
			a.dedupPut(key, dedupEntry{reply: r}, now)
		}
		a.publishReply(t.rt, r)
		return
	case wire.OpActionCancel:
		// A run outlives a reload that drops its action, so the runs are
		// asked before the config.
		if a.cancelActions(c.Action, fmt.Errorf("action.cancel from %s", t.sub)) == 0 {
			if _, ok := a.config().action(c.Action); !ok {
				err = errf(wire.CodeUnknownAction, "unknown action %q", c.Action)
			}
		}
	case wire.OpReleaseAll:
		a.cancelActions("", errReleaseAll)
		a.releaseAll("release.all")
	default:
		err = a.execute(c, t.sub, now, leaseTime)
	}
	r := makeReply(c.ID, err)
	if c.ID != "" {
		a.dedupPut(key, dedupEntry{reply: r}, now)
	}
	a.publishReply(t.rt, r)
}

func makeReply(id string, err *cmdError) wire.Reply {
	r := wire.Reply{ID: id, OK: err == nil}
	if err != nil {
		r.Error = &wire.ErrorInfo{Code: err.code, Message: err.msg}
	}
	return r
}

func (a *Agent) reply(rt replyTarget, id string, err *cmdError) {
	a.publishReply(rt, makeReply(id, err))
}

func (a *Agent) publishReply(rt replyTarget, r wire.Reply) {
	if rt.topic == "" {
		return
	}
	b, _ := json.Marshal(r)
	p := &paho.Publish{Topic: rt.topic, QoS: 0, Payload: b}
	if rt.corr != nil {
		p.Properties = &paho.PublishProperties{CorrelationData: rt.corr}
	}
	a.publish(p)
}

// execute runs one validated input command; a key or button it presses is
// held for lease unless repeated. It is called only by the worker.
func (a *Agent) execute(c command, sub ids.Subject, now time.Time, lease time.Duration) *cmdError {
	var err error
	switch c.Op {
	case wire.OpKeyTap:
		err = a.inj.Tap(c.Key, c.Mods)
	case wire.OpKeyDown:
		err = a.press(heldInput{kind: heldKeyboard, key: c.Key}, sub, now, lease)
	case wire.OpKeyUp:
		err = a.unpress(heldInput{kind: heldKeyboard, key: c.Key}, sub)
	case wire.OpTextType:
		err = a.inj.Type(c.Text)
	case wire.OpMouseMove:
		err = a.inj.Move(c.X, c.Y, c.Rel)
	case wire.OpMouseClick:
		err = a.inj.Click(c.Button, c.Count)
	case wire.OpMouseDown:
		err = a.press(heldInput{kind: heldButton, button: c.Button}, sub, now, lease)
	case wire.OpMouseUp:
		err = a.unpress(heldInput{kind: heldButton, button: c.Button}, sub)
	case wire.OpMouseScroll:
		err = a.inj.Scroll(c.DX, c.DY)
	case wire.OpReleaseAll:
		a.releaseAll("release.all")
	default:
		return errf(wire.CodeUnknownOp, "unknown op %q", c.Op)
	}
	return injectError(err)
}

func injectError(err error) *cmdError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, input.ErrNoInput):
		return errf(wire.CodeNoInput, "this host has no input backend (no display)")
	case errors.Is(err, input.ErrUnsupported):
		return errf(wire.CodeUnsupported, "%v", err)
	case errors.Is(err, input.ErrRefused):
		return errf(wire.CodeRefused, "%v", err)
	default:
		return errf(wire.CodeInternal, "injecting input: %v", err)
	}
}

// press holds k for sub until now+lease. A key already held (by sub or
// another client) is not pressed again; sub's lease on it is renewed.
func (a *Agent) press(k heldInput, sub ids.Subject, now time.Time, lease time.Duration) error {
	h := a.held[k]
	if h == nil {
		var err error
		if k.kind == heldKeyboard {
			err = a.inj.KeyDown(k.key)
		} else {
			err = a.inj.ButtonDown(k.button)
		}
		if err != nil {
			return err
		}
		h = &hold{leases: map[ids.Subject]time.Time{}}
		a.held[k] = h
	}
	h.leases[sub] = now.Add(lease)
	a.scheduleSweep(now)
	return nil
}

// refreshLease renews sub's lease on a key it still holds, for a repeated
// down whose id was already seen.
func (a *Agent) refreshLease(c command, sub ids.Subject, now time.Time) {
	k := heldInput{kind: heldKeyboard, key: c.Key}
	if c.Op == wire.OpMouseDown {
		k = heldInput{kind: heldButton, button: c.Button}
	}
	if h := a.held[k]; h != nil {
		if _, ok := h.leases[sub]; ok {
			h.leases[sub] = now.Add(leaseTime)
			a.scheduleSweep(now)
		}
	}
}

// unpress ends sub's hold on k, releasing it if nobody else holds it. An
// up for a key that is not held is sent anyway: releasing is always safe.
func (a *Agent) unpress(k heldInput, sub ids.Subject) error {
	if h := a.held[k]; h != nil {
		delete(h.leases, sub)
		if len(h.leases) > 0 {
			return nil
		}
		delete(a.held, k)
	}
	return a.release(k)
}

func (a *Agent) release(k heldInput) error {
	if k.kind == heldKeyboard {
		return a.inj.KeyUp(k.key)
	}
	return a.inj.ButtonUp(k.button)
}

// releaseAll releases every held key and button.
func (a *Agent) releaseAll(why string) {
	if len(a.held) > 0 {
		a.log.Info("releasing held keys and buttons", "count", len(a.held), "why", why)
	}
	for _, k := range heldOrder(a.held) {
		if err := a.release(k); err != nil && !errors.Is(err, input.ErrNoInput) {
			a.log.Warn("releasing", "err", err)
		}
		delete(a.held, k)
	}
}

// releaseSub ends every lease sub holds.
func (a *Agent) releaseSub(sub ids.Subject) {
	for _, k := range heldOrder(a.held) {
		h := a.held[k]
		if _, ok := h.leases[sub]; !ok {
			continue
		}
		delete(h.leases, sub)
		if len(h.leases) == 0 {
			delete(a.held, k)
			if err := a.release(k); err != nil && !errors.Is(err, input.ErrNoInput) {
				a.log.Warn("releasing", "err", err)
			}
		}
	}
	a.log.Debug("client went offline; released its keys", "client", sub)
}

// sweepLeases releases what nobody renewed in time.
func (a *Agent) sweepLeases() {
	now := a.clock.Now()
	for _, k := range heldOrder(a.held) {
		h := a.held[k]
		for s, until := range h.leases {
			if !now.Before(until) {
				delete(h.leases, s)
			}
		}
		if len(h.leases) == 0 {
			delete(a.held, k)
			a.log.Info("releasing a key or button that was not repeated in time")
			if err := a.release(k); err != nil && !errors.Is(err, input.ErrNoInput) {
				a.log.Warn("releasing", "err", err)
			}
		}
	}
	a.scheduleSweep(now)
}

// scheduleSweep arms one timer for the earliest lease end.
func (a *Agent) scheduleSweep(now time.Time) {
	var first time.Time
	for _, h := range a.held {
		for _, until := range h.leases {
			if first.IsZero() || until.Before(first) {
				first = until
			}
		}
	}
	if a.sweepTimer != nil {
		a.sweepTimer.Stop()
		a.sweepTimer = nil
	}
	if first.IsZero() {
		return
	}
	a.sweepTimer = a.clock.AfterFunc(first.Sub(now), func() {
		select {
		case a.sweep <- struct{}{}:
		default:
		}
	})
}

func (a *Agent) dedupGet(k dedupKey, now time.Time) (dedupEntry, bool) {
	e, ok := a.dedup[k]
	if !ok || now.Sub(e.at) >= dedupWindow {
		return dedupEntry{}, false
	}
	return e, true
}

func (a *Agent) dedupPut(k dedupKey, e dedupEntry, now time.Time) {
	for len(a.dedupOrder) > 0 {
		old := a.dedupOrder[0]
		if e, ok := a.dedup[old]; ok && now.Sub(e.at) < dedupWindow {
			break
		}
		delete(a.dedup, old)
		a.dedupOrder = a.dedupOrder[1:]
	}
	if _, ok := a.dedup[k]; !ok {
		a.dedupOrder = append(a.dedupOrder, k)
	}
	e.at = now
	a.dedup[k] = e
}

// setInput switches remote input, releasing everything when it goes off,
// and keeps and announces the new state.
func (a *Agent) setInput(on bool) {
	if a.inputOn.Swap(on) == on {
		// Already so: nothing to release, save or announce (an input/set
		// flood writes no file and sends nothing).
		return
	}
	if !on {
		a.cancelActions("", errInputOff)
		a.releaseAll("remote input switched off")
	}
	a.log.Info("remote input switched", "on", on)
	if err := saveInputState(a.opts.StateDir, on); err != nil {
		a.log.Warn("saving the remote input state", "err", err)
	}
	a.publish(&paho.Publish{Topic: wire.InputTopic(a.host), QoS: 1, Retain: true, Payload: []byte(onOff(on))})
}

func base64URLDecode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
