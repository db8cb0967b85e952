package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// Limits on running actions.
const (
	// maxRunning bounds the actions running at once, so that presses of
	// actions that allow overlap cannot pile up goroutines and programs.
	maxRunning = 16
	// actionLease is how long a key.down step of an action holds its key
	// without being repeated: the run releases what it holds when it ends,
	// so this is only a backstop.
	actionLease = time.Hour
	// execWaitGrace is how long a killed program's pipes may stay open.
	execWaitGrace = 2 * time.Second
)

// Reasons a run is cancelled; the run's reply names them.
var (
	errReleaseAll = errors.New("release.all")
	errInputOff   = errors.New("remote input was switched off")
	errClosing    = errors.New("the agent is closing")
)

// actionRun is one run of an action. It runs on its own goroutine, outside
// the worker's lane, so that nothing else waits for its sleeps and
// programs; its command steps are handed to the worker one at a time.
type actionRun struct {
	action *Action
	sub    ids.Subject // who asked; named in the press event
	// holder owns the leases of the run's key.down and mouse.down steps,
	// so that a cancel or the run's end releases exactly those.
	holder ids.Subject
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Guarded by Agent.actMu.
	done  bool
	reply wire.Reply
	rts   []replyTarget // everyone to answer when it ends (a repeated id)
}

// maxWaiters bounds the answers one run keeps for repeats of its id.
const maxWaiters = 8

// startAction starts a run of action c.Action for t.sub, answered to t.rt
// when it ends. It refuses an unknown action, a second run of one that is
// running unless the config allows overlap, and more than maxRunning runs.
func (a *Agent) startAction(t task) (*actionRun, *cmdError) {
	c := t.cmd
	act, ok := a.config().action(c.Action)
	if !ok {
		return nil, errf(wire.CodeUnknownAction, "unknown action %q", c.Action)
	}
	a.actMu.Lock()
	defer a.actMu.Unlock()
	if a.closing.Load() {
		return nil, errf(wire.CodeCancelled, "%s", errClosing)
	}
	if len(a.runs) >= maxRunning {
		return nil, errf(wire.CodeBusy, "%d actions are running, the limit is %d", len(a.runs), maxRunning)
	}
	if !act.Overlap {
		for _, r := range a.runs {
			if r.action.ID == act.ID {
				return nil, errf(wire.CodeBusy, "action %q is already running", act.ID)
			}
		}
	}
	a.runSeq++
	r := &actionRun{
		action: act,
		sub:    t.sub,
		holder: ids.Subject("action:" + act.ID + ":" + strconv.FormatUint(a.runSeq, 10)),
		rts:    []replyTarget{t.rt},
	}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	r.reply.ID = c.ID
	a.runs = append(a.runs, r)
	a.actions.Add(1)
	go a.runAction(r)
	return r, nil
}

// answerRun answers a repeat of a run's id: with its reply if it ended,
// else when it ends.
func (a *Agent) answerRun(r *actionRun, rt replyTarget) {
	a.actMu.Lock()
	if !r.done {
		if len(r.rts) < maxWaiters {
			r.rts = append(r.rts, rt)
		}
		a.actMu.Unlock()
		return
	}
	reply := r.reply
	a.actMu.Unlock()
	a.publishReply(rt, reply)
}

// cancelActions cancels the running runs of action id ("" for every
// action) and returns how many it cancelled. Each run stops before its
// next step, its waited programs are killed and what it holds is released.
func (a *Agent) cancelActions(id string, why error) int {
	a.actMu.Lock()
	defer a.actMu.Unlock()
	n := 0
	for _, r := range a.runs {
		if (id == "" || r.action.ID == id) && r.ctx.Err() == nil {
			r.cancel(why)
			n++
		}
	}
	if n > 0 {
		a.log.Info("cancelling running actions", "action", id, "count", n, "why", why)
	}
	return n
}

// runAction runs r's steps, then releases what it holds and answers
// everyone waiting for it.
func (a *Agent) runAction(r *actionRun) {
	defer a.actions.Done()
	a.log.Info("running action", "action", r.action.ID, "client", r.sub)
	start := a.clock.Now()
	err := a.runSteps(r)
	r.cancel(nil) // frees the context; a run that finished stays finished
	a.onWorker(task{kind: taskRelease, sub: r.holder})

	a.actMu.Lock()
	r.done = true
	r.reply = makeReply(r.reply.ID, err)
	reply, rts := r.reply, r.rts
	for i, x := range a.runs {
		if x == r {
			a.runs = append(a.runs[:i], a.runs[i+1:]...)
			break
		}
	}
	a.actMu.Unlock()

	if err != nil {
		a.log.Info("action ended", "action", r.action.ID, "took", a.clock.Now().Sub(start), "code", err.code, "err", err.msg)
	} else {
		a.log.Info("action ended", "action", r.action.ID, "took", a.clock.Now().Sub(start))
	}
	for _, rt := range rts {
		a.publishReply(rt, reply)
	}
	if err == nil {
		a.probeNow(r.action.ID)
		b, _ := json.Marshal(wire.Event{EventType: "press", Action: r.action.ID, Sub: r.sub})
		a.publish(&paho.Publish{Topic: wire.EventsTopic(a.host), QoS: 0, Payload: b})
	}
}

