package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"campfire/groups"
	"campfire/protocol"
	"campfire/server/cluster"

	"github.com/panjf2000/gnet/v2"
)

// gnetTask wraps fn as a task for a loop.
func gnetTask(fn func()) gnet.Runnable {
	return gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	})
}

// dropRouter takes results that no connection of this node waits for.
type dropRouter struct{}

func (dropRouter) route(*result) {}

// Digest returns the log sequence the replica is at and a digest of the
// camp's state, equal on every replica at the same sequence.
func (s *Server) Digest(ctx context.Context) (seq, digest uint64, err error) {
	cs := s.camp
	if cs == nil {
		return 0, 0, errors.New("no camp: this server runs the echo service")
	}
	err = cs.r.onLoop0(ctx, func(*campLoop) {
		digest = cs.core.camp.Digest()
		if cs.cluster != nil {
			seq = cs.cluster.seq
		}
	})
	return seq, digest, err
}

// Cluster mode: every node keeps a full replica of the camp, and the log
// (a JetStream stream, package cluster) is the one order of everything that
// changes it. This is the third carrier of the one path to the camp: on the
// loop that holds the camp, a command is not applied where it arrives but
// appended to the log (order); every node reads the log in order and
// applies each entry to its replica (Apply), so every replica computes the
// same results. The node that holds a connection writes what the camp
// produced for it; the others drop it, since for them the connection is a
// placeholder that is never open. Requests that only read (mission, ping,
// help, and anything answered before it reaches the camp's state) are
// answered at once on the local replica, unless the connection has entries
// still on their way through the log, which they must not overtake.
//
// A record is a command in compact binary: kind, connection id, tag, origin
// time, method, flags and the request's parts. The node and its epoch come
// with the log entry. Time-dependent results (Active) use the origin time,
// so every replica writes the same bytes.

// recordVersion is the first byte of every record.
const recordVersion = 1

// recForget is the kind of a record that is not a command for the camp:
// the connection has left, and nothing more of it is on its way through
// the log, so every replica may drop its placeholder. Until then a
// replica keeps the placeholder of a connection that left, marked gone,
// so that what the connection sent after its checkout (requests
// pipelined behind it, which its own node ignores) is ignored on every
// replica too, instead of being taken for a new connection's.
const recForget = cmdLeave + 1

// Record flags.
const (
	recFull    = 1 << iota // full-form request
	recBadID               // the Id header was invalid
	recRefused             // the origin was draining: answer 503, change nothing
)

// connKey names a connection camp-wide.
type connKey struct {
	node  string
	epoch uint64
	id    uint64
}

// connRef is what cluster mode knows of a connection in the camp.
type connRef struct {
	key    connKey
	logged int32 // this node's entries for it in the log, not applied yet
}

// pendingReq is an entry of ours on its way through the log.
type pendingReq struct {
	c    *campConn
	kind cmdKind
	id   []byte // a request's Id header, for a 503
	fail []byte // cmdFail: the error to send as the last reply
	code int
	why  closeReason
	// bound is a request's reply bound, given back with its answer.
	bound int32
}

// clusterCamp is the camp service's side of cluster mode. Everything but
// the fields under mu belongs to the loop that holds the camp (or, before
// any loop runs, to the node's reading goroutine, one at a time).
type clusterCamp struct {
	s    *campService
	node *cluster.Node
	name string
	log  *zap.Logger
	cfg  groups.Config

	refs    map[*campConn]*connRef
	local   map[uint64]*campConn  // this node's connections, by id
	remote  map[connKey]*campConn // placeholders for other nodes' connections
	pending map[uint64]pendingReq // by tag
	failed  map[uint64]struct{}   // tags answered 503 whose entry may still come
	// retry holds connections of this node that ended while the log did
	// not take their checkout: it is appended again a cluster timeout
	// later, until it gets there, so that no camper stays checked in for
	// a connection that is gone.
	retry      []*campConn
	retryAfter time.Duration
	nextID     uint64
	nextTag    uint64
	seq        uint64 // the log sequence the replica is at
	draining   bool
	dirty      bool // appended since the last Flush
	rec        []byte
	snap       []byte
	drop       dropRouter
	// trace, when set (by tests, on the camp's loop), sees every log entry
	// before it is applied, in log order.
	trace func(e *cluster.Entry)

	// life ends once the server's engines have stopped: a task handed to
	// a loop after that may never run, so whatever waits for one (a batch
	// of the log, a cut-off) gives up instead of blocking the node's
	// reading goroutine, and with it the node's Close, for ever.
	life    context.Context
	endLife context.CancelFunc
	// stopSaid: a batch was dropped because the loops had stopped, and
	// the log said so.
	stopSaid atomic.Bool

	mu       sync.Mutex
	failedQ  []uint64 // tags reported failed, for the camp's loop
	failErr  error
	caughtUp chan struct{}
	upOnce   sync.Once
}

