package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/openmfd/mfd/authsvc"
	"github.com/openmfd/mfd/server/admin"
)

const clientsUsage = `usage: mfd clients <list|approve|deny|revoke|prune|add-integration> [flags]

  list [--json]                     every client, pending ones with their pairing code
  approve ID|CODE                   approve a pending client by its pairing code or sub
  deny ID|CODE                      deny a pending client
  revoke ID                         revoke a client; its live sessions end at once
  prune [--older-than 2160h] [--dry-run] [--json]
                                    remove revoked and denied clients, and panels and
                                    agents not seen for --older-than (default 90 days)
  add-integration --name NAME [--json]
                                    make an MQTT credential for Home Assistant and the like

They talk to the running server over STATE_DIR/admin.sock (on Windows, a
named pipe for the current user alone).
`

func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mfd clients", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, clientsUsage); fs.PrintDefaults() }
	stateDir := stateDirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "the integration's name (add-integration)")
	olderThan := fs.Duration("older-than", 90*24*time.Hour, "prune: remove panels and agents not seen for this long")
	dryRun := fs.Bool("dry-run", false, "prune: only list what would be removed")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return usageError{"clients: no subcommand given"}
	}
	verb, rest := pos[0], pos[1:]
	needArg := func() (string, error) {
		if len(rest) != 1 {
			return "", usageError{fmt.Sprintf("clients %s: want exactly one ID or pairing code", verb)}
		}
		return rest[0], nil
	}
	var id string
	switch verb {
	case "list":
	case "prune":
		if *olderThan <= 0 {
			return usageError{"clients prune: --older-than must be positive"}
		}
	case "approve", "deny", "revoke":
		if id, err = needArg(); err != nil {
			return err
		}
	case "add-integration":
		if *name == "" {
			return usageError{"clients add-integration: --name is required"}
		}
	default:
		fs.Usage()
		return usageError{fmt.Sprintf("clients: unknown subcommand %q", verb)}
	}

	ac, err := admin.Dial(*stateDir)
	if err != nil {
		return err
	}
	defer ac.Close()

	switch verb {
	case "list":
		list, err := ac.List()
		if err != nil {
			return err
		}
		if *asJSON {
			if list == nil {
				list = []authsvc.ClientInfo{}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		printClients(stdout, list)
		return nil
	case "prune":
		gone, err := ac.Prune(*olderThan, *dryRun)
		if err != nil {
			return err
		}
		if *asJSON {
			if gone == nil {
				gone = []authsvc.ClientInfo{}
			}
			return json.NewEncoder(stdout).Encode(gone)
		}
		verb := "removed"
		if *dryRun {
			verb = "would remove"
		}
		for _, c := range gone {
			fmt.Fprintf(stdout, "%s %s (%s, %s, %q, last seen %s)\n", verb, c.Sub, c.Role, c.State, c.Name, ago(c.LastSeen))
		}
		fmt.Fprintf(stdout, "%s %d clients\n", verb, len(gone))
		return nil
	case "approve", "deny", "revoke":
		var c authsvc.ClientInfo
		switch verb {
		case "approve":
			c, err = ac.Approve(id)
		case "deny":
			c, err = ac.Deny(id)
		case "revoke":
			c, err = ac.Revoke(id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s (%s, %q)\n", c.State, c.Sub, c.Role, c.Name)
		return nil
	case "add-integration":
		sub, token, err := ac.AddIntegration(*name)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"sub": string(sub), "token": token})
		}
		fmt.Fprintf(stdout, "MQTT username: %s\nMQTT password: %s\n", sub, token)
		fmt.Fprintln(stdout, "Keep the password secret; `mfd clients revoke", sub, "` withdraws it at once.")
		return nil
	}
	return nil
}

func printClients(w io.Writer, list []authsvc.ClientInfo) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no clients yet: open the panel on a device, or run `mfd agent --server ...` on another host")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUB\tNAME\tROLE\tHOST\tSTATE\tCODE\tCREATED\tLAST SEEN")
	for _, c := range list {
		code := c.PairingCode
		if code == "" {
			code = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Sub, c.Name, c.Role, hostColumn(c), c.State, code,
			ago(c.CreatedAt), ago(c.LastSeen))
	}
	tw.Flush()
}

// hostColumn shows an agent's host as its name and short ID, and says so
// when another agent holds that host ID.
func hostColumn(c authsvc.ClientInfo) string {
	if c.HostShort == "" {
		return "-"
	}
	h := fmt.Sprintf("%s (%s)", c.HostName, c.HostShort)
	if c.HostTakenBy != "" {
		h += " TAKEN by " + string(c.HostTakenBy)
	}
	return h
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}
