package authsvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/openmfd/mfd/internal/atomicfile"
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// State is a client's place in the pairing life cycle.
type State string

// The states of a client.
const (
	StatePending  State = "pending"
	StateApproved State = "approved"
	StateDenied   State = "denied"
	StateRevoked  State = "revoked"
)

// record is one client in the store. It holds a hash of the client key
// (or of an integration's secret), never the secret itself.
type record struct {
	Sub     ids.Subject `json:"sub"`
	KeyHash string      `json:"key_hash,omitempty"`
	// SecretHash is an integration's credential, hex SHA-256.
	SecretHash string      `json:"secret_hash,omitempty"`
	Name       string      `json:"name"`
	Role       wire.Role   `json:"role"`
	Host       *ids.HostID `json:"host,omitempty"`
	// Local marks the in-process agent of the server's own host.
	Local     bool      `json:"local,omitempty"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

func (r *record) host() ids.HostID {
	if r.Host == nil {
		return ids.HostID{}
	}
	return *r.Host
}

const storeVersion = 1

type storeFile struct {
	Version int       `json:"version"`
	Clients []*record `json:"clients"`
}

// store is the persisted set of decided clients. It is not safe for
// concurrent use: Service guards it with its mutex.
type store struct {
	path   string
	bySub  map[ids.Subject]*record
	byHash map[string]*record
}

func loadStore(dir string) (*store, bool, error) {
	s := &store{
		path:   filepath.Join(dir, clientsFile),
		bySub:  make(map[ids.Subject]*record),
		byHash: make(map[string]*record),
	}
	b, ok, err := readState(s.path)
	if err != nil || !ok {
		return s, false, err
	}
	var f storeFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, true, fmt.Errorf("%w: %s: %v", ErrCorruptState, s.path, err)
	}
	if dec.More() {
		return nil, true, fmt.Errorf("%w: %s: trailing data", ErrCorruptState, s.path)
	}
	if f.Version != storeVersion {
		return nil, true, fmt.Errorf("%w: %s: version %d, want %d", ErrCorruptState, s.path, f.Version, storeVersion)
	}
	for i, r := range f.Clients {
		if err := checkRecord(r); err != nil {
			return nil, true, fmt.Errorf("%w: %s: client %d: %v", ErrCorruptState, s.path, i, err)
		}
		if _, dup := s.bySub[r.Sub]; dup {
			return nil, true, fmt.Errorf("%w: %s: duplicate sub %s", ErrCorruptState, s.path, r.Sub)
		}
		s.bySub[r.Sub] = r
		if r.KeyHash != "" {
			if _, dup := s.byHash[r.KeyHash]; dup {
				return nil, true, fmt.Errorf("%w: %s: duplicate client key", ErrCorruptState, s.path)
			}
			s.byHash[r.KeyHash] = r
		}
	}
	return s, true, nil
}

func checkRecord(r *record) error {
	if r == nil {
		return fmt.Errorf("empty record")
	}
	if _, err := ids.ParseSubject(string(r.Sub)); err != nil {
		return err
	}
	if !r.Role.Valid() {
		return fmt.Errorf("bad role %q", r.Role)
	}
	switch r.State {
	case StateApproved, StateDenied, StateRevoked:
	default:
		return fmt.Errorf("bad state %q", r.State)
	}
	if r.Role == wire.RoleAgent && r.Host == nil {
		return fmt.Errorf("agent without host")
	}
	if r.Role == wire.RoleIntegration && r.SecretHash == "" {
		return fmt.Errorf("integration without secret")
	}
	if r.KeyHash == "" && r.SecretHash == "" && !r.Local {
		return fmt.Errorf("no credential")
	}
	return nil
}

// add inserts r; it does not save.
func (s *store) add(r *record) {
	s.bySub[r.Sub] = r
	if r.KeyHash != "" {
		s.byHash[r.KeyHash] = r
	}
}

// remove deletes r; it does not save.
func (s *store) remove(r *record) {
	delete(s.bySub, r.Sub)
	if r.KeyHash != "" && s.byHash[r.KeyHash] == r {
		delete(s.byHash, r.KeyHash)
	}
}

// save writes the whole store atomically.
func (s *store) save() error {
	f := storeFile{Version: storeVersion, Clients: s.sorted()}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving clients: %w", err)
	}
	return nil
}

func (s *store) sorted() []*record {
	out := make([]*record, 0, len(s.bySub))
	for _, r := range s.bySub {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Sub < out[j].Sub
	})
	return out
}