func newClusterCamp(s *campService, node *cluster.Node, cfg Config, log *zap.Logger) *clusterCamp {
	life, endLife := context.WithCancel(context.Background())
	return &clusterCamp{
		life: life, endLife: endLife,
		s: s, node: node, name: node.Name(), log: log,
		cfg:        groups.Config{IDs: cfg.IDs, MaxCampers: cfg.MaxCampers},
		retryAfter: cfg.Cluster.ClusterTimeout,
		refs:       make(map[*campConn]*connRef),
		local:      make(map[uint64]*campConn),
		remote:     make(map[connKey]*campConn),
		pending:    make(map[uint64]pendingReq),
		failed:     make(map[uint64]struct{}),
		caughtUp:   make(chan struct{}),
	}
}

// joinCluster opens this node's seat in the cluster and returns once the
// replica has caught up with the log.
func joinCluster(cs *campService, cfg Config, log *zap.Logger) error {
	ccfg := *cfg.Cluster
	ccfg.Camp = campFingerprint(cfg)
	clog := log.Named("cluster")
	node, err := cluster.Open(context.Background(), ccfg, clog)
	if err != nil {
		return err
	}
	cc := newClusterCamp(cs, node, cfg, clog)
	cs.cluster = cc
	if err := node.Start(context.Background(), cc); err != nil {
		return err
	}
	<-cc.caughtUp
	return nil
}

// campFingerprint is the camp configuration every node of a cluster must
// share.
func campFingerprint(cfg Config) string {
	return fmt.Sprintf("ids=%s max-campers=%d max-body=%d", cfg.IDs, cfg.MaxCampers, cfg.MaxBody)
}

// readOnly reports requests answered from the local replica.
func readOnly(m protocol.Method) bool {
	switch m {
	case protocol.MethodMission, protocol.MethodPing, protocol.MethodHelp, 0:
		return true
	}
	return false
}

// refOf returns c's ref, making one for a local connection seen first.
func (cc *clusterCamp) refOf(c *campConn) *connRef {
	if r := cc.refs[c]; r != nil {
		return r
	}
	cc.nextID++
	r := &connRef{key: connKey{node: cc.name, epoch: cc.node.Epoch(), id: cc.nextID}}
	cc.refs[c] = r
	cc.local[r.key.id] = c
	return r
}

// order is the cluster carrier's step on the camp's loop: answer from the
// replica, or append to the log.
func (cc *clusterCamp) order(cmd *command, now time.Time, out router) {
	c := cmd.c
	if c.x.gone {
		return
	}
	ref := cc.refs[c]
	if ref == nil && cmd.kind != cmdRequest && !cc.s.core.camp.In(campMember{c}) {
		// It never checked in and nothing of it is in the log: its end
		// changes nothing anywhere.
		cc.s.core.apply(cmd, now, out)
		return
	}
	ref = cc.refOf(c)
	var flags byte
	if cmd.kind == cmdRequest {
		q := &cmd.req
		switch {
		case ref.logged == 0 && (readOnly(q.Method) || q.BadID):
			cc.s.core.apply(cmd, now, out)
			return
		case ref.logged == 0 && q.Method == protocol.MethodCheckin && cc.draining:
			cc.s.core.refuse(c, q.ID, "server shutting down", cmd.parsed, cmd.bound, out)
			return
		case q.Method == protocol.MethodCheckin && cc.draining:
			flags |= recRefused
		}
		if q.Full {
			flags |= recFull
		}
		if q.BadID {
			flags |= recBadID
		}
	}
	cc.nextTag++
	tag := cc.nextTag
	cc.rec = appendRecord(cc.rec[:0], cmd, ref.key.id, tag, now, flags)
	p := pendingReq{c: c, kind: cmd.kind, id: append([]byte(nil), cmd.req.ID...), bound: cmd.bound}
	if cmd.kind == cmdFail {
		p.fail, p.code, p.why = append([]byte(nil), cmd.text...), cmd.status, cmd.why
	}
	cc.pending[tag] = p
	ref.logged++
	cc.dirty = true
	cc.node.Append(tag, cc.rec)
}

