package main

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// tokenResult is section 5 of the bench.
type tokenResult struct {
	AuthorisePerSec    float64 `json:"authorise_per_s"`
	AuthoriseWorkers   int     `json:"authorise_workers"`
	AuthoriseErrors    int64   `json:"authorise_errors"`
	AuthorisePerSec1   float64 `json:"authorise_per_s_one_worker"`
	AuthenticatePerSec float64 `json:"authenticate_per_s"`
	AuthenticateCPUs   int     `json:"authenticate_goroutines"`
}

// runTokens measures POST /authorise for approved clients (each answer is
// a freshly signed token) over HTTPS keep-alive, and Authenticate, the
// check the broker makes on every CONNECT.
func (e *env) runTokens(ctx context.Context, d time.Duration) tokenResult {
	panels := e.sys["A"].panels
	authorise := func(workers int) (float64, int64) {
		var n, errs atomic.Int64
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := panels[w%len(panels)]
				for time.Now().Before(end) {
					st, _, err := e.mfd.authorise(ctx, p.key, "bench panel")
					if err != nil || st != http.StatusOK {
						errs.Add(1)
						continue
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds(), errs.Load()
	}
	var r tokenResult
	r.AuthorisePerSec1, _ = authorise(1)
	r.AuthoriseWorkers = 8
	r.AuthorisePerSec, r.AuthoriseErrors = authorise(r.AuthoriseWorkers)

	r.AuthenticateCPUs = runtime.GOMAXPROCS(0)
	var n atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range r.AuthenticateCPUs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := panels[w%len(panels)]
			for time.Now().Before(end) {
				if _, err := e.mfd.srv.Auth().Authenticate(p.User, p.Pass); err == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r.AuthenticatePerSec = float64(n.Load()) / d.Seconds()
	return r
}
