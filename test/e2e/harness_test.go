// Package e2e tests mfd from the outside: it builds the real binary, starts
// `mfd serve` on loopback and talks to it over HTTPS, WSS and TLS TCP as a
// panel, an attacker or an integration would.
package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
	"github.com/openmfd/mfd/internal/winetest"
)

var mfdBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mfd-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer winetest.Shutdown()
	mfdBin = filepath.Join(dir, "mfd")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", mfdBin, "./cmd/mfd")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mfd:", err)
		return 1
	}
	return m.Run()
}

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until

// syncBuffer collects output that one goroutine writes while another reads.
type syncBuffer = syncbuf.Buffer

// server is one running `mfd serve`.
type server struct {
	t        *testing.T
	stateDir string
	addr     string // host:port of the HTTPS listener
	tlsAddr  string // host:port of --mqtt-tls
	cmd      *exec.Cmd
	out      *syncBuffer
	done     chan struct{}
	extra    []string
	display  string // with withAgent: the X display of the local agent
	agent    bool   // run the local agent (no --no-agent)
	config   string // --config FILE
	proc     func(*exec.Cmd)
	wine     *winetest.Wine
	exe      string // with withWine: the mfd.exe that runs under wine
}

type serverOpt func(*server)

func withStateDir(d string) serverOpt { return func(s *server) { s.stateDir = d } }
func withArgs(a ...string) serverOpt  { return func(s *server) { s.extra = append(s.extra, a...) } }
func withAddr(addr string) serverOpt  { return func(s *server) { s.addr = addr } }

// withAgent runs the server's own agent, driving X display (":5"); without
// it the server runs with --no-agent.
func withAgent(display string) serverOpt {
	return func(s *server) { s.agent, s.display = true, display }
}

// withProc lets f change the command before it starts: another user,
// binary or environment (a Wayland session's).
func withProc(f func(*exec.Cmd)) serverOpt { return func(s *server) { s.proc = f } }

// withConfig passes --config path, the host config YAML.
func withConfig(path string) serverOpt { return func(s *server) { s.config = path } }

// withWine runs the Windows build exe under w, with its own agent driving
// the window in front of w's display; the server's CLI commands run
// there too.
func withWine(w *winetest.Wine, exe string) serverOpt {
	return func(s *server) { s.wine, s.exe, s.agent = w, exe, true }
}

// command returns `mfd ARGS`, natively or under Wine.
func (s *server) command(ctx context.Context, args ...string) *exec.Cmd {
	if s.wine != nil {
		cmd := s.wine.CommandContext(ctx, s.exe, args...)
		cmd.Env = append(cmd.Env, "MFD_STATE_DIR=")
		return cmd
	}
	cmd := exec.CommandContext(ctx, mfdBin, args...)
	cmd.Env = append(os.Environ(), "MFD_STATE_DIR=", "DISPLAY="+s.display)
	return cmd
}

// statePath is the state dir as the server's binary names it.
func (s *server) statePath() string { return s.path(s.stateDir) }

// path is the file p as the server's binary names it.
func (s *server) path(p string) string {
	if s.wine != nil {
		return winetest.WinPath(p)
	}
	return p
}

func startServer(t *testing.T, opts ...serverOpt) *server {
	t.Helper()
	s := &server{t: t, out: &syncBuffer{}, done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.stateDir == "" {
		s.stateDir = t.TempDir()
	}
	if s.addr == "" {
		s.addr = fmt.Sprintf("127.0.0.1:%d", freeport.Must(t))
	}
	s.tlsAddr = fmt.Sprintf("127.0.0.1:%d", freeport.Must(t))
	args := []string{"serve", "--state-dir", s.statePath(), "--listen", s.addr, "--mqtt-tls", s.tlsAddr}
	if !s.agent {
		args = append(args, "--no-agent")
	}
	if s.config != "" {
		args = append(args, "--config", s.path(s.config))
	}
	args = append(args, s.extra...)
	s.cmd = s.command(context.Background(), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if s.proc != nil {
		s.proc(s.cmd)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting mfd serve: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	checkFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-s.done:
			t.Fatalf("mfd serve exited early:\n%s", s.out)
		default:
		}
		_, err := s.info()
		return err
	})
	return s
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) kill9() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// rssKiB reads the server's resident set size.
func (s *server) rssKiB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

