// Package compose checks the container files without a Docker engine: it
// parses docker-compose.yml and the Dockerfile, checks that everything one
// names agrees with the other and with the binary's flags, builds the
// binary the way the Dockerfile does, and runs the container's command
// line against it.
package compose

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/openmfd/mfd/internal/freeport"
	"github.com/openmfd/mfd/internal/poll"
	"github.com/openmfd/mfd/internal/syncbuf"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// composeFile is the part of the Compose specification this project uses.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

// service is one Compose service; nil Command and Entrypoint mean the
// image's.
type service struct {
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Restart     string            `yaml:"restart"`
}

// dockerfile is what the test reads from a Dockerfile: its instructions,
// with line continuations joined, per stage.
type dockerfile struct {
	stages []stage
}

type stage struct {
	from, name string
	instrs     []instr
}

type instr struct {
	cmd  string // upper case
	args string
	line int
}

func parseDockerfile(t *testing.T, b []byte) dockerfile {
	t.Helper()
	var df dockerfile
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		in := instr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			t.Fatalf("Dockerfile line %d: %s before FROM", start, in.cmd)
		}
		s := &df.stages[len(df.stages)-1]
		s.instrs = append(s.instrs, in)
	}
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a runtime stage", len(df.stages))
	}
	return df
}

func (s stage) all(cmd string) []instr {
	var out []instr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the last instruction cmd of the stage, which is the one in
// effect.
func (s stage) last(t *testing.T, cmd string) instr {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		t.Fatalf("the runtime stage has no %s", cmd)
	}
	return all[len(all)-1]
}

// execForm parses a JSON-array (exec form) argument, the only form whose
// meaning does not depend on a shell the runtime image may not have.
func execForm(t *testing.T, in instr) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(in.args), &out); err != nil {
		t.Fatalf("Dockerfile line %d: %s %s is not in exec form: %v", in.line, in.cmd, in.args, err)
	}
	return out
}

// env parses ENV key=value pairs (the only form used here).
func (s stage) env(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Dockerfile line %d: ENV %s: want KEY=value", in.line, in.args)
			}
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

type files struct {
	root    string
	compose composeFile
	df      dockerfile
	run     stage // the runtime stage
}

func load(t *testing.T) files {
	t.Helper()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f files
	f.root = root
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key is an error, not a silent default
	if err := dec.Decode(&f.compose); err != nil {
		t.Fatalf("parsing docker-compose.yml: %v", err)
	}
	svc, ok := f.compose.Services["mfd"]
	if !ok {
		t.Fatalf("docker-compose.yml has no service mfd")
	}
	ctx := filepath.Join(root, svc.Build.Context)
	dfName := svc.Build.Dockerfile
	if dfName == "" {
		dfName = "Dockerfile"
	}
	db, err := os.ReadFile(filepath.Join(ctx, dfName))
	if err != nil {
		t.Fatalf("the service's Dockerfile: %v", err)
	}
	f.df = parseDockerfile(t, db)
	f.run = f.df.stages[len(f.df.stages)-1]
	return f
}

func (f files) service() service { return f.compose.Services["mfd"] }

// containerCommand is the command line the container runs: the compose
// file's entrypoint and command where it sets them, else the image's.
func (f files) containerCommand(t *testing.T) []string {
	t.Helper()
	svc := f.service()
	entry := svc.Entrypoint
	if entry == nil {
		entry = execForm(t, f.run.last(t, "ENTRYPOINT"))
	}
	cmd := svc.Command
	if cmd == nil {
		cmd = execForm(t, f.run.last(t, "CMD"))
	}
	return append(slices.Clone(entry), cmd...)
}

// buildCommand finds the builder stage's `go build` and returns its
// environment assignments and arguments.
func (f files) buildCommand(t *testing.T) (env []string, args []string) {
	t.Helper()
	for _, st := range f.df.stages[:len(f.df.stages)-1] {
		for _, in := range st.all("RUN") {
			words := strings.Fields(in.args)
			i := 0
			for i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-") {
				env = append(env, words[i])
				i++
			}
			if i+1 < len(words) && words[i] == "go" && words[i+1] == "build" {
				return env, unquote(words[i:])
			}
			env = nil
		}
	}
	t.Fatal("the Dockerfile's builder stage has no RUN [VAR=value...] go build")
	return nil, nil
}

