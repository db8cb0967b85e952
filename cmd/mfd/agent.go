package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/internal/privdir"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := stateDirFlag(fs)
	server := fs.String("server", "", "the mfd server to pair with, https://HOST:6789")
	brokerURL := fs.String("broker", "", "an MQTT 5 broker to use instead of a server: mqtts://, mqtt://, wss:// or ws://")
	username := fs.String("username", "", "MQTT username (with --broker)")
	password := fs.String("password", "", "MQTT password (with --broker; or env MFD_BROKER_PASSWORD)")
	caFile := fs.String("ca", "", "PEM CA bundle for the broker's certificate (with --broker; default the system roots)")
	configPath := fs.String("config", "", "host config (YAML): actions and options")
	name := fs.String("name", "", "this host's name (default the hostname)")
	debug := fs.Bool("debug", false, "log debug messages")
	inputName := inputFlag(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := checkInputName(*inputName); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("agent: unexpected argument %q", pos[0])}
	}
	if (*server == "") == (*brokerURL == "") {
		return usageError{"agent: give exactly one of --server https://HOST:6789 or --broker URL"}
	}
	log := newLogger(stderr, *debug)
	if *name == "" {
		*name, _ = os.Hostname()
	}
	cfg := &agent.Config{}
	if *configPath != "" {
		if cfg, err = agent.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	if err := privdir.Make(*stateDir); err != nil {
		return fmt.Errorf("making state dir: %w", err)
	}

	opts := agent.Options{
		Name:     *name,
		StateDir: *stateDir,
		Logger:   log.With("part", "agent"),
		Config:   cfg,
		Version:  version,
	}
	var pairing *agent.Pairing
	switch {
	case *server != "":
		u, err := url.Parse(*server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return usageError{fmt.Sprintf("agent: --server must be https://HOST:PORT, not %q", *server)}
		}
		fmt.Fprintf(stdout, "pairing with %s as %q...\n", u.Host, *name)
		pairing, err = agent.Pair(ctx, agent.PairOptions{
			Server:   u,
			StateDir: *stateDir,
			Name:     *name,
			Logger:   log.With("part", "pair"),
			OnPairingCode: func(code string) {
				fmt.Fprintf(stdout, "pairing code %s: on the server, compare it and run `mfd clients approve %s`\n", code, code)
			},
		})
		if err != nil {
			if errors.Is(err, agent.ErrServerChanged) || errors.Is(err, agent.ErrCertChanged) {
				return fmt.Errorf("refusing the server: %w (if you replaced the server on purpose, remove %s/agent-server-pin.json and pair again)", err, *stateDir)
			}
			return err
		}
		defer pairing.CloseIdleConnections()
		fmt.Fprintf(stdout, "approved as %s by server %s\n", pairing.Sub, pairing.ServerID)
		opts.Host = pairing.Host
		opts.Conn = pairing.ConnOptions()
	default:
		u, err := url.Parse(*brokerURL)
		if err != nil || u.Host == "" {
			return usageError{fmt.Sprintf("agent: bad --broker URL %q", *brokerURL)}
		}
		if *password == "" {
			*password = os.Getenv("MFD_BROKER_PASSWORD")
		}
		host, err := agent.LoadHostID(*stateDir)
		if err != nil {
			return err
		}
		var tlsCfg *tls.Config
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return fmt.Errorf("reading --ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("reading --ca: no certificate in %s", *caFile)
			}
			tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		user, pass := *username, *password
		opts.Host = host
		opts.Conn = agent.ConnOptions{
			Servers:   []*url.URL{u},
			TLSConfig: tlsCfg,
			Credentials: func(context.Context) (string, string, error) {
				return user, pass, nil
			},
		}
	}

	inj, err := openInput(log, *inputName, *stateDir)
	if err != nil {
		return err
	}
	defer inj.Close()
	opts.Injector = inj
	ag, err := agent.New(opts)
	if err != nil {
		return err
	}
	if err := ag.Start(ctx); err != nil {
		ag.Close()
		return err
	}
	fmt.Fprintf(stdout, "agent for host %s running (input: %s)\n", opts.Host, inj.Backend())
	if *configPath != "" {
		w, err := watchConfig(log, *configPath, ag)
		if err != nil {
			log.Warn("the config file will not reload when edited", "err", err)
		} else {
			defer w.Close()
		}
	}
	<-ctx.Done()
	return ag.Close()
}
