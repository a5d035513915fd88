package server

import (
	"context"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"campfire/protocol"
)

// loopsCarrier is the carrier of -loops N: the camp lives on loop 0 and
// stays single-threaded; the other loops only read and write their own
// connections. A loop gathers the commands it reads for loop 0 during a
// round (every callback of one epoll_wait, see endCallback) into one batch
// and hands it on at the round's end; loop 0 applies them and gathers the
// results for each other loop the same way. While the receiving loop is
// behind (defaultHoldAt batches waiting), a batch for it stays open across
// rounds instead, and goes when the receiver has caught up. Every loop
// drains its inbox at the end of each round, besides the task that wakes
// it for that.
//
// Hand-offs do not rely on gnet's task queues for order (they can reorder
// tasks once the urgent queue overflows): every loop has an inbox, a
// lock-free stack that senders push batches onto and that the receiving
// loop takes whole and reverses, so batches are handled in the order they
// were pushed. A task on the receiving loop empties the inbox; a sender
// schedules one only when none is pending, so a busy receiver pays one
// wake-up per round of its own, not one per batch. A record names our conn,
// never touching its gnet.Conn off its own loop, and every loop checks a
// conn's state before writing, so a frame for a connection that has
// meanwhile closed is dropped, never written to a reused descriptor.
type loopsCarrier struct {
	s *campService
	// holdAt is the receiver's backlog, in batches, from which a batch for
	// it is kept open across rounds (see defaultHoldAt); 0 holds all.
	holdAt int32
	// free keeps batches for reuse, up to freeBytes of them. It is
	// bounded, unlike a sync.Pool, which keeps every batch a burst of
	// check-ins made until the garbage collector runs, and it rarely runs
	// here: nothing on the hot path allocates. It is bounded in bytes,
	// not batches: a loop hands on a batch per round that has
	// something for another loop, so hundreds may be on their way while
	// a receiver is busy, and a list of 16 made new ones all the time
	// (220 bytes per message in BenchmarkMessage with 2 loops).
	freeMu    sync.Mutex
	free      []*batch
	freeBytes int
	lanes     [maxLoops]atomic.Pointer[lane]
}

// lane is one loop's end of the hand-offs.
type lane struct {
	c     *loopsCarrier
	l     *campLoop
	inbox atomic.Pointer[batch]
	// queued counts the batches pushed since the inbox was last emptied.
	queued atomic.Int32
	wake   atomic.Bool // a task to empty the inbox is scheduled
	task   gnet.Runnable
	// holders has a bit for every loop that keeps a batch open for this
	// one while it is behind (see offer); the drain that empties the
	// inbox schedules their endTask, whose round's end hands the batches
	// on.
	holders atomic.Uint64
	// draining is set while drain runs: a write that fails inside it
	// closes a connection, and OnClose's endCallback, which ends the round
	// at once (endEvent) when the engine is stopping, must not drain again
	// in the middle (newer batches would overtake the rest of this one).
	draining bool
	toCamp   *batch           // loops other than 0: commands gathered for loop 0
	toLoop   [maxLoops]*batch // loop 0: results gathered for each loop
	sendTo   []uint8          // loop 0: which toLoop batches are in use
	router   loopsRouter      // loop 0
	waiting  []*campConn      // paused connections that got replies
}

func newLoopsCarrier(s *campService, cfg *Config) *loopsCarrier {
	lc := &loopsCarrier{s: s, holdAt: defaultHoldAt}
	if cfg.holdAlways {
		lc.holdAt = 0
	}
	return lc
}

func (lc *loopsCarrier) addLoop(l *campLoop) {
	ln := &lane{c: lc, l: l}
	ln.router.lane = ln
	ln.task = gnet.RunnableFunc(func(context.Context) error {
		ln.receive()
		return nil
	})
	lc.lanes[l.idx].Store(ln)
}

func (lc *loopsCarrier) submit(l *campLoop, cmd *command, now time.Time) {
	ln := lc.lanes[l.idx].Load()
	if l.idx == 0 {
		lc.s.sequence(cmd, now, lc.router(l, now))
		return
	}
	if ln.toCamp == nil {
		ln.toCamp = lc.get()
	}
	ln.toCamp.addCommand(cmd)
	if ln.toCamp.full() {
		b := ln.toCamp
		ln.toCamp = nil
		lc.send(lc.lanes[0].Load(), b)
	}
}

