package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Snapshots. The writer is the member with the lowest name: every node
// knows the same members after the same sequence, so exactly one node
// asks its server for a snapshot (Batch.Snapshot) every SnapshotEvery log
// messages, or after SnapshotInterval if anything happened. The server
// answers with SaveSnapshot from its own loop; the writing runs in the
// background. Each snapshot is an object named after its sequence; the
// newest two are kept, and the log is purged up to the older one, but
// never past what a live node (one heard from within the node timeout,
// including nodes still catching up) has read.

const (
	snapPrefix    = "snapshot-"
	keepSnapshots = 2
	snapTimeout   = 30 * time.Second
	// maxLoadTries bounds the attempts to load a snapshot that the log has
	// not moved past; each waits loadRetry.
	maxLoadTries = 50
	loadRetry    = 100 * time.Millisecond
	loadTimeout  = 2 * time.Second
	// staleTries bounds the attempts made after a listing that shows an
	// older newest snapshot than an earlier one did (see loadSnapshot).
	staleTries = 20
)

// ErrNoSnapshotDue is returned by SaveSnapshot for a sequence no batch
// asked a snapshot for.
var ErrNoSnapshotDue = errors.New("cluster: no snapshot was asked for at this sequence")

type snapshot struct {
	seq     uint64
	members *members
	data    []byte
}

type pendingSnap struct {
	seq     uint64
	members *members
	asked   time.Time
}

type snapshots struct {
	mu      sync.Mutex
	seq     uint64    // the newest snapshot this node knows of
	at      time.Time // when it was taken or loaded
	pending *pendingSnap
	writing bool     // a write or trim is running
	written []uint64 // the snapshots this node wrote and has not deleted
	wg      sync.WaitGroup
}

func snapName(seq uint64) string { return fmt.Sprintf("%s%020d", snapPrefix, seq) }

func snapSeq(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, snapPrefix)
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	return seq, err == nil
}

func (s *snapshots) wait() { s.wg.Wait() }

func (n *Node) snapshotLoaded(seq uint64) {
	n.snp.mu.Lock()
	n.snp.seq, n.snp.at = seq, time.Now()
	n.snp.mu.Unlock()
}

// snapshotDue says whether this node should snapshot after seq, and if so
// records what the snapshot must hold besides the server's data.
func (n *Node) snapshotDue(seq uint64, m *members) bool {
	if !n.active.Load() {
		return false
	}
	if name, epoch, ok := m.first(); !ok || name != n.cfg.Node || epoch != n.epoch.Load() {
		return false
	}
	s := &n.snp
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.writing || s.pending != nil && now.Sub(s.pending.asked) < n.cfg.SnapshotInterval || seq <= s.seq {
		return false
	}
	if seq-s.seq < n.cfg.SnapshotEvery && now.Sub(s.at) < n.cfg.SnapshotInterval {
		return false
	}
	s.pending = &pendingSnap{seq: seq, members: m, asked: now}
	return true
}

// SaveSnapshot stores data, the server's snapshot of the replica after
// log sequence seq, which a Batch with Snapshot set asked for. It returns
// at once and writes in the background; data must not be changed until
// the next Batch.Snapshot (it is read while written).
func (n *Node) SaveSnapshot(seq uint64, data []byte) error {
	s := &n.snp
	s.mu.Lock()
	p := s.pending
	if p == nil || p.seq != seq {
		s.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoSnapshotDue, seq)
	}
	select {
	case <-n.stop:
		s.mu.Unlock()
		return ErrClosed
	default:
	}
	s.pending, s.writing = nil, true
	s.wg.Add(1)
	s.mu.Unlock()
	go n.writeSnapshot(p, data)
	return nil
}

func (n *Node) writeSnapshot(p *pendingSnap, data []byte) {
	s := &n.snp
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(n.ctx, snapTimeout)
	defer cancel()
	defer func() {
		s.mu.Lock()
		s.writing = false
		s.mu.Unlock()
	}()
	start := time.Now()
	head := appendSnapshot(nil, p.seq, p.members, nil)
	_, err := n.obs.Put(ctx, jetstream.ObjectMeta{Name: snapName(p.seq)}, io.MultiReader(bytes.NewReader(head), bytes.NewReader(data)))
	if err != nil {
		n.log.Warn("snapshot not saved", zap.Uint64("seq", p.seq), zap.Error(err))
		return
	}
	s.mu.Lock()
	if p.seq > s.seq {
		s.seq, s.at = p.seq, start
	}
	s.written = append(s.written, p.seq)
	s.mu.Unlock()
	purged, err := n.trimLog(ctx)
	n.log.Info("snapshot saved", zap.Uint64("seq", p.seq), zap.Int("bytes", len(head)+len(data)),
		zap.Duration("took", time.Since(start)), zap.Uint64("log cut below", purged), zap.NamedError("trim", err))
}

