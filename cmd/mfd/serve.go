package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/broker"
	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/internal/connlimit"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/privdir"
	"github.com/openmfd/mfd/panel"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addServeFlags(fs)
	stateDir, listen, configPath, noAgent := sf.stateDir, sf.listen, sf.configPath, sf.noAgent
	mqttTLS, mqttLocal, debug, inputName := sf.mqttTLS, sf.mqttLocal, sf.debug, sf.inputName
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("serve: unexpected argument %q", pos[0])}
	}
	if err := checkInputName(*inputName); err != nil {
		return err
	}
	log := newLogger(stderr, *debug)

	cfg := &agent.Config{}
	if *configPath != "" {
		if cfg, err = agent.LoadConfig(*configPath); err != nil {
			return err
		}
	}

	ttl, err := tokenTTL()
	if err != nil {
		return err
	}
	if err := privdir.Make(*stateDir); err != nil {
		return fmt.Errorf("making state dir: %w", err)
	}
	var br *broker.Broker
	var localAgent atomic.Pointer[agent.Agent]
	svc, err := authsvc.New(authsvc.Options{
		TokenTTL:       ttl,
		StateDir:       *stateDir,
		Version:        version,
		Logger:         log.With("part", "auth"),
		Notifier:       authsvc.NewDesktopNotifier(log),
		AllowedOrigins: cfg.AllowedOrigins,
		Stats:          func() map[string]any { return serverStats(br) },
		Input: func(on bool) error {
			ag := localAgent.Load()
			if ag == nil {
				return errors.New("this server runs no agent of its own (--no-agent, or it failed to start)")
			}
			ag.SetInput(on)
			return nil
		},
	})
	if err != nil {
		return err
	}
	defer svc.Close()

	br, err = broker.New(broker.Options{
		Authenticator:  svc,
		Logger:         log.With("part", "broker"),
		AllowedOrigins: cfg.AllowedOrigins,
		TLSConfig:      svc.TLSConfig(),
		MQTTTLSAddr:    *mqttTLS,
		MQTTLocalAddr:  *mqttLocal,
	})
	if err != nil {
		return err
	}
	defer br.Close()
	svc.SetRevoker(br)

	if err := svc.Start(ctx); err != nil {
		return err
	}
	if err := br.Start(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	api := svc.Handler()
	mux.Handle("/info", api)
	mux.Handle("/authorise", api)
	mux.Handle("/.well-known/jwks.json", api)
	mux.Handle("/ca.crt", api)
	mux.Handle("/mqtt", br.Handler())
	mux.Handle("/", panel.Handler())

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	// One deadline from accept covers the TLS handshake, the HTTP headers,
	// the WebSocket upgrade and MQTT CONNECT; EndHandshakeOnRequest lifts
	// it for plain HTTP requests once their headers are in.
	ln = br.WrapListener(ln)
	srv := &http.Server{
		Handler:           connlimit.EndHandshakeOnRequest(securityHeaders(mux)),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       broker.ConnContext,
		ErrorLog:          slog.NewLogLogger(log.With("part", "http").Handler(), slog.LevelDebug),
		TLSConfig:         svc.TLSConfig(),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()

	printBanner(stdout, svc, ln.Addr())

	var ag *agent.Agent
	var agInj input.Injector
	if !*noAgent {
		ag, agInj, err = startLocalAgent(ctx, log, *stateDir, *inputName, svc, br, cfg)
		if err != nil {
			log.Error("starting this host's agent", "err", err)
		} else {
			localAgent.Store(ag)
			if *configPath != "" {
				w, err := watchConfig(log, *configPath, ag)
				if err != nil {
					log.Warn("the config file will not reload when edited", "err", err)
				} else {
					defer w.Close()
				}
			}
		}
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("shutting down")
	if ag != nil {
		localAgent.Store(nil)
		ag.Close()
		agInj.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	br.Close()
	svc.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveFlags are the flags of `mfd serve`; `mfd install` takes the same
// and hands them on to the serve it installs.
type serveFlags struct {
	stateDir, listen, configPath, mqttTLS, mqttLocal, inputName *string
	noAgent, debug                                              *bool
}

func addServeFlags(fs *flag.FlagSet) *serveFlags {
	return &serveFlags{
		stateDir:   stateDirFlag(fs),
		listen:     fs.String("listen", "0.0.0.0:6789", "HTTPS and MQTT-over-WebSocket address"),
		configPath: fs.String("config", "", "host config (YAML): actions and options"),
		noAgent:    fs.Bool("no-agent", false, "do not run this host's agent (server only, e.g. in a container)"),
		mqttTLS:    fs.String("mqtt-tls", "", "also serve MQTT over TLS on TCP at this address (e.g. :8883)"),
		mqttLocal:  fs.String("mqtt-local", "", "also serve plain MQTT at this loopback address (e.g. 127.0.0.1:1883)"),
		debug:      fs.Bool("debug", false, "log debug messages"),
		inputName:  inputFlag(fs),
	}
}

// tokenTTL reads $MFD_TOKEN_TTL, the lifetime of panel and agent tokens
// (default 15m). Tests shorten it to watch rotation; it is bounded so that
// a typo cannot make tokens that live for days or expire before use.
func tokenTTL() (time.Duration, error) {
	v := os.Getenv("MFD_TOKEN_TTL")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second || d > 24*time.Hour {
		return 0, fmt.Errorf("MFD_TOKEN_TTL=%q: want a duration from 30s to 24h", v)
	}
	return d, nil
}

// securityHeaders sets the headers every response of ours carries: the page
// may not be framed and loads nothing from another origin.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

func startLocalAgent(ctx context.Context, log *slog.Logger, stateDir, inputName string, svc *authsvc.Service, br *broker.Broker, cfg *agent.Config) (*agent.Agent, input.Injector, error) {
	host, err := agent.LoadHostID(stateDir)
	if err != nil {
		return nil, nil, err
	}
	name, _ := os.Hostname()
	sub, err := svc.LocalAgent(host, name)
	if err != nil {
		return nil, nil, err
	}
	inj, err := openInput(log, inputName, stateDir)
	if err != nil {
		return nil, nil, err
	}
	ag, err := agent.New(agent.Options{
		Host:     host,
		Name:     name,
		StateDir: stateDir,
		Injector: inj,
		Logger:   log.With("part", "agent"),
		Config:   cfg,
		Version:  version,
		Conn: agent.ConnOptions{
			ClientID: string(sub),
			Dial:     func(context.Context) (net.Conn, error) { return br.Pipe() },
			Credentials: func(context.Context) (string, string, error) {
				tok, err := svc.Reissue(sub)
				if err != nil {
					return "", "", err
				}
				return string(sub), tok.Token, nil
			},
		},
	})
	if err != nil {
		inj.Close()
		return nil, nil, err
	}
	if err := ag.Start(ctx); err != nil {
		ag.Close()
		inj.Close()
		return nil, nil, err
	}
	return ag, inj, nil
}

// panelURLs lists the URLs a device on the LAN can open.
func panelURLs(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	port := tcp.Port
	if !tcp.IP.IsUnspecified() {
		return []string{fmt.Sprintf("https://%s/", net.JoinHostPort(tcp.IP.String(), fmt.Sprint(port)))}
	}
	var urls []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		urls = append(urls, fmt.Sprintf("https://%s/", net.JoinHostPort(ipn.IP.String(), fmt.Sprint(port))))
	}
	urls = append(urls, fmt.Sprintf("https://localhost:%d/", port))
	return urls
}

func printBanner(w io.Writer, svc *authsvc.Service, addr net.Addr) {
	urls := panelURLs(addr)
	fmt.Fprintf(w, "mfd %s serving on %s\n", version, addr)
	fmt.Fprintf(w, "server ID:            %s\n", svc.ServerID())
	fmt.Fprintf(w, "TLS SHA-256 fingerprint: %s\n", fingerprintColons(svc.Fingerprint()))
	if ca := svc.CAFingerprint(); ca != "" {
		fmt.Fprintf(w, "local CA SHA-256:     %s (optional: install /ca.crt on a device to skip the warning)\n", fingerprintColons(ca))
	}
	fmt.Fprintln(w, "open the panel at:")
	for _, u := range urls {
		fmt.Fprintf(w, "  %s\n", u)
	}
	if len(urls) > 0 {
		if qr, err := terminalQR(urls[0]); err == nil {
			fmt.Fprint(w, qr)
		}
	}
	fmt.Fprintln(w, "new devices appear as pairing requests: compare the code, then `mfd clients approve CODE`")
	_ = ids.ServerID{}
}

func fingerprintColons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		end := min(i+2, len(hex))
		b.WriteString(strings.ToUpper(hex[i:end]))
	}
	return b.String()
}
