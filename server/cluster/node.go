package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Errors reported to Handler.Failed, Handler.CutOff and by Node methods.
var (
	// ErrTimeout: the log did not take the entry within ClusterTimeout.
	// The entry may still reach the log later (a NATS acknowledgement that
	// is late, not lost); every node then applies it like any other.
	ErrTimeout = errors.New("cluster unavailable: the log did not take the entry in time")
	// ErrNotMember: the node is not a member of the camp (not caught up
	// yet, or cut off), so its entries would be ignored.
	ErrNotMember = errors.New("cluster: this node is not a member of the camp")
	// ErrClosed: the node is closing or closed.
	ErrClosed = errors.New("cluster: node closed")
	// ErrDeclaredDown: the log says this node is down (it was silent for
	// the node timeout, seen from the others).
	ErrDeclaredDown = errors.New("cluster: the log declares this node down")
	// ErrReplaced: another process joined the camp under this node's name.
	ErrReplaced = errors.New("cluster: another process joined under this node's name")
	// ErrNoJetStream: the external NATS does not answer JetStream requests.
	ErrNoJetStream = errors.New("cluster: NATS has no JetStream (start nats-server with -js)")
)

// MismatchError says that this node's configuration differs from the one
// the cluster's log was created with. The node must not join.
type MismatchError struct {
	What    string // "camp", "log format" or "replicas"
	Cluster string // what the cluster has
	Node    string // what this node has
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("cluster %s configuration differs: the cluster has %q, this node %q", e.What, e.Cluster, e.Node)
}

// Handler receives the log. Restore, Apply, CaughtUp and CutOff are called
// from one goroutine, one at a time, in log order; Failed may be called
// from another goroutine at any time.
type Handler interface {
	// Restore replaces the whole replica by a snapshot taken after log
	// sequence seq; data is nil when there is none (an empty camp). It is
	// called before the first Apply, and may be called again before
	// CaughtUp when the log moved past the snapshot while it was loaded.
	// An error stops the node.
	Restore(seq uint64, data []byte) error
	// Apply applies a batch of entries in order. The batch and its bytes
	// belong to the handler from now on.
	Apply(b Batch)
	// CaughtUp says the replica holds every entry up to this node's own
	// arrival in the log: the node may serve. It is called again after a
	// Rejoin.
	CaughtUp()
	// CutOff says the log no longer counts this node as a member
	// (ErrDeclaredDown or ErrReplaced): its entries are ignored from here
	// on, so it must close its connections. The replica stays correct; the
	// node can Rejoin or stop.
	CutOff(err error)
	// Failed reports entries that are not in the log, by the tags given to
	// Append: the requests they carry should be answered 503. err is
	// ErrTimeout, ErrNotMember, ErrClosed or a NATS error. An entry failed
	// with ErrTimeout may still show up in the log later (NATS took it but
	// answered too late): it is then applied like any other, on every node,
	// and its request must not be answered twice.
	Failed(tags []uint64, err error)
}

// Batch is a run of consecutive log entries.
type Batch struct {
	// Entries in log order; there may be none when the messages up to Seq
	// held only entries that every node ignores.
	Entries []Entry
	// Seq is the log sequence the replica is at after this batch.
	Seq uint64
	// Snapshot asks this node to save a snapshot of the replica as it is
	// after this batch: SaveSnapshot(Seq, data).
	Snapshot bool
}

// Entry is one log entry.
type Entry struct {
	// Seq is the log sequence of the message that carried the entry;
	// several entries share one when a node packed them together.
	Seq uint64
	// Time is when the log took the message (the same on every node).
	Time time.Time
	Kind Kind
	// Node and Epoch: for KindData, the node that appended the entry; for
	// KindNodeUp and KindNodeDown, the node that arrived or left.
	Node  string
	Epoch uint64
	// Data is the record given to Append (KindData only).
	Data []byte
}

// Stats are counters since Open.
type Stats struct {
	Appended  uint64 // entries given to Append
	Published uint64 // log messages published
	Acked     uint64 // log messages the log acknowledged
	Failed    uint64 // entries reported to Handler.Failed
	Applied   uint64 // the last log sequence taken in
	Ignored   uint64 // entries from non-members, ignored by every node
}

