package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openmfd/mfd/internal/atomicfile"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/privdir"
)

// Files in a state dir. The agent inside `mfd serve` shares the server's
// state dir, so every agent file is named for the agent.
const (
	hostIDFile  = "host-id"
	inputFile   = "agent-input"
	haStateFile = "agent-ha-discovery.json"
)

// LoadHostID returns the host ID kept in dir, making and saving a new one
// the first time.
func LoadHostID(dir string) (ids.HostID, error) {
	if dir == "" {
		return ids.HostID{}, errors.New("loading host ID: no state dir")
	}
	p := filepath.Join(dir, hostIDFile)
	b, err := os.ReadFile(p)
	if err == nil {
		id, err := ids.ParseHostID(strings.TrimSpace(string(b)))
		if err != nil {
			return ids.HostID{}, fmt.Errorf("loading host ID from %s: %w", p, err)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return ids.HostID{}, fmt.Errorf("loading host ID: %w", err)
	}
	if err := privdir.Make(dir); err != nil {
		return ids.HostID{}, fmt.Errorf("making state dir: %w", err)
	}
	id := ids.NewHostID()
	if err := atomicfile.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		return ids.HostID{}, fmt.Errorf("saving host ID: %w", err)
	}
	return id, nil
}

// loadInputState reads the remote-input switch; on when there is no state.
func loadInputState(dir string) (bool, error) {
	if dir == "" {
		return true, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, inputFile))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	return strings.TrimSpace(string(b)) != "OFF", nil
}

func saveInputState(dir string, on bool) error {
	if dir == "" {
		return nil
	}
	return atomicfile.WriteFile(filepath.Join(dir, inputFile), []byte(onOff(on)+"\n"), 0o600)
}

// haState is what discovery last published, so that actions that left the
// config can be removed from Home Assistant.
type haState struct {
	Prefix  string   `json:"prefix"`
	Actions []string `json:"actions"`
	// Toggles are the actions that had a binary sensor.
	Toggles []string `json:"toggles,omitempty"`
}

func loadHAState(dir string) (haState, error) {
	var s haState
	if dir == "" {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, haStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return haState{}, fmt.Errorf("decoding %s: %w", haStateFile, err)
	}
	return s, nil
}

func saveHAState(dir string, s haState) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, haStateFile), b, 0o600)
}
