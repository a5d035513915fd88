package bench

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in microseconds, from 1µs to a
// minute, with three significant digits. Longer values are clamped to the
// maximum so that recording never fails (and never allocates an error).
const (
	histMin    = 1
	histMax    = 60_000_000
	histDigits = 3
	batchSize  = 128
)

// Latencies collects latency samples in shards, one HdrHistogram each. A
// shard belongs to a worker goroutine or to a set of connection goroutines;
// samples reach it through Recorders, which batch them, so the shard's
// mutex is taken once per batch and never per sample.
type Latencies struct {
	shards []shard
}

type shard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewLatencies returns n empty shards (at least one).
func NewLatencies(n int) *Latencies {
	l := &Latencies{shards: make([]shard, max(n, 1))}
	for i := range l.shards {
		l.shards[i].h = hdrhistogram.New(histMin, histMax, histDigits)
	}
	return l
}

// Shards is the number of shards.
func (l *Latencies) Shards() int { return len(l.shards) }

// Recorder returns a recorder feeding shard i mod Shards().
func (l *Latencies) Recorder(i int) *Recorder {
	return &Recorder{shard: &l.shards[i%len(l.shards)]}
}

// Merged returns one histogram holding every shard's samples. Call it once
// every Recorder has been flushed.
func (l *Latencies) Merged() *hdrhistogram.Histogram {
	h := hdrhistogram.New(histMin, histMax, histDigits)
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		h.Merge(s.h)
		s.mu.Unlock()
	}
	return h
}

// Recorder buffers samples for one goroutine. It is not safe for concurrent
// use; Flush must be called before the shard is merged.
type Recorder struct {
	shard *shard
	n     int
	batch [batchSize]int64
}

// Record adds one latency in microseconds.
func (r *Recorder) Record(us int64) {
	r.batch[r.n] = us
	r.n++
	if r.n == len(r.batch) {
		r.Flush()
	}
}

// Flush moves the buffered samples into the shard's histogram.
func (r *Recorder) Flush() {
	if r.n == 0 {
		return
	}
	r.shard.mu.Lock()
	for _, v := range r.batch[:r.n] {
		_ = r.shard.h.RecordValue(min(max(v, 0), histMax))
	}
	r.shard.mu.Unlock()
	r.n = 0
}

// Summary is a latency distribution in microseconds.
type Summary struct {
	Samples int64   `json:"samples"`
	Mean    float64 `json:"mean_us"`
	P50     int64   `json:"p50_us"`
	P90     int64   `json:"p90_us"`
	P99     int64   `json:"p99_us"`
	P999    int64   `json:"p999_us"`
	Max     int64   `json:"max_us"`
}

// Summarize returns h's count, mean, percentiles and maximum.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Samples: h.TotalCount(),
		Mean:    h.Mean(),
		P50:     h.ValueAtQuantile(50),
		P90:     h.ValueAtQuantile(90),
		P99:     h.ValueAtQuantile(99),
		P999:    h.ValueAtQuantile(99.9),
		Max:     h.Max(),
	}
}
