package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/internal/privdir"
	"github.com/openmfd/mfd/server"
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
	srv, err := server.New(server.Options{
		StateDir:       *stateDir,
		Listen:         *listen,
		MQTTTLSAddr:    *mqttTLS,
		MQTTLocalAddr:  *mqttLocal,
		Version:        version,
		Logger:         log,
		Notifier:       authsvc.NewDesktopNotifier(log),
		AllowedOrigins: cfg.AllowedOrigins,
		TokenTTL:       ttl,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	printBanner(stdout, srv.Auth(), srv.Addr())

	if !*noAgent {
		ag, inj, err := startLocalAgent(ctx, log, *stateDir, *inputName, srv, cfg)
		if err != nil {
			log.Error("starting this host's agent", "err", err)
		} else {
			srv.SetInputSwitch(ag)
			defer func() {
				srv.SetInputSwitch(nil)
				ag.Close()
				inj.Close()
			}()
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
	case err = <-srv.Err():
	}
	log.Info("shutting down")
	return err
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