// flush publishes what this round appended; the camp's loop calls it at
// the end of every round (and of every task).
func (cc *clusterCamp) flush() {
	if cc.dirty {
		cc.dirty = false
		cc.node.Flush()
	}
}

// appendRecord encodes cmd.
func appendRecord(dst []byte, cmd *command, connID, tag uint64, now time.Time, flags byte) []byte {
	dst = append(dst, recordVersion, byte(cmd.kind))
	dst = binary.AppendUvarint(dst, connID)
	dst = binary.AppendUvarint(dst, tag)
	dst = binary.AppendVarint(dst, now.UnixNano())
	dst = append(dst, byte(cmd.req.Method), flags, byte(cmd.why))
	dst = binary.AppendUvarint(dst, uint64(cmd.status))
	for _, b := range [...][]byte{cmd.req.Name, cmd.req.Args, cmd.req.ID, cmd.req.Body, cmd.text} {
		if b == nil {
			dst = append(dst, 0)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(b))+1)
		dst = append(dst, b...)
	}
	return dst
}

// record is a decoded record; its bytes point into the entry.
type record struct {
	kind   cmdKind
	connID uint64
	tag    uint64
	origin time.Time
	method protocol.Method
	flags  byte
	why    closeReason
	status int
	name   []byte
	args   []byte
	id     []byte
	body   []byte
	text   []byte
}

var errRecord = errors.New("bad record")

func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 2 || b[0] != recordVersion {
		return r, fmt.Errorf("%w: version", errRecord)
	}
	r.kind = cmdKind(b[1])
	b = b[2:]
	var ok bool
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			ok = false
			return 0
		}
		b = b[n:]
		return v
	}
	ok = true
	r.connID = uv()
	r.tag = uv()
	origin, n := binary.Varint(b)
	if n <= 0 {
		return r, fmt.Errorf("%w: origin", errRecord)
	}
	b = b[n:]
	r.origin = time.Unix(0, origin)
	if len(b) < 3 {
		return r, fmt.Errorf("%w: short", errRecord)
	}
	r.method, r.flags, r.why = protocol.Method(b[0]), b[1], closeReason(b[2])
	b = b[3:]
	r.status = int(uv())
	for _, f := range [...]*[]byte{&r.name, &r.args, &r.id, &r.body, &r.text} {
		l := uv()
		if !ok || l > uint64(len(b))+1 {
			return r, fmt.Errorf("%w: field", errRecord)
		}
		if l > 0 {
			*f = b[: l-1 : l-1]
			b = b[l-1:]
		}
	}
	if !ok || len(b) != 0 || r.kind < cmdRequest || r.kind > recForget {
		return r, fmt.Errorf("%w: trailing bytes or kind", errRecord)
	}
	return r, nil
}

// The cluster.Handler side: the node's reading goroutine hands the log to
// the camp's loop, one batch at a time.

// Restore replaces the replica by a snapshot. It runs before the node
// serves, so before any loop runs.
//
// A snapshot is the placeholders of connections that have left and are
// not forgotten yet (a count, then each key with its length), then the
// camp's own snapshot (groups.Camp.AppendSnapshot).
func (cc *clusterCamp) Restore(seq uint64, data []byte) error {
	var err error
	run := cc.s.r.onLoop0(cc.life, func(*campLoop) {
		cc.remote = make(map[connKey]*campConn)
		cc.refs = make(map[*campConn]*connRef)
		cc.local = make(map[uint64]*campConn)
		if data == nil {
			cc.s.core.camp = groups.New[campMember](cc.cfg)
		} else {
			if data, err = cc.restoreGone(data); err != nil {
				return
			}
			var camp *groups.Camp[campMember]
			camp, err = groups.Restore(cc.cfg, data, func(b []byte) (campMember, error) {
				c, err := cc.decodeKey(b)
				return campMember{c}, err
			})
			if err != nil {
				return
			}
			cc.s.core.camp = camp
		}
		cc.seq = seq
		cc.s.core.gauges()
	})
	if run != nil {
		return run
	}
	return err
}