// unquote joins the words of a double-quoted argument and strips the
// quotes: enough shell for a go build line.
func unquote(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, `"`) && !(len(w) > 1 && strings.HasSuffix(w, `"`)) {
			for i+1 < len(words) && !strings.HasSuffix(w, `"`) {
				i++
				w += " " + words[i]
			}
		}
		out = append(out, strings.Trim(w, `"`))
	}
	return out
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// flagValue returns the value of --name in args (either "--name v" or
// "--name=v"), and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = "-" + strings.TrimLeft(a, "-")
		if a == "-"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func TestComposeMatchesDockerfile(t *testing.T) {
	f := load(t)
	svc := f.service()

	if svc.Restart != "unless-stopped" {
		t.Errorf("restart = %q, want unless-stopped", svc.Restart)
	}
	if svc.Build.Context == "" {
		t.Errorf("the service is not built from a context")
	}
	if st := f.df.stages[0]; !strings.HasPrefix(st.from, "golang:1.26") || st.name == "" {
		t.Errorf("builder stage FROM %s AS %q, want golang:1.26 AS a name", st.from, st.name)
	}
	if strings.HasPrefix(f.run.from, "golang") {
		t.Errorf("runtime stage FROM %s: want a small image, not the toolchain", f.run.from)
	}

	// A non-root user in the runtime stage.
	user := strings.Split(f.run.last(t, "USER").args, ":")[0]
	if user == "" || user == "0" || user == "root" {
		t.Errorf("USER %q: the server must not run as root", user)
	}

	// The state dir: one path in VOLUME, ENV MFD_STATE_DIR, the compose
	// environment and the compose volume.
	env := f.run.env(t)
	stateDir := env["MFD_STATE_DIR"]
	if stateDir == "" || !path.IsAbs(stateDir) {
		t.Fatalf("ENV MFD_STATE_DIR = %q, want an absolute path", stateDir)
	}
	var dfVolumes []string
	for _, in := range f.run.all("VOLUME") {
		if strings.HasPrefix(in.args, "[") {
			dfVolumes = append(dfVolumes, execForm(t, in)...)
		} else {
			dfVolumes = append(dfVolumes, strings.Fields(in.args)...)
		}
	}
	if !slices.Contains(dfVolumes, stateDir) {
		t.Errorf("VOLUME %v does not hold MFD_STATE_DIR %s", dfVolumes, stateDir)
	}
	if v, ok := svc.Environment["MFD_STATE_DIR"]; ok && v != stateDir {
		t.Errorf("compose MFD_STATE_DIR = %q, the image's is %q", v, stateDir)
	}
	var mounted bool
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Errorf("volume %q: want SOURCE:TARGET", v)
			continue
		}
		src, dst := parts[0], parts[1]
		if !slices.Contains(dfVolumes, dst) {
			t.Errorf("volume %q mounts %s, which the Dockerfile does not declare (VOLUME %v)", v, dst, dfVolumes)
		}
		if dst == stateDir {
			mounted = true
		}
		if !strings.ContainsAny(src, "./~") {
			if _, ok := f.compose.Volumes[src]; !ok {
				t.Errorf("named volume %q is not declared under the top-level volumes", src)
			}
		}
	}
	if !mounted {
		t.Errorf("no compose volume is mounted on the state dir %s: state would be lost with the container", stateDir)
	}

	// Ports: what compose publishes is what the image exposes, and both are
	// what the command listens on.
	var exposed []int
	for _, in := range f.run.all("EXPOSE") {
		for _, p := range strings.Fields(in.args) {
			n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
			if err != nil {
				t.Fatalf("EXPOSE %s: %v", p, err)
			}
			exposed = append(exposed, n)
		}
	}
	var published []int
	for _, p := range svc.Ports {
		parts := strings.Split(p, ":")
		n, err := strconv.Atoi(strings.TrimSuffix(parts[len(parts)-1], "/tcp"))
		if err != nil {
			t.Fatalf("port %q: %v", p, err)
		}
		published = append(published, n)
		if !slices.Contains(exposed, n) {
			t.Errorf("compose publishes container port %d, which the Dockerfile does not EXPOSE (%v)", n, exposed)
		}
	}
	cmd := f.containerCommand(t)
	var listening []int
	for _, fl := range []string{"listen", "mqtt-tls"} {
		v, ok := flagValue(cmd, fl)
		if !ok {
			t.Errorf("the container command %q has no --%s", cmd, fl)
			continue
		}
		host, _, _ := net.SplitHostPort(v)
		if host != "0.0.0.0" && host != "" {
			t.Errorf("--%s %s: a container must listen on every interface, not %q", fl, v, host)
		}
		listening = append(listening, portOf(t, v))
	}
	for _, p := range listening {
		if !slices.Contains(exposed, p) || !slices.Contains(published, p) {
			t.Errorf("the command listens on %d: exposed %v, published %v", p, exposed, published)
		}
	}
	for _, p := range exposed {
		if !slices.Contains(listening, p) {
			t.Errorf("EXPOSE %d, but nothing listens there (command %q)", p, cmd)
		}
	}
	if !slices.Contains(cmd, "--no-agent") {
		t.Errorf("the container command %q runs the agent: a container has no desktop", cmd)
	}

	// The Dockerfile's CMD and the compose command say the same, so that
	// `docker run` and `docker compose up` start the same server.
	if svc.Command != nil {
		if dfCmd := execForm(t, f.run.last(t, "CMD")); !slices.Equal(dfCmd, svc.Command) {
			t.Errorf("compose command %q differs from the Dockerfile's CMD %q", svc.Command, dfCmd)
		}
	}

	// The entrypoint is the binary the builder made and the runtime stage
	// copied in.
	entry := execForm(t, f.run.last(t, "ENTRYPOINT"))
	_, buildArgs := f.buildCommand(t)
	out := buildOutput(t, buildArgs)
	var copied bool
	for _, in := range f.run.all("COPY") {
		fs := strings.Fields(in.args)
		var srcs []string
		for _, w := range fs[:len(fs)-1] {
			if !strings.HasPrefix(w, "--") {
				srcs = append(srcs, w)
			}
		}
		if slices.Contains(srcs, out) && fs[len(fs)-1] == entry[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not the builder's %s copied into the runtime stage", entry[0], out)
	}
}

