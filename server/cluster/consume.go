package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Reading the log. An ephemeral pull consumer hands messages to onMsg on
// nats.go's goroutine. onMsg checks that sequences follow each other,
// decodes the entries, applies the membership rules, and pushes them on
// the queue; deliver, the one goroutine that calls the Handler, takes
// everything queued at once and applies it as one batch.
//
// The consumer is an R1 consumer that JetStream places on any server of
// the log, so it dies with that server. This package recreates it itself,
// from the message after the last one taken in, rather than through
// nats.go's ordered consumer: that one waits 10 s for each unanswered
// create request and backs off up to 10 s between them, so a reader whose
// consumer lived on a killed node (the JetStream meta leader, say) stalled
// for 13 s and more while the others went on. Here a stall is noticed
// after two missed heartbeats, and a new consumer is asked for every
// consumeRetry, each request bounded by the cluster timeout, until
// JetStream places one.

type event uint8

const (
	eventNone event = iota
	eventRestore
	eventCaughtUp
	eventCutOff
)

// item marks the end of one log message (or an event) in the queue.
type item struct {
	seq     uint64
	end     int // the queue's entries up to end belong to this item and those before
	members *members
	event   event
	snap    *snapshot // eventRestore
	err     error     // eventCutOff
}

// queue hands decoded entries from the consumer to deliver. It is bounded
// in messages: a full queue blocks the consumer, and nats.go's pull
// consumer then stops asking the server for more.
type queue struct {
	mu      sync.Mutex
	cond    sync.Cond
	entries []Entry
	items   []item
	closed  bool
}

// maxQueued bounds the log messages decoded and not yet delivered.
const maxQueued = 4096

func (q *queue) init() { q.cond.L = &q.mu }

// push adds entries and the item that ends them; false if the queue is
// closed.
func (q *queue) push(it item, entries []Entry) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) >= maxQueued && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return false
	}
	q.entries = append(q.entries, entries...)
	it.end = len(q.entries)
	q.items = append(q.items, it)
	q.cond.Broadcast()
	return true
}

// take waits for items and takes everything queued; ok is false once the
// queue is closed.
func (q *queue) take(items []item) ([]Entry, []item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, items, false
	}
	entries := q.entries
	items = append(items[:0], q.items...)
	q.entries = nil
	q.items = q.items[:0]
	q.cond.Broadcast()
	return entries, items, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// consumeRetry is the pause between attempts to create a consumer, and
// consumerIdle how long JetStream keeps one nobody reads (one given up on,
// or left behind on a server that went away) before deleting it.
const (
	consumeRetry = 250 * time.Millisecond
	consumerIdle = time.Minute
)

// consumer is the state of reading the log, guarded by mu; onMsg holds mu
// while it handles a message.
type consumer struct {
	mu      sync.Mutex
	cc      jetstream.ConsumeContext
	gen     int    // the consumer's generation: messages of an older one are dropped
	dseq    uint64 // the last delivery sequence of the current consumer
	kicked  int    // the generation a restart was asked for
	kick    chan int
	last    uint64
	members *members
	member  bool // this node, at its current epoch, is a member
	joined  bool // this node has caught up once
	stalled bool // a gap before catch-up: waiting for follow
	scratch []Entry
}

func (c *consumer) init() { c.kick = make(chan int, 1) }

// stop ends the current consumer, if any.
func (c *consumer) stop() {
	c.mu.Lock()
	c.gen++
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
}

// restart asks reread for a new consumer in place of generation gen's,
// once. Call it with mu held.
func (c *consumer) restart(gen int) {
	if gen != c.gen || c.kicked == gen {
		return
	}
	c.kicked = gen
	select {
	case c.kick <- gen:
	default:
	}
}

// follow (re)starts reading the log: from the latest snapshot, then every
// message after it.
func (n *Node) follow(ctx context.Context) error {
	n.con.stop()
	snap, err := n.loadSnapshot(ctx)
	if err != nil {
		return err
	}
	c := &n.con
	c.mu.Lock()
	c.gen++ // whatever the old consumer still delivers is dropped
	c.last, c.members, c.member, c.stalled = snap.seq, snap.members, false, false
	n.members.Store(snap.members)
	n.applied.Store(snap.seq)
	ok := n.q.push(item{seq: snap.seq, members: snap.members, event: eventRestore, snap: snap}, nil)
	c.mu.Unlock()
	if !ok {
		return ErrClosed
	}
	return n.consume(ctx)
}

// consume starts reading the log with a new consumer from the message
// after the last one taken in, retrying until JetStream places one, ctx
// ends or the node stops.
func (n *Node) consume(ctx context.Context) error {
	var last error
	for {
		err := n.tryConsume(ctx)
		if err == nil {
			return nil
		}
		if last == nil || err.Error() != last.Error() {
			n.log.Info("asking for a consumer of the log", zap.Error(err))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("log %s: consumer: %w", n.streamName, last)
		case <-n.stop:
			return ErrClosed
		case <-time.After(consumeRetry):
		}
	}
}

