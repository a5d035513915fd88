package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestLateNode starts a node after thousands of entries, once snapshots
// (of 4 MiB, a camp of 57,000 campers) have let the log be purged: it must
// start from a snapshot and end with the same replica as the others.
func TestLateNode(t *testing.T) {
	const perNode = 2500
	s := newSpec(t, "a", "b", "c")
	s.pad = 4 << 20
	s.modify = func(cfg *Config) {
		cfg.Replicas = 2 // the stream lives while c is away
		cfg.SnapshotEvery = 100
	}
	nodes := s.open(t, 0, 1)

	var wg sync.WaitGroup
	for _, m := range nodes {
		wg.Go(func() {
			for i := range perNode {
				m.Append(uint64(i), fmt.Appendf(nil, "%s-%05d", m.Name(), i))
				if i%5 == 4 {
					m.Flush()
				}
			}
			m.Flush()
		})
	}
	wg.Wait()
	for _, m := range nodes {
		m.rec.await(t, "all entries", func(r *recorder) bool { return r.count >= 2*perNode })
	}
	// Purging waits for a snapshot that every live node has read past:
	// keep the log moving until one comes.
	extra := 0
	poll(t, "log purged behind a snapshot", func() bool {
		first, _, _ := streamInfo(t, nodes[0].Node)
		if first > 1 {
			return true
		}
		extra++
		nodes[0].Append(uint64(extra), fmt.Appendf(nil, "extra-%d", extra))
		nodes[0].Flush()
		return false
	})
	total := uint64(2*perNode + extra)

	late := s.open(t, 2)[0]
	late.rec.mu.Lock()
	restored := late.rec.restored
	late.rec.mu.Unlock()
	if restored == 0 {
		t.Fatal("the late node did not start from a snapshot")
	}
	t.Logf("late node restored the snapshot at %d", restored)
	sameState(t, append(nodes, late))
	_, count, _ := late.rec.state()
	if count != total {
		t.Errorf("late node has %d data entries, want %d", count, total)
	}
	var snaps int
	for _, m := range nodes {
		m.rec.mu.Lock()
		snaps += m.rec.snaps
		m.rec.mu.Unlock()
	}
	if snaps == 0 {
		t.Error("no snapshot was asked for")
	}
	seqs := keptSnapshots(t, late.Node)
	t.Logf("the store lists snapshots %v after %d were asked for", seqs, snaps)
}

// keptSnapshots waits until the store lists only the snapshots kept
// (three for a moment while a new one is trimmed behind), every one of
// them readable: deleted ones leave no tombstone behind. It returns them.
func keptSnapshots(t *testing.T, n *Node) []uint64 {
	t.Helper()
	var seqs []uint64
	var err error
	poll(t, "a listing of only the snapshots kept", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if seqs, err = n.snapshotSeqs(ctx); err != nil || len(seqs) == 0 || len(seqs) > keepSnapshots {
			return false
		}
		for _, seq := range seqs {
			if _, err = n.obs.GetInfo(ctx, snapName(seq)); err != nil {
				return false
			}
		}
		return true
	})
	return seqs
}

// TestFileStore restarts a lone node that keeps its log in files: the
// camp survives, and the node's previous life is declared down at once by
// its new arrival.
func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("a")
	cfg.StoreDir = dir
	open := func() (*Node, *recorder) {
		n, err := Open(context.Background(), cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(n)
		if err := n.Start(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		return n, rec
	}

	n, rec := open()
	first := n.Epoch()
	for i := range 10 {
		n.Append(uint64(i), fmt.Appendf(nil, "entry %d", i))
	}
	n.Flush()
	rec.await(t, "entries", func(r *recorder) bool { return r.count == 10 })
	n.kill()

	n, rec = open()
	t.Cleanup(func() { closeNode(t, n) })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.count != 10 {
		t.Errorf("%d entries after the restart, want 10", rec.count)
	}
	if _, ok := rec.find(KindNodeDown, "a", first); !ok {
		t.Error("the previous epoch was not declared down by the new arrival")
	}
}

// TestSnapshotTrim takes snapshot after snapshot and checks that the store
// lists only the newest ones, each readable: a deleted snapshot leaves no
// tombstone in the listing, which is what a starting node loads from.
func TestSnapshotTrim(t *testing.T) {
	s := newSpec(t, "a")
	s.modify = func(cfg *Config) { cfg.SnapshotEvery = 2 }
	m := s.open(t, 0)[0]
	const want = 6
	i := 0
	poll(t, fmt.Sprintf("%d snapshots", want), func() bool {
		i++
		m.Append(uint64(i), fmt.Appendf(nil, "entry-%d", i))
		m.Flush()
		m.rec.mu.Lock()
		defer m.rec.mu.Unlock()
		return m.rec.snaps >= want
	})
	seqs := keptSnapshots(t, m.Node)
	t.Logf("after %d entries and %d snapshots the store lists %v", i, want, seqs)
}