func (lc *loopsCarrier) router(l0 *campLoop, now time.Time) router {
	r := &lc.lanes[l0.idx].Load().router
	r.begin(now)
	return r
}

// defaultHoldAt is how many batches a loop may have waiting in its inbox
// before the others stop handing on a batch per round: while it is that
// far behind, a batch for it stays open across rounds, gathering more,
// and goes when full or when the receiver has emptied its inbox: the drain
// that empties it schedules the holders' endTask (one eventfd write per
// holder, paid only while a receiver is behind). The receiver, behind
// anyway, loses nothing by taking its work in fewer, fuller batches, and
// what is on its way stays bounded: about holdAt batches and one open one
// per sender. Measured on 2 cores (README, Performance): 19,000 check-ins
// had 4,149 batches in flight at the peak when every callback handed on
// its own; a hold that ended with the sender's round still let 79 pile up
// in loop 0's inbox, one per round of loop 1.
const defaultHoldAt = 16

func (lc *loopsCarrier) endRound(l *campLoop) {
	ln := lc.lanes[l.idx].Load()
	if !ln.draining && ln.inbox.Load() != nil {
		ln.drain()
	}
	lc.handOn(ln)
}

// handOn sends what ln gathered for other loops, but keeps open the
// batches for loops that are behind (see offer).
func (lc *loopsCarrier) handOn(ln *lane) {
	if b := ln.toCamp; b != nil && lc.offer(ln, lc.lanes[0].Load(), b) {
		ln.toCamp = nil
	}
	n := 0
	for _, i := range ln.sendTo {
		b := ln.toLoop[i]
		if b == nil {
			continue
		}
		if lc.offer(ln, lc.lanes[i].Load(), b) {
			ln.toLoop[i] = nil
			continue
		}
		ln.sendTo[n] = i
		n++
	}
	ln.sendTo = ln.sendTo[:n]
}

// offer sends b from one loop to another, unless the receiver is behind;
// it says whether b went. A batch kept is the sender's to hand on later:
// the sender is listed among the receiver's holders before behind is
// read again, and the receiver empties its inbox before it reads its
// holders (drain), so either this second look sees the inbox emptied and
// b goes now, or that drain schedules the sender's endTask. A receiver
// with anything in its inbox has a drain coming (send wakes it).
func (lc *loopsCarrier) offer(from, to *lane, b *batch) bool {
	if lc.behind(to) {
		to.holders.Or(1 << from.l.idx)
		if lc.behind(to) {
			return false
		}
	}
	lc.send(to, b)
	return true
}

// behind says whether to has holdAt or more batches waiting.
func (lc *loopsCarrier) behind(to *lane) bool {
	return to.queued.Load() >= lc.holdAt && to.inbox.Load() != nil
}

// send pushes b onto to's inbox and wakes to's loop unless a wake-up is
// already on its way.
func (lc *loopsCarrier) send(to *lane, b *batch) {
	for {
		head := to.inbox.Load()
		b.next = head
		if to.inbox.CompareAndSwap(head, b) {
			break
		}
	}
	to.queued.Add(1)
	if to.wake.CompareAndSwap(false, true) {
		if err := to.l.el.Execute(context.Background(), to.task); err != nil {
			// The engine is stopping and closes every connection: what
			// was on its way no longer has anywhere to go.
			to.wake.Store(false)
		}
	}
}

// receive is the task that empties the inbox on its own loop: the wake-up
// is over, and the round's end (endRound) drains.
func (ln *lane) receive() {
	ln.wake.Store(false)
	ln.l.endEvent()
}

