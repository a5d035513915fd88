package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
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
//
// Which snapshots exist is asked of the store stream's leader (its subject
// listing), never of a consumer: a consumer may be placed on a replica
// that is still catching up (the store of a node that has just joined),
// and would list an older newest snapshot, or none. A deleted snapshot's
// tombstone is purged, so the listing holds only live snapshots.

const (
	snapPrefix    = "snapshot-"
	keepSnapshots = 2
	snapTimeout   = 30 * time.Second
	// maxLoadTries bounds the attempts to load a snapshot that the log has
	// not moved past; each waits loadRetry.
	maxLoadTries = 50
	loadRetry    = 100 * time.Millisecond
	loadTimeout  = 2 * time.Second
	// unreadTries bounds the attempts to read the newest snapshot before
	// the one before it is taken (see loadSnapshot).
	unreadTries = 20
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
	writing bool // a write or trim is running
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
	if len(seqs) == 0 {
		return 0, nil
	}
	for _, seq := range seqs[:max(0, len(seqs)-keepSnapshots)] {
		if err := n.deleteSnapshot(ctx, seq); err != nil {
			return 0, err
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

// deleteSnapshot deletes a snapshot's data, then its tombstone, so that
// it leaves the listing. A failure leaves it listed for the next trim.
func (n *Node) deleteSnapshot(ctx context.Context, seq uint64) error {
	if err := n.obs.Delete(ctx, snapName(seq)); err != nil {
		return fmt.Errorf("deleting snapshot %d: %w", seq, err)
	}
	if err := n.obsStream.Purge(ctx, jetstream.WithPurgeSubject(n.snapSubject(snapName(seq)))); err != nil {
		return fmt.Errorf("deleting snapshot %d: %w", seq, err)
	}
	return nil
}

// snapMeta is the prefix of the subjects of the objects' descriptions in
// the store: the object store names them $O.<bucket>.M.<the name in URL
// base64>.
func (n *Node) snapMeta() string { return "$O." + n.bucket + ".M." }

func (n *Node) snapSubject(name string) string {
	return n.snapMeta() + base64.URLEncoding.EncodeToString([]byte(name))
}

// snapshotSeqs lists the stored snapshots' sequences, oldest first, as
// the store stream's leader has them.
func (n *Node) snapshotSeqs(ctx context.Context) ([]uint64, error) {
	prefix := n.snapMeta()
	info, err := n.obsStream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	var seqs []uint64
	for subj := range info.State.Subjects {
		name, err := base64.URLEncoding.DecodeString(strings.TrimPrefix(subj, prefix))
		if err != nil {
			continue
		}
		if seq, ok := snapSeq(string(name)); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// loadSnapshot loads the newest snapshot (an empty one if there is none)
// and checks that the log still holds every message after it: if a newer
// snapshot has let the log be purged meanwhile, it loads again. A newest
// snapshot that cannot be read unreadTries times running (its data lost
// with a node, say) gives way to the one before it, which is correct too
// (the log is kept behind the older of the two), only longer to replay.
func (n *Node) loadSnapshot(ctx context.Context) (*snapshot, error) {
	var last error
	unread := 0
	for range maxLoadTries {
		// A request to a store that was just created can go unanswered,
		// so each attempt is bounded.
		actx, cancel := context.WithTimeout(ctx, loadTimeout)
		s, err := n.tryLoadSnapshot(actx, unread >= unreadTries)
		cancel()
		if err == nil {
			return s, nil
		}
		if errors.Is(err, errSnapshotUnread) {
			unread++
		} else {
			unread = 0
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

// tryLoadSnapshot loads the newest snapshot listed, or with older the one
// before it.
func (n *Node) tryLoadSnapshot(ctx context.Context, older bool) (*snapshot, error) {
	seqs, err := n.snapshotSeqs(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{members: &members{}}
	if older && len(seqs) > 1 {
		seqs = seqs[:len(seqs)-1]
	}
	if len(seqs) > 0 {
		want := seqs[len(seqs)-1]
		b, err := n.obs.GetBytes(ctx, snapName(want))
		if err != nil {
			return nil, fmt.Errorf("%w: snapshot %d: %w", errSnapshotUnread, want, err)
		}
		s.seq, s.members, s.data, err = decodeSnapshot(b)
		if err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", want, err)
		}
		if s.seq != want {
			return nil, fmt.Errorf("snapshot %d: says it is at %d", want, s.seq)
		}
	}
	info, err := n.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", n.streamName, err)
	}
	if st := info.State; st.Msgs > 0 && st.FirstSeq > s.seq+1 {
		return nil, fmt.Errorf("%w: snapshot at %d, log from %d", errLogPurged, s.seq, st.FirstSeq)
	}
	n.log.Info("loaded the snapshot", zap.Uint64("seq", s.seq), zap.Int("bytes", len(s.data)),
		zap.Int("members", s.members.count()), zap.Uint64("log last", info.State.LastSeq))
	return s, nil
}