// appendGone adds to a snapshot the keys of the connections that have
// left and are not forgotten yet.
func (cc *clusterCamp) appendGone(dst []byte) []byte {
	var gone []*campConn
	for c := range cc.refs {
		if c.x.gone {
			gone = append(gone, c)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(gone)))
	var key []byte
	for _, c := range gone {
		key = cc.encodeKey(key[:0], c)
		dst = binary.AppendUvarint(dst, uint64(len(key)))
		dst = append(dst, key...)
	}
	return dst
}

// restoreGone makes the placeholders of a snapshot's connections that
// have left, and returns the rest of the snapshot.
func (cc *clusterCamp) restoreGone(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: gone count", errRecord)
	}
	b = b[k:]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: gone key", errRecord)
		}
		c, err := cc.decodeKey(b[k : k+int(l)])
		if err != nil {
			return nil, err
		}
		c.x.gone = true
		b = b[k+int(l):]
	}
	return b, nil
}

// decodeKey makes the placeholder of a snapshot's connection.
func (cc *clusterCamp) decodeKey(b []byte) (*campConn, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return nil, fmt.Errorf("%w: key", errRecord)
	}
	name := string(b[n : n+int(l)])
	b = b[n+int(l):]
	epoch, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return nil, fmt.Errorf("%w: key epoch", errRecord)
	}
	id, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 || n1+n2 != len(b) {
		return nil, fmt.Errorf("%w: key id", errRecord)
	}
	return cc.placeholder(connKey{node: name, epoch: epoch, id: id}), nil
}

// encodeKey is the snapshot's key of c.
func (cc *clusterCamp) encodeKey(dst []byte, c *campConn) []byte {
	k := cc.refs[c].key
	dst = binary.AppendUvarint(dst, uint64(len(k.node)))
	dst = append(dst, k.node...)
	dst = binary.AppendUvarint(dst, k.epoch)
	return binary.AppendUvarint(dst, k.id)
}

// encodeMember is encodeKey for the camp's snapshot.
func (cc *clusterCamp) encodeMember(dst []byte, m campMember) []byte {
	return cc.encodeKey(dst, m.campConn)
}

// placeholder returns the stand-in for another node's connection.
func (cc *clusterCamp) placeholder(k connKey) *campConn {
	if c := cc.remote[k]; c != nil {
		return c
	}
	c := &campConn{} // never open: whatever is queued for it is dropped
	cc.remote[k] = c
	cc.refs[c] = &connRef{key: k}
	return c
}

// Apply applies a batch of the log on the camp's loop.
func (cc *clusterCamp) Apply(b cluster.Batch) {
	var save []byte
	err := cc.s.r.onLoop0(cc.life, func(l *campLoop) {
		for i := range b.Entries {
			if cc.trace != nil {
				cc.trace(&b.Entries[i])
			}
			cc.applyEntry(l, &b.Entries[i])
		}
		cc.seq = b.Seq
		if b.Snapshot {
			cc.snap = cc.s.core.camp.AppendSnapshot(cc.appendGone(cc.snap[:0]), cc.encodeMember)
			save = append([]byte(nil), cc.snap...)
		}
		if ce := cc.log.Check(zap.DebugLevel, "applied"); ce != nil {
			ce.Write(zap.Uint64("seq", b.Seq), zap.Int("entries", len(b.Entries)),
				zap.Uint64("digest", cc.s.core.camp.Digest()))
		}
		if l != nil {
			l.endEvent()
		}
	})
	if err != nil {
		// Once the loops have stopped, every batch still read fails the
		// same way: say so once, not once per batch.
		lvl := zap.DebugLevel
		if !cc.stopSaid.Swap(true) {
			lvl = zap.WarnLevel
		}
		if ce := cc.log.Check(lvl, "log batches from here on are not applied: the server is stopping"); ce != nil {
			ce.Write(zap.Uint64("seq", b.Seq), zap.Error(err))
		}
		return
	}
	if save != nil {
		if err := cc.node.SaveSnapshot(b.Seq, save); err != nil {
			cc.log.Warn("snapshot not saved", zap.Uint64("seq", b.Seq), zap.Error(err))
		}
	}
}

