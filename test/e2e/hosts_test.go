package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostStatus is a host's retained status message.
type hostStatus struct {
	Host    string `json:"host"`
	Name    string `json:"name"`
	Online  bool   `json:"online"`
	OS      string `json:"os"`
	Input   string `json:"input"`
	Version string `json:"version"`
	Screen  struct {
		W int `json:"w"`
		H int `json:"h"`
	} `json:"screen"`
	Caps struct {
		Unicode    bool `json:"unicode"`
		PointerAbs bool `json:"pointer_abs"`
		Scroll     bool `json:"scroll"`
	} `json:"caps"`
}

func (h hostStatus) String() string {
	return fmt.Sprintf("{host %s online %v input %s screen %dx%d}", h.Host, h.Online, h.Input, h.Screen.W, h.Screen.H)
}

// panel is an approved panel connected over WSS with the raw MQTT 5
// client; it listens on its own reply tree.
type panel struct {
	t   *testing.T
	s   *server
	sub string
	tok string
	rc  *rawClient
}

// on returns the panel for use in test t (a subtest): its failures must
// end t, not the test that made the panel.
func (p *panel) on(t *testing.T) *panel {
	q := *p
	q.t = t
	return &q
}

// replyTopic is where the panel asks for its replies (the Response Topic).
func (p *panel) replyTopic() string { return "mfd/v1/clients/" + p.sub + "/reply/e2e" }

// newPanel pairs a panel through /authorise and `mfd clients approve CODE`
// and connects it over WSS, subscribed to its reply tree.
func newPanel(t *testing.T, s *server, name string) *panel {
	t.Helper()
	_, a := s.pair(name, "panel", nil)
	p := &panel{t: t, s: s, sub: a.Sub, tok: a.Token}
	p.rc = p.connect("/cmds")
	if code, err := p.rc.subscribe(1, "mfd/v1/clients/"+p.sub+"/reply/#"); err != nil || code != 0 {
		t.Fatalf("SUBSCRIBE to its own reply tree = %#x, %v, want 0", code, err)
	}
	return p
}

// connect opens another MQTT 5 session over WSS as this panel, with client
// identifier sub+suffix; it is closed when the test ends.
func (p *panel) connect(suffix string) *rawClient {
	p.t.Helper()
	rc, code := connectWSS(p.t, p.s, p.sub+suffix, p.sub, p.tok)
	if code != 0 {
		p.t.Fatalf("CONNECT as panel %s = %#x, want 0", p.sub, code)
	}
	p.t.Cleanup(rc.close)
	return rc
}

// reply is an agent's answer to a command.
type reply struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (r reply) String() string {
	if r.Error != nil {
		return fmt.Sprintf("{id %q ok %v error %s: %s}", r.ID, r.OK, r.Error.Code, r.Error.Message)
	}
	return fmt.Sprintf("{id %q ok %v}", r.ID, r.OK)
}

var tenSeconds = uint32(10)

// send publishes cmd (JSON-encoded unless it is a string or []byte) to
// host's cmd topic the way a panel does: QoS 0, Message Expiry 10 s, a
// Response Topic under its own reply tree and Correlation Data corr.
func (p *panel) send(host string, cmd any, corr string) {
	p.t.Helper()
	var b []byte
	switch v := cmd.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			p.t.Fatal(err)
		}
	}
	props := pubProps{responseTopic: p.replyTopic(), correlation: []byte(corr), expiry: &tenSeconds}
	if err := p.rc.sendPublish("mfd/v1/hosts/"+host+"/cmd/"+p.sub, b, props); err != nil {
		p.t.Fatalf("publishing a command: %v", err)
	}
}

// nextReply reads the next reply; it checks that it came to the Response
// Topic with Correlation Data corr echoed.
func (p *panel) nextReply(corr string) reply {
	p.t.Helper()
	m, err := p.rc.readMessage(10 * time.Second)
	if err != nil {
		p.t.Fatalf("waiting for the reply with correlation %q: %v", corr, err)
	}
	if m.topic != p.replyTopic() {
		p.t.Fatalf("reply arrived on %q, want the Response Topic %q", m.topic, p.replyTopic())
	}
	if string(m.props.correlation) != corr {
		p.t.Fatalf("reply %s carries Correlation Data %q, want %q", m.payload, m.props.correlation, corr)
	}
	var r reply
	if err := json.Unmarshal(m.payload, &r); err != nil {
		p.t.Fatalf("reply %q is not JSON: %v", m.payload, err)
	}
	return r
}

// do sends cmd with correlation data corr, waits for its reply and fails
// the test unless it is ok:true for cmd's id.
func (p *panel) do(host string, cmd map[string]any, corr string) {
	p.t.Helper()
	p.send(host, cmd, corr)
	r := p.nextReply(corr)
	if !r.OK || r.ID != cmd["id"] || r.Error != nil {
		p.t.Fatalf("command %v: reply %v, want ok for id %q", cmd, r, cmd["id"])
	}
}

// waitStatus subscribes to every host's status as client rc and reads
// (retained ones first) until one satisfies ok; it returns that one.
func waitStatus(t *testing.T, rc *rawClient, what string, ok func(hostStatus) bool) hostStatus {
	t.Helper()
	if code, err := rc.subscribe(7, "mfd/v1/hosts/+/status"); err != nil || code != 0 {
		t.Fatalf("SUBSCRIBE mfd/v1/hosts/+/status = %#x, %v, want 0", code, err)
	}
	var seen []hostStatus
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := rc.readMessage(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v; statuses seen: %v", what, err, seen)
		}
		if !strings.HasSuffix(m.topic, "/status") {
			continue
		}
		var st hostStatus
		if err := json.Unmarshal(m.payload, &st); err != nil {
			t.Fatalf("status on %s is not JSON: %q", m.topic, m.payload)
		}
		if m.topic != "mfd/v1/hosts/"+st.Host+"/status" {
			t.Fatalf("status on %s names host %q", m.topic, st.Host)
		}
		if ok(st) {
			return st
		}
		seen = append(seen, st)
	}
}

// onlineX11 matches an online host that drives X11.
func onlineX11(st hostStatus) bool { return st.Online && st.Input == "x11" }

// proc is a process a test started, with its output collected.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startProc starts name args with extra environment env; it is stopped
// when the test ends.
func startProc(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(append(os.Environ(), "MFD_STATE_DIR="), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop interrupts the process and waits for it, killing it after 5 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitOutput waits until the output matches re and returns the
// submatches; it fails if the process ends first.
func (p *proc) waitOutput(re string, total time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	checkFor(p.t, total, 10*time.Millisecond, func() error {
		if m = rx.FindStringSubmatch(p.out.String()); m != nil {
			return nil
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, re, p.out)
		default:
		}
		return fmt.Errorf("%s has not printed %q:\n%s", p.name, re, p.out)
	})
	return m
}

// wait waits for the process to end by itself and returns Wait's error.
func (p *proc) wait(total time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(total):
		p.t.Fatalf("%s still running after %v:\n%s", p.name, total, p.out)
	}
	return nil
}
