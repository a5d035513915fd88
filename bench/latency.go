package bench

import (
	"math"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in microseconds, from 1µs to a
// minute, with three significant digits. Longer values are clamped to the
// maximum so that recording never fails (and never allocates an error).
// The timeline's histograms, one per slot of the window, are only read for
// a few percentiles each, so two digits (a tenth of the memory) do.
const (
	histMin    = 1
	histMax    = 60_000_000
	histDigits = 3
	slotDigits = 2
	batchSize  = 128
	// slotShift packs a sample's slot above its value in one int64 of a
	// Recorder's batch; values fit below it (histMax < 1<<26).
	slotShift = 32
)

// Latencies collects latency samples in shards, one HdrHistogram each. A
// shard belongs to a worker goroutine or to a set of connection goroutines;
// samples reach it through Recorders, which batch them, so the shard's
// mutex is taken once per batch and never per sample. Each sample also
// lands in its slot of the timeline: one histogram per slot of the window,
// shared by every shard under one mutex, again taken once per batch.
type Latencies struct {
	shards []shard
	slotMu sync.Mutex
	slots  []*hdrhistogram.Histogram
}

type shard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewLatencies returns n empty shards (at least one) and a timeline of
// slots slots (none if slots is 0).
func NewLatencies(n, slots int) *Latencies {
	l := &Latencies{shards: make([]shard, max(n, 1)), slots: make([]*hdrhistogram.Histogram, slots)}
	for i := range l.shards {
		l.shards[i].h = hdrhistogram.New(histMin, histMax, histDigits)
	}
	for i := range l.slots {
		l.slots[i] = hdrhistogram.New(histMin, histMax, slotDigits)
	}
	return l
}

// Shards is the number of shards.
func (l *Latencies) Shards() int { return len(l.shards) }

// Recorder returns a recorder feeding shard i mod Shards().
func (l *Latencies) Recorder(i int) *Recorder {
	return &Recorder{lat: l, shard: &l.shards[i%len(l.shards)]}
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

// Timeline returns the histogram of every slot, in order. Call it once
// every Recorder has been flushed; the histograms are the Latencies' own.
func (l *Latencies) Timeline() []*hdrhistogram.Histogram { return l.slots }

// Recorder buffers samples for one goroutine. It is not safe for concurrent
// use; Flush must be called before the shard is merged.
type Recorder struct {
	lat   *Latencies
	shard *shard
	n     int
	batch [batchSize]int64 // slot<<slotShift | value
}

// Record adds one latency in microseconds to the shard and to the
// timeline's slot (a slot out of range counts in the nearest one).
func (r *Recorder) Record(slot int, us int64) {
	r.batch[r.n] = int64(min(max(slot, 0), math.MaxUint16))<<slotShift | min(max(us, 0), histMax)
	r.n++
	if r.n == len(r.batch) {
		r.Flush()
	}
}

// Flush moves the buffered samples into the shard's histogram and the
// timeline's.
func (r *Recorder) Flush() {
	if r.n == 0 {
		return
	}
	const valueMask = 1<<slotShift - 1
	batch := r.batch[:r.n]
	r.shard.mu.Lock()
	for _, v := range batch {
		_ = r.shard.h.RecordValue(v & valueMask)
	}
	r.shard.mu.Unlock()
	if slots := r.lat.slots; len(slots) > 0 {
		r.lat.slotMu.Lock()
		for _, v := range batch {
			_ = slots[min(int(v>>slotShift), len(slots)-1)].RecordValue(v & valueMask)
		}
		r.lat.slotMu.Unlock()
	}
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
