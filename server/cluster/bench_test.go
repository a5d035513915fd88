package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// counter is a handler that only counts data entries.
type counter struct {
	mu    sync.Mutex
	cond  sync.Cond
	count int
}

func newCounter() *counter {
	c := &counter{}
	c.cond.L = &c.mu
	return c
}

func (c *counter) Restore(uint64, []byte) error { return nil }
func (c *counter) CaughtUp()                    {}
func (c *counter) CutOff(error)                 {}
func (c *counter) Failed([]uint64, error)       {}

func (c *counter) Apply(b Batch) {
	c.mu.Lock()
	for _, e := range b.Entries {
		if e.Kind == KindData {
			c.count++
		}
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// wait waits until n data entries have been applied; false if that takes
// longer than waitFor.
func (c *counter) wait(n int) bool {
	if n <= 0 {
		return true
	}
	deadline := time.Now().Add(waitFor)
	stop := time.AfterFunc(waitFor, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.count < n {
		if time.Now().After(deadline) {
			return false
		}
		c.cond.Wait()
	}
	return true
}

// BenchmarkLog measures the log's own ceiling: entries per second from
// Append on every node until each node's reading of the log shows them
// all (the first node's is measured), with
// batching (a flush every 64 entries, as one busy event loop iteration
// would) and without (one entry per message, a flush after each).
// Entries are 64 bytes, about the size of a campfire record.
func BenchmarkLog(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("nodes=%d/batch=%d", nodes, batch), func(b *testing.B) {
				benchLog(b, nodes, batch)
			})
		}
	}
}

func benchLog(b *testing.B, nodes, batch int) {
	names := []string{"a", "b", "c"}[:nodes]
	s := newSpec(b, names...)
	s.modify = func(cfg *Config) {
		if batch == 1 {
			cfg.MaxEntries = 1
		}
		cfg.SnapshotEvery = 1 << 40
		cfg.SnapshotInterval = time.Hour
	}
	idx := []int{0, 1, 2}[:nodes]
	counters := make([]*counter, nodes)
	// Only warnings: a benchmark's output is its figures.
	ns := s.openWith(b, func(k int, n *Node) Handler {
		counters[k] = newCounter()
		return counters[k]
	}, idx...)
	entry := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	// The producers keep about a window of messages in flight per node:
	// offered faster, entries queue past the cluster timeout and fail,
	// which is right for a server (503) and wrong for a measure of
	// throughput.
	ahead := nodes * batch * DefaultWindow
	var wg sync.WaitGroup
	for k, n := range ns {
		wg.Go(func() {
			for i := k; i < b.N; i += nodes {
				if i%ahead == 0 && !counters[k].wait(i-ahead) {
					return
				}
				n.Append(uint64(i), entry)
				if i/nodes%batch == batch-1 {
					n.Flush()
				}
			}
			n.Flush()
		})
	}
	wg.Wait()
	done := counters[0].wait(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	var msgs, failed uint64
	for _, n := range ns {
		st := n.Stats()
		msgs += st.Published
		failed += st.Failed
	}
	if !done || failed > 0 {
		for k, n := range ns {
			counters[k].mu.Lock()
			b.Logf("%s: %+v, %d applied", n.Name(), n.Stats(), counters[k].count)
			counters[k].mu.Unlock()
		}
		b.Fatalf("%d entries failed, all read: %v", failed, done)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(b.N)/float64(msgs), "entries/msg")
}