// Node is one campfire node's seat in a cluster: its NATS connection (and
// embedded server), its appends to the camp's log, its ordered reading of
// the log, its heartbeats, and the snapshots.
type Node struct {
	cfg  Config
	plan plan
	log  *zap.Logger

	emb    *embedded
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	obs    jetstream.ObjectStore
	// obsStream is the snapshot store's own stream, whose leader lists
	// the snapshots (see snapshotSeqs).
	obsStream jetstream.Stream

	streamName, bucket, subjLog, subjBeat string

	h       Handler
	epoch   atomic.Uint64
	active  atomic.Bool   // caught up and a member: data entries are taken
	applied atomic.Uint64 // the last log sequence taken in
	members atomic.Pointer[members]
	leaving atomic.Bool
	ignored atomic.Uint64

	pub publisher
	q   queue
	con consumer
	mon monitor
	snp snapshots

	joined   chan struct{} // closed at the first catch-up
	joinOnce sync.Once
	resync   chan struct{} // a gap before catch-up: reload the snapshot

	started  bool
	ctx      context.Context // canceled when the node stops
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	done     chan struct{}
	failOnce sync.Once
	err      error
}

// Open connects a node to the cluster: it starts the embedded NATS server
// or dials the external one, and creates the camp's log and snapshot store
// or checks that the existing ones have the same camp configuration (a
// *MismatchError if not). ctx bounds the wait for the other nodes (with no
// deadline, Config.JoinTimeout).
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Node, error) {
	p, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	ctx, cancel := joinContext(ctx, cfg.JoinTimeout)
	defer cancel()
	n := &Node{
		cfg:        cfg,
		plan:       p,
		log:        log.Named("cluster").With(zap.String("node", cfg.Node)),
		streamName: "campfire-" + cfg.Cluster,
		bucket:     "campfire-" + cfg.Cluster + "-snapshots",
		subjLog:    "campfire." + cfg.Cluster + ".log",
		subjBeat:   "campfire." + cfg.Cluster + ".beat",
		joined:     make(chan struct{}),
		resync:     make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.epoch.Store(newEpoch(0))
	n.pub.init(n)
	n.q.init()
	n.mon.init()
	n.con.init()
	if err := n.connect(ctx); err != nil {
		n.abandon()
		return nil, err
	}
	if err := n.ensureLog(ctx); err != nil {
		n.abandon()
		return nil, err
	}
	n.log.Info("connected to the cluster",
		zap.String("cluster", cfg.Cluster), zap.Bool("embedded", p.embedded),
		zap.String("stream", n.streamName), zap.Uint64("epoch", n.epoch.Load()))
	return n, nil
}

func joinContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// newEpoch returns a number that tells this start of a node from all its
// others: the start time in nanoseconds with random low bits, never prev.
func newEpoch(prev uint64) uint64 {
	for {
		var b [2]byte
		_, _ = crand.Read(b[:])
		e := uint64(time.Now().UnixNano())&^0xffff | uint64(binary.LittleEndian.Uint16(b[:]))
		if e != 0 && e != prev {
			return e
		}
	}
}

func (n *Node) connect(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("campfire " + n.cfg.Cluster + "/" + n.cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// No reconnect buffer: while the connection is down a publish
		// fails at once, so appends fail fast instead of piling up.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !n.leaving.Load() {
				n.log.Warn("lost the NATS connection", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.log.Info("NATS connection back", zap.String("url", nc.ConnectedUrlRedacted()))
			n.mon.reconnected()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			n.log.Warn("NATS error", zap.Error(err))
		}),
	}
	url := n.plan.externalURL
	if n.plan.embedded {
		emb, err := startEmbedded(&n.cfg, &n.plan, n.log)
		if err != nil {
			return err
		}
		n.emb = emb
		opts = append(opts, nats.InProcessServer(emb.ns))
		url = ""
	}
	var err error
	for {
		n.nc, err = nats.Connect(url, opts...)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats %s: %w", url, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	n.js, err = jetstream.New(n.nc,
		jetstream.WithPublishAsyncAckHandler(n.pub.onAck),
		jetstream.WithPublishAsyncErrHandler(n.pub.onErr),
		// The publisher keeps its own window (Config.Window); this bound
		// is only a backstop and never stalls it.
		jetstream.WithPublishAsyncMaxPending(4*n.cfg.Window+16),
		// Lets nats.go forget unanswered publishes; the publisher has
		// already reported them failed at ClusterTimeout.
		jetstream.WithPublishAsyncTimeout(n.cfg.ClusterTimeout+time.Second),
	)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if n.plan.replicas == 0 {
		n.plan.replicas = min(3, max(1, len(n.nc.Servers())))
	}
	return nil
}

