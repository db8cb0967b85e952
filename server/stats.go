package server

import "runtime"

// Stats are the figures `mfd stats` prints: what a soak test compares
// before and after, and what an operator looks at when the server seems to
// grow.
type Stats struct {
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapSys    uint64 `json:"heap_sys"`
	// OpenFDs counts the open file descriptors (Unix, where /proc says)
	// and OpenHandles the open handles (Windows): what a leak of sockets,
	// pipes or files grows. Zero where they cannot be counted.
	OpenFDs            int    `json:"open_fds,omitempty"`
	OpenHandles        uint32 `json:"open_handles,omitempty"`
	MQTTClients        int    `json:"mqtt_clients"`
	MQTTSessions       int    `json:"mqtt_sessions"`
	MQTTSubscriptions  int    `json:"mqtt_subscriptions"`
	MQTTRetained       int    `json:"mqtt_retained"`
	MQTTQueuedBytesMax int    `json:"mqtt_queued_bytes_max"`
}

// Stats measures the server now. The heap is measured after a collection,
// so it counts live memory.
func (s *Server) Stats() Stats {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		Goroutines:         runtime.NumGoroutine(),
		HeapAlloc:          ms.HeapAlloc,
		HeapSys:            ms.HeapSys,
		MQTTClients:        s.br.ClientCount(),
		MQTTSessions:       s.br.SessionCount(),
		MQTTSubscriptions:  s.br.SubscriptionCount(),
		MQTTRetained:       s.br.RetainedCount(),
		MQTTQueuedBytesMax: s.br.QueuedBytes(),
	}
	countOpenFiles(&st)
	return st
}

// asMap is st as the admin channel answers it until it takes Stats itself.
func (st Stats) asMap() map[string]any {
	m := map[string]any{
		"goroutines":            st.Goroutines,
		"heap_alloc":            st.HeapAlloc,
		"heap_sys":              st.HeapSys,
		"mqtt_clients":          st.MQTTClients,
		"mqtt_sessions":         st.MQTTSessions,
		"mqtt_subscriptions":    st.MQTTSubscriptions,
		"mqtt_retained":         st.MQTTRetained,
		"mqtt_queued_bytes_max": st.MQTTQueuedBytesMax,
	}
	if st.OpenFDs > 0 {
		m["open_fds"] = st.OpenFDs
	}
	if st.OpenHandles > 0 {
		m["open_handles"] = st.OpenHandles
	}
	return m
}
