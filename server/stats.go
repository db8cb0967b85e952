package server

import (
	"runtime"

	"github.com/openmfd/mfd/server/admin"
)

// Stats measures the server now. The heap is measured after a collection,
// so it counts live memory.
func (s *Server) Stats() admin.Stats {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := admin.Stats{
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