// applyEntry applies one log entry; l is nil while no loop runs.
func (cc *clusterCamp) applyEntry(l *campLoop, e *cluster.Entry) {
	switch e.Kind {
	case cluster.KindNodeDown:
		cc.nodeDown(l, e)
		return
	case cluster.KindData:
	default:
		return
	}
	r, err := decodeRecord(e.Data)
	if err != nil {
		cc.log.Error("log entry not understood: skipped on every node", zap.Uint64("seq", e.Seq), zap.String("node", e.Node), zap.Error(err))
		return
	}
	if r.kind == recForget {
		k := connKey{node: e.Node, epoch: e.Epoch, id: r.connID}
		if c := cc.remote[k]; c != nil && c.x.gone {
			delete(cc.remote, k)
			delete(cc.refs, c)
		}
		return
	}
	mine := e.Node == cc.name && e.Epoch == cc.node.Epoch()
	var c *campConn
	if mine {
		c = cc.local[r.connID]
	}
	if c == nil {
		c = cc.placeholder(connKey{node: e.Node, epoch: e.Epoch, id: r.connID})
	}
	out := cc.routerFor(l, r.origin)
	var bound int32
	if mine {
		if _, failed := cc.failed[r.tag]; failed {
			// Answered already: the change happens, unanswered.
			delete(cc.failed, r.tag)
			out = &cc.drop
		} else if p, ok := cc.pending[r.tag]; ok {
			bound = p.bound
			delete(cc.pending, r.tag)
			if ref := cc.refs[c]; ref != nil {
				ref.logged--
			}
		}
	}
	cmd := command{kind: r.kind, c: c, why: r.why, status: r.status, text: r.text, parsed: r.origin.UnixNano(), bound: bound}
	cmd.req = protocol.Request{Method: r.method, Name: r.name, Args: r.args, Full: r.flags&recFull != 0,
		ID: r.id, BadID: r.flags&recBadID != 0, Body: r.body}
	if r.flags&recRefused != 0 {
		cc.s.core.refuse(c, r.id, "server shutting down", cmd.parsed, bound, out)
	} else {
		cc.s.core.apply(&cmd, r.origin, out)
	}
	cc.forget(c)
}

// forget tells every replica, through the log, to drop what it keeps of
// a connection of this node that has left and has nothing more on its way
// (see recForget). Until that record comes back, the connection is a gone
// placeholder here too, so that this node agrees with the others about
// whatever of it the log may still hold.
func (cc *clusterCamp) forget(c *campConn) {
	ref := cc.refs[c]
	if !c.x.gone || ref == nil || ref.logged > 0 || ref.key.node != cc.name || cc.local[ref.key.id] != c {
		return
	}
	delete(cc.local, ref.key.id)
	cc.remote[ref.key] = c
	if ref.key.epoch != cc.node.Epoch() {
		return // an old epoch's: the log ignores it, and node-down drops it
	}
	cc.rec = appendRecord(cc.rec[:0], &command{kind: recForget}, ref.key.id, 0, time.Now(), 0)
	cc.dirty = true
	cc.node.Append(0, cc.rec) // tag 0 is no request's: a failure answers nobody
}

// nodeDown checks out every camper of a node that left or was declared
// dead, in the camp's own order, so that every replica does the same.
func (cc *clusterCamp) nodeDown(l *campLoop, e *cluster.Entry) {
	var gone []*campConn
	for g := range cc.s.core.camp.Each {
		for _, m := range g.Members {
			if ref := cc.refs[m.Conn.campConn]; ref != nil && ref.key.node == e.Node && ref.key.epoch == e.Epoch {
				gone = append(gone, m.Conn.campConn)
			}
		}
	}
	out := cc.routerFor(l, e.Time)
	for _, c := range gone {
		cc.s.core.leave(c, e.Time, out)
	}
	for k, c := range cc.remote {
		if k.node == e.Node && k.epoch == e.Epoch {
			c.x.gone = true
			delete(cc.remote, k)
			delete(cc.refs, c)
		}
	}
	cc.log.Info("node down: its campers are checked out", zap.String("node", e.Node), zap.Uint64("epoch", e.Epoch),
		zap.Int("campers", len(gone)), zap.Uint64("seq", e.Seq))
}

