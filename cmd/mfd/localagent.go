package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/openmfd/mfd/agent"
	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/server"
)

// startLocalAgent starts this host's agent on srv's in-process pipe.
func startLocalAgent(ctx context.Context, log *slog.Logger, stateDir, inputName string, srv *server.Server, cfg *agent.Config) (*agent.Agent, input.Injector, error) {
	host, err := agent.LoadHostID(stateDir)
	if err != nil {
		return nil, nil, err
	}
	name, _ := os.Hostname()
	lc, err := srv.LocalConn(host, name)
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
		Conn:     agent.ConnOptions{ClientID: lc.ClientID, Dial: lc.Dial, Credentials: lc.Credentials},
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