func (a *Agent) runSteps(r *actionRun) *cmdError {
	for i, s := range r.action.Steps {
		if r.ctx.Err() != nil {
			return a.cancelled(r, i)
		}
		var err *cmdError
		switch {
		case s.Op != "":
			err = a.runStep(r, s.cmd)
		case len(s.Exec) > 0 && s.Wait:
			err = a.runExec(r.ctx, s.Exec)
		case len(s.Exec) > 0:
			err = a.startExec(s.Exec)
		default:
			if !a.sleep(r.ctx, s.Sleep) {
				return a.cancelled(r, i)
			}
		}
		if err != nil {
			if err.code == wire.CodeCancelled || r.ctx.Err() != nil {
				return a.cancelled(r, i)
			}
			err.msg = fmt.Sprintf("action %q step %d: %s", r.action.ID, i+1, err.msg)
			return err
		}
	}
	return nil
}

// cancelled is the error of run r stopped before or during step i (from 0).
func (a *Agent) cancelled(r *actionRun, i int) *cmdError {
	why := context.Cause(r.ctx)
	select {
	case <-a.stop:
		why = errClosing
	default:
	}
	if why == nil || errors.Is(why, context.Canceled) {
		why = errClosing
	}
	return errf(wire.CodeCancelled, "action %q cancelled at step %d of %d: %v", r.action.ID, i+1, len(r.action.Steps), why)
}

// runStep hands one command step to the worker, which owns the injector
// and the held keys, and waits for it: other commands wait for at most one
// step of an action, never for the whole action.
func (a *Agent) runStep(r *actionRun, c command) *cmdError {
	res := make(chan *cmdError, 1)
	select {
	case a.queue <- task{kind: taskStep, cmd: c, sub: r.holder, run: r, res: res}:
	case <-r.ctx.Done():
		return errf(wire.CodeCancelled, "cancelled")
	case <-a.stop:
		return errf(wire.CodeCancelled, "cancelled")
	}
	select {
	case err := <-res:
		return err
	case <-a.stop:
		return errf(wire.CodeCancelled, "cancelled")
	}
}

// onWorker queues t for the worker, waiting for room; it gives up when the
// agent closes (the worker then releases everything anyway).
func (a *Agent) onWorker(t task) {
	select {
	case a.queue <- t:
	case <-a.stop:
	}
}

// runStepTask is the worker's half of runStep.
func (a *Agent) runStepTask(t task) {
	switch {
	case t.run.ctx.Err() != nil:
		t.res <- errf(wire.CodeCancelled, "cancelled")
	case !a.inputOn.Load():
		t.res <- errf(wire.CodeInputOff, "remote input is switched off on this host")
	default:
		t.res <- a.execute(t.cmd, t.sub, a.clock.Now(), actionLease)
	}
}

// startExec starts argv (from the host config, never from the network)
// without a shell and without waiting for it; a goroutine reaps it.
func (a *Agent) startExec(argv []string) *cmdError {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		a.log.Warn("starting an exec step", "program", argv[0], "err", err)
		return errf(wire.CodeInternal, "starting %s: %v", argv[0], err)
	}
	a.log.Info("started program", "program", argv[0], "pid", cmd.Process.Pid)
	go func() { _ = cmd.Wait() }()
	return nil
}

// runExec runs argv and waits for it, at most maxSleepStep. Cancelling
// ctx kills it and, where the OS allows, every process it started.
func (a *Agent) runExec(run context.Context, argv []string) *cmdError {
	ctx, cancel := context.WithTimeout(run, maxSleepStep)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	killTree(cmd)
	cmd.WaitDelay = execWaitGrace
	if err := cmd.Start(); err != nil {
		a.log.Warn("starting an exec step", "program", argv[0], "err", err)
		return errf(wire.CodeInternal, "starting %s: %v", argv[0], err)
	}
	a.log.Info("started program; waiting for it", "program", argv[0], "pid", cmd.Process.Pid)
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case run.Err() != nil:
		return errf(wire.CodeCancelled, "cancelled")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errf(wire.CodeInternal, "%s did not exit within %v and was stopped", argv[0], maxSleepStep)
	case errors.As(err, &ee):
		return errf(wire.CodeInternal, "%s failed (%v)", argv[0], ee.ProcessState)
	default:
		return errf(wire.CodeInternal, "running %s: %v", argv[0], err)
	}
}

// sleep waits d on the agent's clock; false if ctx ended or the agent
// closed meanwhile.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	done := make(chan struct{})
	t := a.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-a.stop:
	}
	t.Stop()
	return false
}