// ensureLog creates the stream and the snapshot store, or checks the ones
// that exist. While the cluster forms (no JetStream leader yet, too few
// servers for the replicas) it retries until ctx ends.
func (n *Node) ensureLog(ctx context.Context) error {
	// Embedded servers keep the log in memory unless -nats-store is given;
	// on an external NATS system it goes in files, where that system keeps
	// them (its store_dir), so that it survives that system's restart.
	storage := jetstream.MemoryStorage
	if n.cfg.StoreDir != "" || !n.plan.embedded {
		storage = jetstream.FileStorage
	}
	want := jetstream.StreamConfig{
		Name:        n.streamName,
		Description: "campfire camp log of cluster " + n.cfg.Cluster,
		Subjects:    []string{n.subjLog},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     storage,
		Replicas:    n.plan.replicas,
		Metadata:    map[string]string{metaCamp: n.cfg.Camp, metaFormat: fmt.Sprint(wireVersion)},
	}
	var last error
	var noJetStream time.Time // since when an external NATS has not answered JetStream requests
	for attempt := 0; ; attempt++ {
		err := n.tryEnsureLog(ctx, want, storage)
		if err == nil {
			return nil
		}
		var mismatch *MismatchError
		if errors.As(err, &mismatch) {
			return err
		}
		if !n.plan.embedded && (errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders)) {
			if noJetStream.IsZero() {
				noJetStream = time.Now()
			} else if time.Since(noJetStream) > noJetStreamWait {
				return fmt.Errorf("%w: %s: %w", ErrNoJetStream, n.nc.ConnectedUrlRedacted(), err)
			}
		} else {
			noJetStream = time.Time{}
		}
		if last == nil || err.Error() != last.Error() {
			n.log.Info("waiting for the cluster's JetStream", zap.Error(err))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("log %s: %w", n.streamName, last)
		case <-time.After(min(50*time.Millisecond<<min(attempt, 4), time.Second)):
		}
	}
}

// noJetStreamWait is how long an external NATS may leave JetStream
// requests unanswered before Open gives up: long enough for a server that
// is still starting, short enough for a clear error about a NATS without
// JetStream.
const noJetStreamWait = 2 * time.Second

const (
	metaCamp   = "campfire.camp"
	metaFormat = "campfire.format"
)

func (n *Node) tryEnsureLog(ctx context.Context, want jetstream.StreamConfig, storage jetstream.StorageType) error {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := n.js.Stream(actx, n.streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = n.js.CreateStream(actx, want)
		if err == nil {
			n.log.Info("created the camp's log", zap.String("stream", n.streamName),
				zap.Int("replicas", want.Replicas), zap.String("storage", storage.String()))
		}
	}
	if err != nil {
		return err
	}
	got := s.CachedInfo().Config
	if have := got.Metadata[metaCamp]; have != n.cfg.Camp {
		return &MismatchError{What: "camp", Cluster: have, Node: n.cfg.Camp}
	}
	if have := got.Metadata[metaFormat]; have != want.Metadata[metaFormat] {
		return &MismatchError{What: "log format", Cluster: have, Node: want.Metadata[metaFormat]}
	}
	if n.cfg.Replicas != 0 && got.Replicas != n.cfg.Replicas {
		return &MismatchError{What: "replicas", Cluster: fmt.Sprint(got.Replicas), Node: fmt.Sprint(n.cfg.Replicas)}
	}
	if got.Storage != storage {
		n.log.Warn("the camp's log uses another storage than this node would",
			zap.String("log", got.Storage.String()), zap.String("node", storage.String()))
	}
	n.stream = s
	n.obs, err = n.js.ObjectStore(actx, n.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		n.obs, err = n.js.CreateObjectStore(actx, jetstream.ObjectStoreConfig{
			Bucket:      n.bucket,
			Description: "campfire camp snapshots of cluster " + n.cfg.Cluster,
			Storage:     got.Storage,
			Replicas:    got.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			n.obs, err = n.js.ObjectStore(actx, n.bucket)
		}
	}
	if err == nil {
		// An object store named B keeps its objects in stream OBJ_B.
		n.obsStream, err = n.js.Stream(actx, "OBJ_"+n.bucket)
	}
	if err != nil {
		return fmt.Errorf("snapshot store %s: %w", n.bucket, err)
	}
	return nil
}

// Start begins taking in the log: it hands the latest snapshot to h
// (Restore), then the log after it (Apply), announces this node (a node-up
// entry), and returns once the node has read up to its own announcement
// and h.CaughtUp has returned. ctx bounds the wait (with no deadline,
// Config.JoinTimeout). On an error the node is closed.
func (n *Node) Start(ctx context.Context, h Handler) error {
	if n.started {
		return errors.New("cluster: Start called twice")
	}
	n.started, n.h = true, h
	ctx, cancel := joinContext(ctx, n.cfg.JoinTimeout)
	defer cancel()
	if err := n.mon.subscribe(n); err != nil {
		n.shutdown()
		return err
	}
	n.wg.Add(4)
	go n.pub.run()
	go n.deliver()
	go n.mon.run(n)
	go n.reread()
	err := n.join(ctx)
	if err != nil {
		n.shutdown()
	}
	return err
}

func (n *Node) join(ctx context.Context) error {
	if err := n.follow(ctx); err != nil {
		return err
	}
	announce := time.NewTicker(2 * n.cfg.ClusterTimeout)
	defer announce.Stop()
	n.announce()
	for {
		select {
		case <-n.joined:
			return nil
		case <-announce.C:
			n.announce() // the last one may have been lost; a repeat is ignored
		case <-n.resync:
			if err := n.follow(ctx); err != nil {
				return err
			}
		case <-n.done:
			return n.err
		case <-ctx.Done():
			return fmt.Errorf("joining cluster %s: %w", n.cfg.Cluster, ctx.Err())
		}
	}
}

// announce appends this node's node-up entry.
func (n *Node) announce() {
	n.pub.appendControl(KindNodeUp, nil)
}

// Epoch returns this node's current epoch (it changes on Rejoin).
func (n *Node) Epoch() uint64 { return n.epoch.Load() }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Node }