func (n *Node) tryConsume(ctx context.Context) error {
	c := &n.con
	c.mu.Lock()
	c.gen++
	gen := c.gen
	old := c.cc
	c.cc, c.dseq = nil, 0
	from := c.last + 1
	c.mu.Unlock()
	if old != nil {
		old.Stop() // JetStream deletes its consumer after consumerIdle
	}
	actx, cancel := context.WithTimeout(ctx, n.cfg.ClusterTimeout)
	defer cancel()
	cons, err := n.js.CreateConsumer(actx, n.streamName, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubjects:    []string{n.subjLog},
		Replicas:          1,
		MemoryStorage:     true,
		InactiveThreshold: consumerIdle,
	})
	if err != nil {
		return err
	}
	hb := min(max(n.cfg.NodeTimeout/5, 500*time.Millisecond), 5*time.Second)
	cc, err := cons.Consume(func(m jetstream.Msg) { n.onMsg(gen, m) },
		jetstream.PullMaxMessages(512),
		jetstream.PullHeartbeat(hb),
		jetstream.PullExpiry(10*hb),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { n.consumeErr(gen, err) }))
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.cc, cc = cc, nil
	}
	c.mu.Unlock()
	if cc != nil {
		cc.Stop() // stopped or restarted meanwhile
		return nil
	}
	var on string
	if ci := cons.CachedInfo(); ci != nil && ci.Cluster != nil {
		on = ci.Cluster.Leader
	}
	n.log.Debug("reading the log", zap.Uint64("from", from), zap.String("consumer on", on))
	return nil
}

// consumeErr hears what goes wrong with consumer generation gen: when the
// consumer is gone or silent, reading restarts with a new one.
func (n *Node) consumeErr(gen int, err error) {
	if n.leaving.Load() {
		return
	}
	n.log.Debug("reading the log", zap.Error(err))
	switch {
	case errors.Is(err, jetstream.ErrNoHeartbeat),
		errors.Is(err, jetstream.ErrConsumerDeleted),
		errors.Is(err, jetstream.ErrConsumerNotFound),
		errors.Is(err, jetstream.ErrConsumerLeadershipChanged),
		errors.Is(err, jetstream.ErrServerShutdown),
		errors.Is(err, jetstream.ErrBadRequest),
		errors.Is(err, nats.ErrNoResponders):
		c := &n.con
		c.mu.Lock()
		c.restart(gen)
		c.mu.Unlock()
	}
}

// reread is the goroutine that replaces a failed consumer.
func (n *Node) reread() {
	defer n.wg.Done()
	for {
		var gen int
		select {
		case <-n.stop:
			return
		case gen = <-n.con.kick:
		}
		c := &n.con
		c.mu.Lock()
		current := gen == c.gen
		c.mu.Unlock()
		if !current {
			continue // replaced already
		}
		n.log.Info("the log's consumer failed: asking for a new one", zap.Uint64("from", n.applied.Load()+1))
		if err := n.consume(n.ctx); err != nil && !errors.Is(err, ErrClosed) && !n.leaving.Load() {
			n.log.Warn("reading the log", zap.Error(err))
		}
	}
}

// onMsg takes one log message in.
func (n *Node) onMsg(gen int, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		n.log.Warn("log message without metadata", zap.Error(err))
		return
	}
	seq := md.Sequence.Stream
	c := &n.con
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.stalled {
		return // an old consumer's
	}
	dseq := md.Sequence.Consumer
	lost := dseq != c.dseq+1
	c.dseq = max(c.dseq, dseq)
	if seq <= c.last {
		return // seen already
	}
	if seq != c.last+1 && lost {
		// A delivery went missing on the way (AckNone does not resend):
		// read again from the message after the last one taken in.
		c.restart(gen)
		return
	}
	if seq != c.last+1 {
		err := fmt.Errorf("log gap: after %d the next message is %d (the log was cut below a snapshot this node had not reached)", c.last, seq)
		if !c.joined {
			n.log.Info("the log moved past the snapshot: reloading", zap.Error(err))
			c.stalled = true
			select {
			case n.resync <- struct{}{}:
			default:
			}
			return
		}
		n.fail(err)
		return
	}
	c.last = seq
	entries, ev, evErr := n.decode(seq, md.Timestamp, msg.Data(), c.scratch[:0])
	c.scratch = entries[:0]
	n.applied.Store(seq)
	n.q.push(item{seq: seq, members: c.members, event: ev, err: evErr}, entries)
	clear(entries)
}