// trimLog deletes all but the newest snapshots and purges the log below
// the oldest one kept, but not past any live node's reading; it returns
// the first sequence left in the log.
func (n *Node) trimLog(ctx context.Context) (uint64, error) {
	seqs, err := n.snapshotSeqs(ctx)
	if err != nil {
		return 0, err
	}
	// A listing is read from this node's replica of the store, which may
	// not show the snapshot just written: add what this node wrote.
	s := &n.snp
	s.mu.Lock()
	seqs = append(seqs, s.written...)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	s.written = slices.Clone(seqs[max(0, len(seqs)-keepSnapshots):])
	s.mu.Unlock()
	for _, seq := range seqs[:max(0, len(seqs)-keepSnapshots)] {
		if err := n.obs.Delete(ctx, snapName(seq)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return 0, fmt.Errorf("deleting snapshot %d: %w", seq, err)
		}
	}
	floor := seqs[max(0, len(seqs)-keepSnapshots)]
	floor = min(floor, n.mon.minApplied(n))
	if floor == 0 {
		return 0, nil
	}
	if err := n.stream.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
		return 0, fmt.Errorf("purging the log below %d: %w", floor+1, err)
	}
	return floor + 1, nil
}

// snapshotSeqs lists the stored snapshots' sequences, oldest first.
func (n *Node) snapshotSeqs(ctx context.Context) ([]uint64, error) {
	infos, err := n.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	var seqs []uint64
	for _, info := range infos {
		if seq, ok := snapSeq(info.Name); ok && !info.Deleted {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// loadSnapshot loads the newest snapshot (an empty one if there is none)
// and checks that the log still holds every message after it: if a newer
// snapshot has let the log be purged meanwhile, it loads again.
//
// The newest snapshot never goes back: a listing whose newest is older
// than one a previous attempt saw (and could not fetch) is stale, as the
// store of a node that has only just joined can be. It is retried
// staleTries times before the older snapshot is taken, which is correct
// too (the log is kept behind the older of the two), only longer to
// replay.
func (n *Node) loadSnapshot(ctx context.Context) (*snapshot, error) {
	var last error
	var seen uint64 // the newest snapshot any listing showed
	stale := 0
	for range maxLoadTries {
		// A listing can hang on a store that was just created (its
		// watcher is not retried), so each attempt is bounded.
		actx, cancel := context.WithTimeout(ctx, loadTimeout)
		atLeast := seen
		if stale >= staleTries {
			atLeast = 0
		}
		s, newest, err := n.tryLoadSnapshot(actx, atLeast)
		cancel()
		seen = max(seen, newest)
		if errors.Is(err, errStaleListing) {
			stale++
		}
		if err == nil {
			return s, nil
		}
		last = err
		n.log.Info("loading the snapshot", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("loading the snapshot: %w (%w)", ctx.Err(), last)
		case <-n.stop:
			return nil, ErrClosed
		case <-time.After(loadRetry):
		}
	}
	return nil, last
}

// tryLoadSnapshot loads the newest snapshot the store lists, unless that
// is older than atLeast (errStaleListing). It also returns the newest
// listed.
func (n *Node) tryLoadSnapshot(ctx context.Context, atLeast uint64) (*snapshot, uint64, error) {
	seqs, err := n.snapshotSeqs(ctx)
	if err != nil {
		return nil, 0, err
	}
	s := &snapshot{members: &members{}}
	var newest uint64
	if len(seqs) > 0 {
		newest = seqs[len(seqs)-1]
	}
	if newest < atLeast {
		return nil, newest, fmt.Errorf("%w: newest %d, seen %d", errStaleListing, newest, atLeast)
	}
	if newest > 0 {
		b, err := n.obs.GetBytes(ctx, snapName(newest))
		if err != nil {
			return nil, newest, fmt.Errorf("snapshot %d: %w", newest, err)
		}
		s.seq, s.members, s.data, err = decodeSnapshot(b)
		if err != nil {
			return nil, newest, fmt.Errorf("snapshot %d: %w", newest, err)
		}
		if s.seq != newest {
			return nil, newest, fmt.Errorf("snapshot %d: says it is at %d", newest, s.seq)
		}
	}
	info, err := n.stream.Info(ctx)
	if err != nil {
		return nil, newest, fmt.Errorf("log %s: %w", n.streamName, err)
	}
	if st := info.State; st.Msgs > 0 && st.FirstSeq > s.seq+1 {
		return nil, newest, fmt.Errorf("%w: snapshot at %d, log from %d", errLogPurged, s.seq, st.FirstSeq)
	}
	n.log.Info("loaded the snapshot", zap.Uint64("seq", s.seq), zap.Int("bytes", len(s.data)),
		zap.Int("members", s.members.count()), zap.Uint64("log last", info.State.LastSeq))
	return s, newest, nil
}
