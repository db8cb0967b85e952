package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The connection bench runs the server in a child process (this program
// with -child-server), so that the memory it reports is the server's
// alone, not the 5,000 clients' in this process.

// childHello is the child's first line on stdout.
type childHello struct {
	Addr    string      `json:"addr"`
	CertPEM string      `json:"cert_pem"`
	Panels  []panelCred `json:"panels"`
	Pid     int         `json:"pid"`
}

// childStats is the child's answer to "stats".
type childStats struct {
	RSSKiB     int64  `json:"rss_kib"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Goroutines int    `json:"goroutines"`
}

// childMaxClients is the broker's client cap in the connection bench: the
// default (4096) would refuse clients 4,097 to 5,000.
const childMaxClients = 8192

// runChildServer is main for -child-server: an mfd server with nPanels
// paired panels, answering "stats" lines on stdin until stdin closes.
func runChildServer(dir string, nPanels int) error {
	ctx := context.Background()
	m, err := startMFD(ctx, dir, childMaxClients)
	if err != nil {
		return err
	}
	defer m.close()
	var panels []panelCred
	for i := range nPanels {
		p, err := m.pairPanel(ctx, fmt.Sprintf("conn panel %d", i))
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}
	hello := childHello{
		Addr:    m.addr,
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.cert.Certificate[0]})),
		Panels:  panels,
		Pid:     os.Getpid(),
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(hello); err != nil {
		return err
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "stats" {
			continue
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = enc.Encode(childStats{RSSKiB: rssKiB(os.Getpid()), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()})
	}
	return nil
}

// rssKiB reads VmRSS of pid from /proc.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *json.Decoder
	hello childHello
	tc    *tls.Config
}

func startChild(dir string, nPanels int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-child-server", "-child-dir", dir, "-child-panels", strconv.Itoa(nPanels))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: json.NewDecoder(out)}
	if err := c.out.Decode(&c.hello); err != nil {
		c.stop()
		return nil, fmt.Errorf("reading the child server's hello: %w", err)
	}
	blk, _ := pem.Decode([]byte(c.hello.CertPEM))
	if blk == nil {
		c.stop()
		return nil, fmt.Errorf("child server sent no certificate")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		c.stop()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c.tc = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", ClientSessionCache: nil}
	return c, nil
}

func (c *child) stats() (childStats, error) {
	var s childStats
	if _, err := io.WriteString(c.in, "stats\n"); err != nil {
		return s, err
	}
	err := c.out.Decode(&s)
	return s, err
}

func (c *child) stop() {
	_ = c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// connResult is section 4 of the bench.
type connResult struct {
	Connect      summary     `json:"connect_to_connack_idle"`
	ConnectBurst summary     `json:"connect_to_connack_burst"`
	Memory       []memPoint  `json:"memory"`
	Burst        burstResult `json:"burst"`
	MaxClients   int         `json:"broker_max_clients"`
	connectHist  *hist
	burstHist    *hist
}

type memPoint struct {
	Clients         int     `json:"clients"`
	Connected       int     `json:"connected"`
	RSSKiB          int64   `json:"rss_kib"`
	RSSPerClientKiB float64 `json:"rss_per_client_kib"`
	GoPerClientKiB  float64 `json:"go_heap_stack_per_client_kib"`
	Goroutines      int     `json:"goroutines"`
}

type burstResult struct {
	Clients     int     `json:"clients"`
	Connected   int     `json:"connected"`
	Failed      int     `json:"failed"`
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	Concurrency int     `json:"concurrency"`
}

// connectOne opens a WSS connection with a token and waits for CONNACK.
func connectOne(ctx context.Context, url string, tc *tls.Config, p panelCred, clientID string) (net.Conn, time.Duration, error) {
	t0 := time.Now()
	conn, err := dialWS(ctx, url, tc)
	if err != nil {
		return nil, 0, err
	}
	c, err := mqttConnect(ctx, conn, clientID, p.User, p.Pass, nil)
	if err != nil {
		return nil, 0, err
	}
	return c.conn, time.Since(t0), nil
}

// connectMany connects clients [from, to) with conc workers; client i is
// panel i%len(panels), identifier sub/c<i>.
func connectMany(ctx context.Context, url string, tc *tls.Config, panels []panelCred, from, to, conc int, h *hist, conns []net.Conn) (int, string) {
	var (
		next   atomic.Int64
		failed atomic.Int64
		errMu  sync.Mutex
		first  string
		wg     sync.WaitGroup
	)
	next.Store(int64(from))
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				p := panels[i%len(panels)]
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, d, err := connectOne(cctx, url, tc, p, fmt.Sprintf("%s/c%d", p.Sub, i))
				cancel()
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if first == "" {
						first = err.Error()
					}
					errMu.Unlock()
					continue
				}
				if h != nil {
					h.record(d)
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	return int(failed.Load()), first
}

// runConns measures connect-to-CONNACK, memory per idle authenticated
// client at each of levels, and the time for the largest level to
// connect at once.
func runConns(ctx context.Context, dir string, levels []int, sequential int) (*connResult, error) {
	ch, err := startChild(dir, 10)
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	url := "wss://" + ch.hello.Addr + "/mqtt"
	res := &connResult{connectHist: newHist(), burstHist: newHist(), MaxClients: childMaxClients}

	// Connect-to-CONNACK, one at a time, on an otherwise idle server.
	for i := range sequential {
		p := ch.hello.Panels[i%len(ch.hello.Panels)]
		c, d, err := connectOne(ctx, url, ch.tc, p, fmt.Sprintf("%s/s%d", p.Sub, i))
		if err != nil {
			res.connectHist.drop(1)
			continue
		}
		res.connectHist.record(d)
		c.Close()
	}
	res.Connect = res.connectHist.summary()
	time.Sleep(500 * time.Millisecond)

	base, err := ch.stats()
	if err != nil {
		return nil, err
	}
	top := levels[len(levels)-1]
	conns := make([]net.Conn, top)
	closeAll := func() {
		for i, c := range conns {
			if c != nil {
				c.Close()
				conns[i] = nil
			}
		}
	}
	have := 0
	for _, n := range levels {
		connectMany(ctx, url, ch.tc, ch.hello.Panels, have, n, 32, nil, conns)
		have = n
		time.Sleep(time.Second) // idle
		st, err := ch.stats()
		if err != nil {
			closeAll()
			return nil, err
		}
		connected := 0
		for _, c := range conns[:n] {
			if c != nil {
				connected++
			}
		}
		mp := memPoint{Clients: n, Connected: connected, RSSKiB: st.RSSKiB, Goroutines: st.Goroutines}
		if connected > 0 {
			mp.RSSPerClientKiB = float64(st.RSSKiB-base.RSSKiB) / float64(connected)
			mp.GoPerClientKiB = (float64(st.HeapInuse+st.StackInuse) - float64(base.HeapInuse+base.StackInuse)) / 1024 / float64(connected)
		}
		res.Memory = append(res.Memory, mp)
	}
	closeAll()
	time.Sleep(2 * time.Second) // let the server notice and forget them

	// All at once: top clients from zero, 256 dialing at a time (a
	// server restart with every panel coming back).
	const conc = 256
	t0 := time.Now()
	failed, first := connectMany(ctx, url, ch.tc, ch.hello.Panels, 0, top, conc, res.burstHist, conns)
	res.Burst = burstResult{Clients: top, Connected: top - failed, Failed: failed, FirstError: first, Seconds: time.Since(t0).Seconds(), Concurrency: conc}
	res.ConnectBurst = res.burstHist.summary()
	closeAll()
	return res, nil
}