// decode applies one message's entries to the membership and returns the
// entries to deliver, and the event for this node, if any. The rules
// depend only on the log, so every node decides alike:
//   - a data entry counts only if its sender is a member at that epoch;
//   - node-up makes its sender a member (replacing an older epoch of the
//     same name, which is delivered as node-down first), unless that epoch
//     has gone down already;
//   - node-down, from a member, removes the named node at that epoch.
func (n *Node) decode(seq uint64, ts time.Time, data []byte, out []Entry) ([]Entry, event, error) {
	c := &n.con
	m, err := decodeHeader(data)
	if err != nil {
		n.log.Warn("unreadable log message: ignored", zap.Uint64("seq", seq), zap.Error(err))
		return out, eventNone, nil
	}
	var sender string
	senderName := func() string {
		if sender == "" {
			sender = string(m.name)
		}
		return sender
	}
	var cutoff error
	for {
		kind, body, ok, err := m.next()
		if err != nil {
			n.log.Warn("unreadable log entry: rest of message ignored", zap.Uint64("seq", seq), zap.Error(err))
			break
		}
		if !ok {
			break
		}
		current, isMember := c.members.epoch(m.name)
		senderCounts := isMember && current == m.epoch
		switch kind {
		case KindData:
			if !senderCounts {
				n.ignored.Add(1)
				continue
			}
			out = append(out, Entry{Seq: seq, Time: ts, Kind: KindData, Node: senderName(), Epoch: m.epoch, Data: body})
		case KindNodeUp:
			if senderCounts || c.members.gone(m.name, m.epoch) {
				continue // a repeated announcement, or a late one of an epoch gone
			}
			name := senderName()
			if isMember {
				out = append(out, Entry{Seq: seq, Time: ts, Kind: KindNodeDown, Node: name, Epoch: current})
				if name == n.cfg.Node && c.member {
					cutoff = ErrReplaced
				}
			}
			c.members = c.members.with(name, m.epoch)
			out = append(out, Entry{Seq: seq, Time: ts, Kind: KindNodeUp, Node: name, Epoch: m.epoch})
		case KindNodeDown:
			target, epoch, err := decodeNodeDown(body)
			if err != nil || !senderCounts {
				n.ignored.Add(1)
				continue
			}
			if e, ok := c.members.epoch(target); !ok || e != epoch {
				continue // a duplicate, or an older epoch
			}
			name := string(target)
			if bytes.Equal(target, m.name) {
				name = senderName()
			}
			c.members = c.members.down(name, epoch)
			out = append(out, Entry{Seq: seq, Time: ts, Kind: KindNodeDown, Node: name, Epoch: epoch})
			if name == n.cfg.Node && c.member {
				cutoff = ErrDeclaredDown
			}
		default:
			n.ignored.Add(1) // a kind from a later version
		}
	}
	n.members.Store(c.members)
	e, ok := c.members.epoch([]byte(n.cfg.Node))
	member := ok && e == n.epoch.Load()
	switch {
	case member && !c.member:
		c.member, c.joined = true, true
		return out, eventCaughtUp, nil
	case !member && c.member:
		c.member = false
		n.active.Store(false) // stop taking entries now; the handler hears it in order
		if cutoff == nil {
			cutoff = ErrDeclaredDown
		}
		return out, eventCutOff, cutoff
	}
	return out, eventNone, nil
}

// deliver is the goroutine that calls the Handler (but Failed).
func (n *Node) deliver() {
	defer n.wg.Done()
	var items []item
	for {
		var entries []Entry
		var ok bool
		entries, items, ok = n.q.take(items)
		if !ok {
			return
		}
		from, pending := 0, false
		var seq uint64
		var mem *members
		flush := func(end int) {
			if !pending {
				return
			}
			b := Batch{Entries: entries[from:end:end], Seq: seq}
			b.Snapshot = n.snapshotDue(seq, mem)
			n.h.Apply(b)
			from, pending = end, false
		}
		for i := range items {
			it := &items[i]
			if it.event == eventRestore {
				// Anything queued before it belongs to a reading of
				// the log that is being replaced.
				from, pending = it.end, false
				if err := n.restore(it.snap); err != nil {
					n.fail(err)
					return
				}
				continue
			}
			seq, mem, pending = it.seq, it.members, true
			switch it.event {
			case eventCaughtUp:
				flush(it.end)
				n.active.Store(true)
				n.log.Info("caught up with the log: serving", zap.Uint64("seq", it.seq), zap.Uint64("epoch", n.epoch.Load()))
				n.h.CaughtUp()
				n.joinOnce.Do(func() { close(n.joined) })
			case eventCutOff:
				flush(it.end)
				n.active.Store(false)
				if !n.leaving.Load() {
					n.log.Warn("cut off from the camp", zap.Uint64("seq", it.seq), zap.Error(it.err))
					n.h.CutOff(it.err)
				}
			}
			it.snap = nil
		}
		flush(len(entries))
	}
}

func (n *Node) restore(s *snapshot) error {
	if err := n.h.Restore(s.seq, s.data); err != nil {
		return fmt.Errorf("restoring the snapshot at %d: %w", s.seq, err)
	}
	n.snapshotLoaded(s.seq)
	return nil
}

var errLogPurged = errors.New("the log no longer holds what follows the latest snapshot")

// errSnapshotUnread: the newest snapshot the store's leader lists could
// not be read (from a replica that has not caught up, for one).
var errSnapshotUnread = errors.New("the newest snapshot could not be read")