var insecure = &http.Client{
	Timeout: 40 * time.Second,
	Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 4,
	},
}

type info struct {
	ServerID    string `json:"server_id"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	API         int    `json:"api"`
	Fingerprint string `json:"tls_fingerprint_sha256"`
	MQTTPath    string `json:"mqtt_path"`
}

func (s *server) info() (info, error) {
	var i info
	resp, err := insecure.Get("https://" + s.addr + "/info")
	if err != nil {
		return i, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return i, fmt.Errorf("GET /info: %s", resp.Status)
	}
	return i, json.NewDecoder(resp.Body).Decode(&i)
}

// authResp is any answer of POST /authorise.
type authResp struct {
	Status int
	Header http.Header
	Raw    string

	Token       string          `json:"token"`
	ExpiresAt   time.Time       `json:"expires_at"`
	Sub         string          `json:"sub"`
	Role        string          `json:"role"`
	ServerID    string          `json:"server_id"`
	Topics      json.RawMessage `json:"topics"`
	State       string          `json:"status"`
	PairingCode string          `json:"pairing_code"`
	RetryAfter  int             `json:"retry_after"`
	Error       struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *server) authoriseRaw(body, query, origin string) authResp {
	s.t.Helper()
	a, err := s.tryAuthoriseRaw(body, query, origin)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// tryAuthoriseRaw is authoriseRaw that returns its failure instead of
// failing the test: for goroutines other than the test's, and for a
// server that may be gone.
func (s *server) tryAuthoriseRaw(body, query, origin string) (authResp, error) {
	req, _ := http.NewRequest("POST", "https://"+s.addr+"/authorise"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return authResp{}, fmt.Errorf("POST /authorise: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a authResp
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("POST /authorise answered %s with a body that is not JSON: %q", resp.Status, b)
	}
	a.Status, a.Header, a.Raw = resp.StatusCode, resp.Header, string(b)
	return a, nil
}

func (s *server) authorise(key, name, role string, extra map[string]string) authResp {
	s.t.Helper()
	m := map[string]string{"client_id": key, "name": name}
	if role != "" {
		m["role"] = role
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return s.authoriseRaw(string(b), "", "")
}

// cli runs `mfd ARGS --state-dir DIR` against this server.
func (s *server) cli(args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := s.command(ctx, append(args, "--state-dir", s.statePath())...)
	out, err := cmd.CombinedOutput()
	return string(out), winetest.Exited(err)
}

type clientRow struct {
	Sub         string `json:"sub"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	State       string `json:"state"`
	PairingCode string `json:"pairing_code"`
}

func (s *server) list() []clientRow {
	s.t.Helper()
	out, err := s.cli("clients", "list", "--json")
	if err != nil {
		s.t.Fatalf("mfd clients list --json: %v\n%s", err, out)
	}
	var rows []clientRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		s.t.Fatalf("mfd clients list --json printed %q: %v", out, err)
	}
	return rows
}

// pair runs the whole flow for a new client: request, see the code in
// `mfd clients list`, approve it by code, and get a token.
func (s *server) pair(name, role string, extra map[string]string) (key string, a authResp) {
	s.t.Helper()
	key = uuid.NewString()
	p := s.authorise(key, name, role, extra)
	if p.Status != 202 || len(p.PairingCode) != 6 {
		s.t.Fatalf("first POST /authorise = %d %s, want 202 with a 6-digit code", p.Status, p.Raw)
	}
	var seen bool
	for _, r := range s.list() {
		if r.PairingCode == p.PairingCode && r.State == "pending" && r.Name == name {
			seen = true
		}
	}
	if !seen {
		s.t.Fatalf("mfd clients list does not show pending %q with code %s: %+v", name, p.PairingCode, s.list())
	}
	if out, err := s.cli("clients", "approve", p.PairingCode); err != nil {
		s.t.Fatalf("mfd clients approve %s: %v\n%s", p.PairingCode, err, out)
	}
	a = s.authorise(key, name, role, extra)
	if a.Status != 200 || a.Token == "" || a.Sub == "" {
		s.t.Fatalf("POST /authorise after approval = %d %s, want 200 with a token", a.Status, a.Raw)
	}
	return key, a
}
