package authsvc

import (
	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// A host ID belongs to the first agent approved for it: the server's own
// agent for the server's host, else the agent approved earliest. Host IDs
// are public (every approved client reads them in status topics), so
// without this an approved device could pair as an agent under another
// host's ID and be granted that host's commands, presses and retained
// topics. A second agent asking for a taken host ID is refused (403
// host_taken) and cannot be approved; a store written before the binding
// existed keeps working for the owner only: a later agent's tokens are
// refused.

// hostOwnerLocked returns the approved agent that holds host, or nil.
func (s *Service) hostOwnerLocked(host ids.HostID) *record {
	var owner *record
	for _, r := range s.store.bySub {
		if r.Role != wire.RoleAgent || r.State != StateApproved || r.host() != host {
			continue
		}
		if owner == nil || r.Local && !owner.Local || r.Local == owner.Local && earlier(r, owner) {
			owner = r
		}
	}
	return owner
}

// earlier orders records by approval, then creation, then subject, so
// that the owner of a host is the same on every call.
func earlier(a, b *record) bool {
	if !a.DecidedAt.Equal(b.DecidedAt) {
		return a.DecidedAt.Before(b.DecidedAt)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Sub < b.Sub
}

// hostTakenLocked reports the approved agent other than sub that holds
// host, or nil when host is free or sub's own.
func (s *Service) hostTakenLocked(host ids.HostID, sub ids.Subject) *record {
	if host.IsZero() {
		return nil
	}
	if o := s.hostOwnerLocked(host); o != nil && o.Sub != sub {
		return o
	}
	return nil
}

// describeHostLocked fills in what `mfd clients list` shows about the
// host of an agent (or agent request) sub for host.
func (s *Service) describeHostLocked(ci *ClientInfo, host ids.HostID, name string) {
	if host.IsZero() {
		return
	}
	ci.HostShort = host.Short()
	ci.HostName = name
	if o := s.hostTakenLocked(host, ci.Sub); o != nil {
		ci.HostName = o.Name
		ci.HostTakenBy = o.Sub
	}
}