// TestDockerfileBuildsWithoutCgo checks the build line: no cgo, the nox11
// tag, the one binary.
func TestDockerfileBuildsWithoutCgo(t *testing.T) {
	f := load(t)
	env, args := f.buildCommand(t)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("go build runs with %v, want CGO_ENABLED=0", env)
	}
	tags, _ := flagValue(args, "tags")
	if !slices.Contains(strings.Split(tags, ","), "nox11") {
		t.Errorf("go build %q: want -tags nox11", args)
	}
	if args[len(args)-1] != "./cmd/mfd" {
		t.Errorf("go build %q: want ./cmd/mfd", args)
	}
	// Everything the builder copies from the context must exist and not be
	// excluded by .dockerignore.
	ignore, _ := os.ReadFile(filepath.Join(f.root, ".dockerignore"))
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "panel", "panel/dist"} {
			if line == needed || line == needed+"/" {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/mfd", "panel/dist/index.html"} {
		if _, err := os.Stat(filepath.Join(f.root, p)); err != nil {
			t.Errorf("the build context lacks %s: %v", p, err)
		}
	}
}

func buildOutput(t *testing.T, args []string) string {
	t.Helper()
	o, ok := flagValue(args, "o")
	if !ok {
		t.Fatalf("go build %q has no -o", args)
	}
	return o
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// buildLikeDockerfile runs the Dockerfile's go build line on this machine,
// writing the binary to a temporary directory instead of its -o path.
func buildLikeDockerfile(t *testing.T, f files) string {
	t.Helper()
	buildOnce.Do(func() {
		env, args := f.buildCommand(t)
		buildDir, buildErr = os.MkdirTemp("", "mfd-compose")
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "mfd")
		for i := range args {
			if i > 0 && args[i-1] == "-o" {
				args[i] = builtBin
			}
			args[i] = strings.ReplaceAll(args[i], "${VERSION}", "compose-test")
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = filepath.Join(f.root, f.service().Build.Context)
		// The image's build sees no GOFLAGS of this machine (a -race there
		// would need the cgo this build turns off).
		cmd.Env = append(append(os.Environ(), "GOFLAGS="), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%s %q: %v\n%s", strings.Join(env, " "), args, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestBinaryIsServerOnly checks what the Dockerfile's build produces: the
// build settings recorded in the binary say no cgo and nox11, and the
// flags the container command uses are the binary's own.
func TestBinaryIsServerOnly(t *testing.T) {
	f := load(t)
	bin := buildLikeDockerfile(t, f)
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-tags=nox11"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the binary's build settings lack %s:\n%s", want, out)
		}
	}

	cmd := f.containerCommand(t)
	sub := cmd[1]
	help, _ := exec.Command(bin, sub, "-h").CombinedOutput()
	for _, a := range cmd[2:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !bytes.Contains(help, []byte("  -"+name+" ")) && !bytes.Contains(help, []byte("  -"+name+"\n")) {
			t.Errorf("mfd %s has no flag -%s:\n%s", sub, name, help)
		}
	}
}

// TestContainerCommandServes runs the container's command line, with a
// temporary state dir and free loopback ports in place of the container's,
// and talks to it as a panel and as Home Assistant would.
func TestContainerCommandServes(t *testing.T) {
	f := load(t)
	bin := buildLikeDockerfile(t, f)
	stateDir := filepath.Join(t.TempDir(), "state")
	imageState := f.run.env(t)["MFD_STATE_DIR"]

	cmdline := f.containerCommand(t)
	ports := map[string]string{}
	args := slices.Clone(cmdline[1:])
	for i, a := range args {
		if strings.HasPrefix(a, "0.0.0.0:") {
			ports[a] = fmt.Sprintf("127.0.0.1:%d", freeport.Must(t))
			args[i] = ports[a]
		}
	}
	httpsAddr, _ := flagValue(args, "listen")
	mqttAddr, _ := flagValue(args, "mqtt-tls")

	// The container's environment: the image's ENV, then compose's, with the
	// state dir moved to a temporary one.
	env := []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	merged := f.run.env(t)
	for k, v := range f.service().Environment {
		merged[k] = v
	}
	for k, v := range merged {
		if v == imageState {
			v = stateDir
		}
		env = append(env, k+"="+v)
	}
	var out syncBuffer
	srv := exec.Command(bin, args...)
	srv.Env = env
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-done
	})

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var info struct {
		ServerID string `json:"server_id"`
		API      int    `json:"api"`
	}
	checkFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%q exited early: %v\n%s", args, err, out.String())
		default:
		}
		resp, err := client.Get("https://" + httpsAddr + "/info")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET /info: %s", resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(&info)
	})
	if info.API != 1 || info.ServerID == "" {
		t.Errorf("GET /info = %+v, want api 1 and a server ID", info)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "tls.pem")); err != nil {
		t.Errorf("the server did not keep its state in MFD_STATE_DIR: %v", err)
	}

	// An MQTT CONNECT on the TLS port gets a CONNACK: refused without
	// credentials, which proves an MQTT broker answers there.
	if code := mqttConnect(t, mqttAddr, "nobody", "nothing"); code != 0x04 && code != 0x05 {
		t.Errorf("CONNACK to bad credentials = %#x, want 0x04 or 0x05", code)
	}

	// The compose file's comment says integrations are made with `mfd
	// clients add-integration` inside the container: same environment, no
	// --state-dir.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	add := exec.CommandContext(ctx, bin, "clients", "add-integration", "--name", "Home Assistant", "--json")
	add.Env = env
	ab, err := add.Output()
	if err != nil {
		t.Fatalf("mfd clients add-integration in the container's environment: %v\n%s", err, ab)
	}
	var cred struct{ Sub, Token string }
	if err := json.Unmarshal(ab, &cred); err != nil || cred.Sub == "" || cred.Token == "" {
		t.Fatalf("add-integration --json printed %q (%v)", ab, err)
	}
	if code := mqttConnect(t, mqttAddr, cred.Sub, cred.Token); code != 0 {
		t.Errorf("CONNACK to the integration's credential = %#x, want 0", code)
	}

	// docker stop sends SIGTERM: the server must end cleanly and soon.
	_ = srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("after SIGTERM the server exited with %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the server did not exit within 10s of SIGTERM (docker stop would kill it)")
	}
}

// mqttConnect sends an MQTT 3.1.1 CONNECT over TLS and returns the CONNACK
// return code.
func mqttConnect(t *testing.T, addr, user, pass string) byte {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dialing MQTT over TLS at %s: %v", addr, err)
	}
	defer c.Close()
	var body bytes.Buffer
	str := func(s string) { body.Write([]byte{byte(len(s) >> 8), byte(len(s))}); body.WriteString(s) }
	str("MQTT")
	body.Write([]byte{4, 0xC2, 0, 30}) // 3.1.1; username, password, clean session; keepalive 30 s
	str(user)
	str(user)
	str(pass)
	pkt := []byte{0x10}
	for n := body.Len(); ; {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		pkt = append(pkt, d)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, body.Bytes()...)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatalf("writing CONNECT: %v", err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		t.Fatalf("got % x, want a CONNACK", ack)
	}
	return ack[3]
}

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until

// syncBuffer collects output that one goroutine writes while another reads.
type syncBuffer = syncbuf.Buffer