// drain handles what the inbox holds, oldest batch first, on its own loop,
// at the end of every round and task (endRound), the wake-up's (receive)
// or another: what a loop leaves waiting is memory, a burst of check-ins'
// replies and events.
func (ln *lane) drain() {
	ln.draining = true
	defer func() { ln.draining = false }()
	ln.queued.Store(0)
	var list *batch
	for b := ln.inbox.Swap(nil); b != nil; {
		next := b.next
		b.next = list
		list = b
		b = next
	}
	now := time.Now()
	lc := ln.c
	for b := list; b != nil; {
		next := b.next
		for i := range b.cmds {
			cmd := b.command(&b.cmds[i])
			lc.s.sequence(&cmd, now, lc.router(ln.l, now))
			ln.l.flushIfMany()
		}
		for i := range b.results {
			rec := &b.results[i]
			lc.s.receive(ln.l, &result{c: rec.c, frame: b.bytes(rec.frame), last: rec.last, camper: rec.camper, checkin: rec.checkin, answer: rec.answer,
				parsed: rec.parsed, method: rec.method, reply: rec.reply, bound: rec.bound}, now)
			if rec.answer && rec.c.paused {
				ln.waiting = append(ln.waiting, rec.c)
			}
			ln.l.flushIfMany()
		}
		lc.put(b)
		b = next
	}
	// Connections paused for their replies in flight may go on now.
	for i, c := range ln.waiting {
		ln.waiting[i] = nil
		lc.s.resumeIfRoom(ln.l, c, now)
	}
	ln.waiting = ln.waiting[:0]
	// The loops that kept a batch for this one while it was behind hand
	// it on now.
	for h := ln.holders.Swap(0); h != 0; h &= h - 1 {
		from := lc.lanes[bits.TrailingZeros64(h)].Load()
		// An error means the engine is stopping and closes every
		// connection: what was held no longer has anywhere to go.
		_ = from.l.el.Execute(context.Background(), from.l.endTask)
	}
}

// loopsRouter runs on loop 0: results for its own connections are queued
// at once, the others gathered per loop.
type loopsRouter struct {
	lane *lane
	now  time.Time
	gen  uint64 // counts applies: frames are shared only within one
}

func (r *loopsRouter) begin(now time.Time) {
	r.now = now
	r.gen++
}

func (r *loopsRouter) route(res *result) {
	ln := r.lane
	to := res.c.loop
	if to == ln.l.idx {
		ln.c.s.receive(ln.l, res, r.now)
		return
	}
	b := ln.toLoop[to]
	if b == nil {
		b = ln.c.get()
		ln.toLoop[to] = b
		if !slices.Contains(ln.sendTo, to) { // it stays listed while a batch is held
			ln.sendTo = append(ln.sendTo, to)
		}
	}
	b.addResult(res, r.gen)
	if b.full() {
		// Hand a full batch on now, so that it stays small enough to be
		// reused (see put).
		ln.toLoop[to] = nil
		ln.c.send(ln.c.lanes[to].Load(), b)
	}
}

// span locates bytes in a batch's buf; n < 0 stands for nil.
type span struct{ off, n int32 }

type cmdRecord struct {
	c      *campConn
	parsed int64
	bound  int32
	kind   cmdKind
	why    closeReason
	method protocol.Method
	full   bool
	badID  bool
	status int32
	name   span
	args   span
	id     span
	body   span // the body, or cmdFail's text
}

type resultRecord struct {
	c       *campConn
	parsed  int64
	bound   int32
	method  protocol.Method
	reply   bool
	frame   span
	camper  protocol.CampID
	last    closeReason
	answer  bool
	checkin bool
}

// batch is what one loop hands another in one push. The sender owns it
// until send, the receiver after.
type batch struct {
	next    *batch
	cmds    []cmdRecord
	results []resultRecord
	buf     []byte
	// The last frame copied and where it went: every recipient of one
	// broadcast gets the same bytes from the camp, copied once per batch.
	shared    []byte
	sharedAt  span
	sharedGen uint64
}

// A batch this full is handed on at once. Small batches cost a push
// each, not a wake-up; large ones stay allocated (see freeBudget) long
// after the burst that filled them. During 19,000 check-ins 38 batches
// were on their way at the peak, nearly all held ones filled to the
// limit: at 128 records and 8 KiB each they kept 620 KB in the free list
// afterwards; halved, 19k RSS with 2 loops fell from 747-769 to 729-732
// bytes per connection, and saturated delivery stayed where it was
// (607,000-665,000 and 604,000-653,000/s, 5 runs each, alternating).
const (
	batchRecords = 64
	batchBytes   = 4 << 10
	// freeBudget is the bytes of empty batches kept for reuse. Saturated
	// (1,000 connections, 8 messages in flight each), what was on its way
	// between two loops swung past 1 MiB: the list, full at one moment and
	// empty at the next, dropped and made 750 batches a second, 20 MB/s
	// of garbage and about 20 GCs a second. With 4 MiB: 2 a second, and
	// 607,000-659,000 deliveries/s at 1.54-1.62 µs of CPU each against
	// 573,000-629,000 at 1.62-1.77 (5 runs each, alternating). It is kept
	// only after a load that needed it.
	freeBudget = 4 << 20
)