// Replicas returns the replica count of the camp's log.
func (n *Node) Replicas() int { return n.plan.replicas }

// ClientURL returns the embedded NATS server's client URL, or "" when it
// has no client port or NATS is external.
func (n *Node) ClientURL() string {
	if n.emb == nil || !n.plan.listen {
		return ""
	}
	return n.emb.ns.ClientURL()
}

// Rejoin brings a cut-off node back: it takes a new epoch and announces
// it; Handler.CaughtUp follows once the announcement is in the log. The
// caller must have closed every connection of the old epoch first.
func (n *Node) Rejoin() error {
	if n.active.Load() {
		return errors.New("cluster: Rejoin of a node that is a member")
	}
	n.pub.mu.Lock()
	n.pub.closeOpen()
	n.epoch.Store(newEpoch(n.epoch.Load()))
	n.pub.mu.Unlock()
	n.log.Info("rejoining", zap.Uint64("epoch", n.epoch.Load()))
	n.announce()
	return nil
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := n.pub.stats()
	s.Applied = n.applied.Load()
	s.Ignored = n.ignored.Load()
	return s
}

// Done is closed when the node stops by itself (see Err); Close does not
// close it.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err says why the node stopped by itself: the log lost entries this node
// had not read yet, or a snapshot could not be restored. The replica can
// no longer follow the log; the process should exit.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// fail stops the node's reading of the log for good and reports err.
func (n *Node) fail(err error) {
	n.failOnce.Do(func() {
		n.log.Error("stopped following the log", zap.Error(err))
		n.err = err
		n.active.Store(false)
		close(n.done)
		n.q.close()
	})
}

// Close leaves the cluster: new appends fail with ErrClosed, the entries
// already appended are published (the caller appends the checkouts of its
// campers first), a node-down entry for this node follows them so the
// others need not wait for the node timeout, and everything is stopped.
// ctx bounds the wait for the log; Close returns ctx's error if it ended
// first, after stopping everything anyway.
func (n *Node) Close(ctx context.Context) error {
	var err error
	member := n.active.Load()
	n.leaving.Store(true)
	n.pub.refuse()
	if n.started && member {
		n.pub.appendControl(KindNodeDown, nodeDownBody(n.cfg.Node, n.epoch.Load()))
		err = n.pub.drain(ctx)
	}
	n.shutdown()
	return err
}

// Kill stops the node at once without a word to the others, as a crash
// would: nothing more reaches the log (no node-down of its own), so the
// others declare it down after the node timeout. It is for tests of
// failure handling; a server leaves with Close.
func (n *Node) Kill() { n.kill() }

// kill stops the node without a word to the others, as a crash would.
func (n *Node) kill() {
	n.leaving.Store(true)
	n.shutdown()
}

// shutdown stops every goroutine, the connection and the embedded server.
func (n *Node) shutdown() {
	n.stopOnce.Do(func() {
		n.active.Store(false)
		close(n.stop)
		n.cancel()
		n.pub.wake()
		n.q.close()
		n.con.stop()
		n.wg.Wait()
		n.snp.wait()
		n.pub.failAll(ErrClosed)
		n.closeConn()
		n.log.Info("left the cluster")
	})
}

// abandon undoes a failed Open.
func (n *Node) abandon() {
	n.leaving.Store(true)
	n.cancel()
	n.closeConn()
}

func (n *Node) closeConn() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.emb != nil {
		n.emb.shutdown()
	}
}