// routerFor is where the results of an apply go: the camp's loop router,
// or nowhere while no loop runs (no connection of ours exists then).
func (cc *clusterCamp) routerFor(l *campLoop, now time.Time) router {
	if l == nil {
		return &cc.drop
	}
	return cc.s.carrier.router(l, now)
}

// CaughtUp lets the server open its port.
func (cc *clusterCamp) CaughtUp() {
	cc.upOnce.Do(func() { close(cc.caughtUp) })
	cc.log.Info("caught up with the camp's log", zap.Uint64("seq", cc.seq), zap.Uint64("epoch", cc.node.Epoch()))
}

// CutOff closes every connection of this node: the log no longer counts it
// as a member (its campers were checked out on every replica), then the
// node rejoins under a new epoch.
func (cc *clusterCamp) CutOff(err error) {
	cc.log.Error("cut off from the camp: closing every connection", zap.Error(err))
	_ = cc.s.r.forEachLoop(cc.life, true, func(l *campLoop) {
		now := time.Now()
		for c := l.active.head; c != nil; c = l.active.head {
			c.x.halted = true // the log already checked it out
			l.queue(c, cc.s.bye)
			l.finish(c, closeNodeDown, now)
		}
		l.endEvent()
	})
	_ = cc.s.r.onLoop0(cc.life, func(*campLoop) {
		for c, ref := range cc.refs {
			if ref.key.node == cc.name {
				c.x.gone = true
				delete(cc.refs, c)
			}
		}
		clear(cc.local)
		clear(cc.pending)
	})
	if err := cc.node.Rejoin(); err != nil {
		cc.log.Error("rejoin", zap.Error(err))
	}
}

// retryLeaves appends again the checkouts the log did not take.
func (cc *clusterCamp) retryLeaves(l *campLoop) {
	retry := cc.retry
	cc.retry = nil
	now := time.Now()
	for _, c := range retry {
		cc.order(&command{kind: cmdLeave, c: c, why: closeClient}, now, cc.routerFor(l, now))
	}
	l.endEvent()
}

// Failed answers 503 to the requests whose entries the log did not take.
// It may run on any goroutine; the answers are written on the camp's loop.
func (cc *clusterCamp) Failed(tags []uint64, err error) {
	cc.mu.Lock()
	cc.failedQ = append(cc.failedQ, tags...)
	cc.failErr = err
	cc.mu.Unlock()
	r := cc.s.r
	if r.nloops.Load() == 0 {
		return // no connection of ours exists: nobody to answer
	}
	l := r.loops[0].Load()
	_ = l.el.Execute(context.Background(), gnetTask(func() { cc.answerFailed(l) }))
}

func (cc *clusterCamp) answerFailed(l *campLoop) {
	cc.mu.Lock()
	tags, err := cc.failedQ, cc.failErr
	cc.failedQ = nil
	cc.mu.Unlock()
	now := time.Now()
	out := cc.routerFor(l, now)
	msg := "cluster unavailable: " + err.Error()
	for _, tag := range tags {
		p, ok := cc.pending[tag]
		if !ok {
			continue
		}
		delete(cc.pending, tag)
		cc.failed[tag] = struct{}{}
		if ref := cc.refs[p.c]; ref != nil {
			ref.logged--
		}
		switch p.kind {
		case cmdRequest:
			cc.s.core.refuse(p.c, p.id, msg, now.UnixNano(), p.bound, out)
		case cmdFail:
			// The error still ends the connection; the camp checks it out
			// when the node is declared down, if the log stays away.
			cc.s.core.lastError(p.c, p.code, string(p.fail), p.why, now.UnixNano(), out)
		}
		if p.kind != cmdRequest && !p.c.x.gone {
			// The connection ends without its checkout in the log: try
			// again once the log may be back.
			if len(cc.retry) == 0 {
				time.AfterFunc(cc.retryAfter, func() {
					_ = l.el.Execute(cc.life, gnetTask(func() { cc.retryLeaves(l) }))
				})
			}
			cc.retry = append(cc.retry, p.c)
		}
		cc.forget(p.c)
	}
	l.endEvent()
}
