// Package mosqtest runs a private Mosquitto on loopback ports, for the
// tests that check the agent against a real third-party broker and for the
// bench, which measures one. Start needs no testing.TB; Run is Start for
// tests, which skips (or, with CI=true, fails) when Mosquitto is missing.
package mosqtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/prereq"
	"github.com/openmfd/mfd/internal/syncbuf"
)

// Install is the command line that installs Mosquitto and its clients on
// Debian.
const Install = "sudo apt-get install -y mosquitto mosquitto-clients"

// ErrMissing means Mosquitto or mosquitto_passwd is not installed.
var ErrMissing = errors.New("mosquitto is not installed; install with: " + Install)

// Options configure Start.
type Options struct {
	// Dir holds the config and password files; it must exist. When the
	// process runs as root, Mosquitto stays root so that it can read Dir.
	Dir string
	// Users are the accounts in the password file. None means anonymous
	// clients are allowed.
	Users map[string]string
	// CertFile and KeyFile, when set, add a listener for MQTT over TLS.
	CertFile, KeyFile string
	// MaxQueued raises Mosquitto's per-client queue (default 1000 messages)
	// when set.
	MaxQueued int
}

// Broker is a running Mosquitto. Its methods are not safe for concurrent
// use.
type Broker struct {
	// Addr is the plain MQTT listener's host:port, and Port its port.
	Addr string
	Port int
	// TLSAddr is the MQTT over TLS listener's host:port, when
	// Options.CertFile is set.
	TLSAddr string

	bin, conf string
	cmd       *exec.Cmd
	exited    chan struct{}
	out       syncbuf.Buffer
}

// Find returns the paths of mosquitto and mosquitto_passwd, looking in sbin
// too (where Debian puts the broker), or ErrMissing.
func Find() (broker, passwd string, err error) {
	broker, passwd = look("mosquitto"), look("mosquitto_passwd")
	if broker == "" || passwd == "" {
		return "", "", ErrMissing
	}
	return broker, passwd, nil
}

func look(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Start writes a config into o.Dir, starts Mosquitto with it on free
// loopback ports and returns once every listener accepts connections. The
// caller stops it with Kill.
func Start(o Options) (*Broker, error) {
	bin, passwd, err := Find()
	if err != nil {
		return nil, err
	}
	conf, err := o.config(passwd)
	if err != nil {
		return nil, err
	}
	port, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, bin: bin, conf: filepath.Join(o.Dir, "mosquitto.conf")}
	conf = fmt.Sprintf("listener %d 127.0.0.1\n", port) + conf
	if o.CertFile != "" {
		tlsPort, err := freeport.Get()
		if err != nil {
			return nil, err
		}
		b.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
		conf += fmt.Sprintf("listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n", tlsPort, o.CertFile, o.KeyFile)
	}
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("writing mosquitto.conf: %w", err)
	}
	if err := b.Restart(); err != nil {
		return nil, err
	}
	return b, nil
}

// config returns the settings every listener shares (per_listener_settings
// is off), writing the password file when there are users.
func (o Options) config(passwd string) (string, error) {
	conf := "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
	if len(o.Users) == 0 {
		conf += "allow_anonymous true\n"
	} else {
		pwfile := filepath.Join(o.Dir, "passwd")
		first := true
		for u, p := range o.Users {
			args := []string{"-b", pwfile, u, p}
			if first {
				args = append([]string{"-c"}, args...)
				first = false
			}
			if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
				return "", fmt.Errorf("running mosquitto_passwd: %w: %s", err, out)
			}
		}
		conf += "allow_anonymous false\npassword_file " + pwfile + "\n"
	}
	if o.MaxQueued > 0 {
		conf += fmt.Sprintf("max_queued_messages %d\n", o.MaxQueued)
	}
	if os.Geteuid() == 0 {
		// As root, Mosquitto would switch to its own user, which cannot
		// read a private temp dir.
		conf += "user root\n"
	}
	return conf, nil
}

// Restart starts Mosquitto again, on the same ports and config, after
// Kill; Start calls it the first time. It returns once every listener
// accepts connections.
func (b *Broker) Restart() error {
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("starting mosquitto: %w", err)
	}
	exited := make(chan struct{})
	b.exited = exited
	go func() { _ = b.cmd.Wait(); close(exited) }()
	addrs := []string{b.Addr}
	if b.TLSAddr != "" {
		addrs = append(addrs, b.TLSAddr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Kill()
				return fmt.Errorf("waiting for mosquitto on %s: %w: %s", a, err, b.Output())
			}
			select {
			case <-exited:
				return fmt.Errorf("starting mosquitto: it exited: %s", b.Output())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// Pid returns the process id of the running Mosquitto.
func (b *Broker) Pid() int { return b.cmd.Process.Pid }

// Output returns what Mosquitto has logged (errors and warnings).
func (b *Broker) Output() string { return b.out.String() }

// Kill stops Mosquitto at once (SIGKILL) and waits for it to exit. Calling
// it again is harmless.
func (b *Broker) Kill() {
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// Run is Start for tests: it skips tb with the install line when Mosquitto
// is missing (fails it when CI=true, where every prerequisite is
// installed), puts the files in a temp dir, fails tb on any other error and
// kills Mosquitto when the test ends, logging its output if the test
// failed.
func Run(tb testing.TB, o Options) *Broker {
	tb.Helper()
	Require(tb)
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	b, err := Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		b.Kill()
		if tb.Failed() {
			tb.Logf("mosquitto said: %s", b.Output())
		}
	})
	return b
}

// Require skips tb with the install line when Mosquitto or
// mosquitto_passwd is missing; with CI=true it fails tb instead.
func Require(tb testing.TB) {
	tb.Helper()
	if _, _, err := Find(); err != nil {
		prereq.Missing(tb, err.Error())
	}
}

// RequireClients is Require for mosquitto_pub and mosquitto_sub.
func RequireClients(tb testing.TB) {
	tb.Helper()
	if look("mosquitto_pub") == "" || look("mosquitto_sub") == "" {
		prereq.Missing(tb, "mosquitto's clients are not installed; install with: "+Install)
	}
}
