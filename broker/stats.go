package broker

// ClientCount reports how many network clients mochi holds: connected ones
// and disconnected sessions it still keeps. The server's own inline client
// is not counted. A connection that ended leaves nothing here once its
// session is gone, so a count back at its baseline after an attack means no
// ghost client was left behind.
func (b *Broker) ClientCount() int {
	n := 0
	for _, cl := range b.server.Clients.GetAll() {
		if !cl.Net.Inline {
			n++
		}
	}
	return n
}

// SessionCount reports how many connections the auth hook tracks: those
// that sent an accepted CONNECT and have not ended yet.
func (b *Broker) SessionCount() int {
	b.hook.mu.RLock()
	defer b.hook.mu.RUnlock()
	return len(b.hook.sessions)
}

// SubscriptionCount reports how many subscriptions the network clients'
// sessions hold, kept sessions included.
func (b *Broker) SubscriptionCount() int {
	n := 0
	for _, cl := range b.server.Clients.GetAll() {
		if !cl.Net.Inline {
			n += cl.State.Subscriptions.Len()
		}
	}
	return n
}

// RetainedCount reports how many retained messages the broker holds.
func (b *Broker) RetainedCount() int {
	return b.server.Topics.Retained.Len()
}

// QueuedBytes reports the largest number of bytes one client's connections
// hold written by the broker and not yet taken by the peer (at most
// MaxQueuedBytes).
func (b *Broker) QueuedBytes() int {
	b.hook.mu.RLock()
	qs := make([]*clientQueue, 0, len(b.hook.queues))
	for _, q := range b.hook.queues {
		qs = append(qs, q)
	}
	b.hook.mu.RUnlock()
	most := 0
	for _, q := range qs {
		q.mu.Lock()
		most = max(most, q.total)
		q.mu.Unlock()
	}
	return most
}