func (b *batch) full() bool {
	return len(b.cmds)+len(b.results) >= batchRecords || len(b.buf) >= batchBytes
}

func (b *batch) span(p []byte) span {
	if p == nil {
		return span{n: -1}
	}
	off := len(b.buf)
	b.buf = append(b.buf, p...)
	return span{off: int32(off), n: int32(len(p))}
}

func (b *batch) bytes(s span) []byte {
	if s.n < 0 {
		return nil
	}
	return b.buf[s.off : s.off+s.n : s.off+s.n]
}

func (b *batch) addCommand(cmd *command) {
	rec := cmdRecord{c: cmd.c, kind: cmd.kind, why: cmd.why, status: int32(cmd.status), parsed: cmd.parsed, bound: cmd.bound}
	switch cmd.kind {
	case cmdRequest:
		q := &cmd.req
		rec.method, rec.full, rec.badID = q.Method, q.Full, q.BadID
		rec.name, rec.args, rec.id, rec.body = b.span(q.Name), b.span(q.Args), b.span(q.ID), b.span(q.Body)
	case cmdFail:
		rec.body = b.span(cmd.text)
	}
	b.cmds = append(b.cmds, rec)
}

// command rebuilds a command; its bytes point into b.
func (b *batch) command(rec *cmdRecord) command {
	cmd := command{kind: rec.kind, c: rec.c, why: rec.why, status: int(rec.status), parsed: rec.parsed, bound: rec.bound}
	switch rec.kind {
	case cmdRequest:
		cmd.req = protocol.Request{
			Method: rec.method, Name: b.bytes(rec.name), Args: b.bytes(rec.args), Full: rec.full,
			ID: b.bytes(rec.id), BadID: rec.badID, Body: b.bytes(rec.body),
		}
	case cmdFail:
		cmd.text = b.bytes(rec.body)
	}
	return cmd
}

func (b *batch) addResult(res *result, gen uint64) {
	var at span
	f := res.frame
	if gen == b.sharedGen && len(f) > 0 && len(f) == len(b.shared) && unsafe.SliceData(f) == unsafe.SliceData(b.shared) {
		at = b.sharedAt
	} else {
		at = b.span(f)
		b.shared, b.sharedAt, b.sharedGen = f, at, gen
	}
	b.results = append(b.results, resultRecord{c: res.c, frame: at, camper: res.camper, checkin: res.checkin, last: res.last, answer: res.answer,
		parsed: res.parsed, method: res.method, reply: res.reply, bound: res.bound})
}

func (lc *loopsCarrier) get() *batch {
	lc.freeMu.Lock()
	defer lc.freeMu.Unlock()
	if n := len(lc.free); n > 0 {
		b := lc.free[n-1]
		lc.free[n-1] = nil
		lc.free = lc.free[:n-1]
		lc.freeBytes -= b.size()
		return b
	}
	return new(batch)
}

// put returns b for reuse, unless it grew too large to keep.
func (lc *loopsCarrier) put(b *batch) {
	if cap(b.buf) > 2*batchBytes || cap(b.cmds)+cap(b.results) > 4*batchRecords {
		return
	}
	clear(b.cmds)
	clear(b.results)
	*b = batch{cmds: b.cmds[:0], results: b.results[:0], buf: b.buf[:0]}
	lc.freeMu.Lock()
	defer lc.freeMu.Unlock()
	if size := b.size(); lc.freeBytes+size <= freeBudget {
		lc.free = append(lc.free, b)
		lc.freeBytes += size
	}
}

// size is the memory b holds, roughly.
func (b *batch) size() int {
	return int(unsafe.Sizeof(batch{})) + cap(b.buf) + cap(b.cmds)*int(unsafe.Sizeof(cmdRecord{})) +
		cap(b.results)*int(unsafe.Sizeof(resultRecord{}))
}
