package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds from 1 µs to 60 s with three
// significant digits: a 0.1% error, finer than anything reported.
const (
	histMin = int64(time.Microsecond)
	histMax = int64(60 * time.Second)
)

// hist is a latency histogram that also counts what never arrived. It is
// safe for concurrent use.
type hist struct {
	mu    sync.Mutex
	h     *hdrhistogram.Histogram
	drops int64
}

func newHist() *hist { return &hist{h: hdrhistogram.New(histMin, histMax, 3)} }

// record adds one latency. Values under 1 µs count as 1 µs and values over
// 60 s as 60 s, so nothing recorded is ever silently lost.
func (h *hist) record(d time.Duration) {
	v := min(max(int64(d), histMin), histMax)
	h.mu.Lock()
	_ = h.h.RecordValue(v)
	h.mu.Unlock()
}

// drop counts one command or sample that never arrived.
func (h *hist) drop(n int64) {
	h.mu.Lock()
	h.drops += n
	h.mu.Unlock()
}

// merge adds o's samples and drops to h.
func (h *hist) merge(o *hist) {
	if o == nil {
		return
	}
	o.mu.Lock()
	c := o.h.Export()
	d := o.drops
	o.mu.Unlock()
	h.mu.Lock()
	h.h.Merge(hdrhistogram.Import(c))
	h.drops += d
	h.mu.Unlock()
}

// summary is what the table, the JSON and the ratios use. Durations are
// in milliseconds.
type summary struct {
	N     int64   `json:"n"`
	Drops int64   `json:"drops"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// summary reads h's percentiles. hdrhistogram reports the highest value
// equivalent to the bucket, so figures are at most 0.1% high.
func (h *hist) summary() summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return summary{Drops: h.drops}
	}
	return summary{
		N:     h.h.TotalCount(),
		Drops: h.drops,
		P50:   ms(h.h.ValueAtQuantile(50)),
		P90:   ms(h.h.ValueAtQuantile(90)),
		P99:   ms(h.h.ValueAtQuantile(99)),
		P999:  ms(h.h.ValueAtQuantile(99.9)),
		Max:   ms(h.h.Max()),
		Mean:  h.h.Mean() / 1e6,
	}
}

// quantile returns the value at q (0..100) in nanoseconds.
func (h *hist) quantile(q float64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.ValueAtQuantile(q)
}

func (h *hist) count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.TotalCount()
}

// curve returns (percentile, value in ns) points for a percentile plot:
// quantiles spaced evenly on the 1/(1-q) axis up to the last sample.
func (h *hist) curve() [][2]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.h.TotalCount()
	if n == 0 {
		return nil
	}
	// The highest percentile worth drawing is the one the last sample
	// stands for: 1 - 1/n.
	top := 1 - 1/float64(n)
	var pts [][2]float64
	for x := 0.0; ; x += 0.02 { // x = log10(1/(1-q))
		q := 1 - math.Pow(10, -x)
		if q > top {
			q = top
		}
		if q >= top {
			// The last sample, the maximum, stands at 1 - 1/n: the curve
			// ends there rather than run on past what was measured.
			pts = append(pts, [2]float64{q * 100, float64(h.h.Max())})
			break
		}
		pts = append(pts, [2]float64{q * 100, float64(h.h.ValueAtQuantile(q * 100))})
	}
	return pts
}

// writeFiles saves h as an .hgrm percentile distribution (HdrHistogram's
// text format, in milliseconds) and as the compressed base64 encoding
// (.hdr) that HdrHistogram's tools read.
func (h *hist) writeFiles(base string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var buf bytes.Buffer
	if h.h.TotalCount() > 0 {
		if _, err := h.h.PercentilesPrint(&buf, 5, 1e6); err != nil {
			return fmt.Errorf("printing %s: %w", base, err)
		}
	}
	fmt.Fprintf(&buf, "#[Drops = %d]\n", h.drops)
	if err := os.WriteFile(base+".hgrm", buf.Bytes(), 0o644); err != nil {
		return err
	}
	enc, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", base, err)
	}
	return os.WriteFile(base+".hdr", append(enc, '\n'), 0o644)
}
