package server

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// With more than one event loop, the camp lives on loop 0, the owner, and
// stays single-threaded: the other loops only read and write their own
// connections. What crosses loops travels in batches through gnet's task
// queues (EventLoop.Execute): a loop gathers records during one event and
// hands them on in one task at its end, so a busy loop pays one wake-up per
// event, not per frame. A record names our conn, never touching its gnet.Conn
// off its own loop, and every loop checks a conn's state before writing, so
// a frame for a connection that has meanwhile closed is dropped, never
// written to a reused descriptor. Order is kept: each pair of loops has one
// FIFO queue, and everything a connection receives comes from the owner.

// fwdKind says what a record carries.
type fwdKind uint8

const (
	// To the owner.
	fwdRequest  fwdKind = iota + 1 // a whole request frame
	fwdBadFrame                    // input that cannot be framed: status and explanation
	fwdLeave                       // the connection ended
	// From the owner.
	fwdWrite // a frame to write
	fwdFinal // the connection's last frame: it lingers after it
)

type record struct {
	c          *conn
	kind       fwdKind
	status     int32
	start, end int32 // the record's bytes in batch.buf
}

// batch is the records one loop hands another in one task. It is owned by
// the sender until Execute, by the receiver after.
type batch struct {
	recs []record
	buf  []byte
}

func (b *batch) add(c *conn, kind fwdKind, status int, data []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, data...)
	b.recs = append(b.recs, record{c: c, kind: kind, status: int32(status), start: int32(start), end: int32(len(b.buf))})
}

func (b *batch) bytes(r record) []byte { return b.buf[r.start:r.end] }

// batches recycles batches between loops: one loop gets it, another puts
// it back.
type batches struct{ pool sync.Pool }

func (p *batches) get() *batch {
	if b, ok := p.pool.Get().(*batch); ok {
		return b
	}
	return new(batch)
}

// put returns b for reuse, unless it grew too large to keep.
func (p *batches) put(b *batch) {
	if cap(b.buf) > spareCapLimit || cap(b.recs) > 4096 {
		return
	}
	clear(b.recs)
	b.recs, b.buf = b.recs[:0], b.buf[:0]
	p.pool.Put(b)
}

// forwarder is one loop's outgoing batches.
type forwarder struct {
	pool    *batches
	toOwner *batch           // non-owner loops: records for the camp
	toLoop  [maxLoops]*batch // the owner: records for each other loop
}

// ownerBatch returns the batch being gathered for the owner.
func (f *forwarder) ownerBatch() *batch {
	if f.toOwner == nil {
		f.toOwner = f.pool.get()
	}
	return f.toOwner
}

// loopBatch returns the batch being gathered for loop i.
func (f *forwarder) loopBatch(i uint8) *batch {
	if f.toLoop[i] == nil {
		f.toLoop[i] = f.pool.get()
	}
	return f.toLoop[i]
}

// handOn runs fn(target, b) on target's loop, then ends that event there.
// If the engine is shutting down the batch is dropped: the connections are
// being closed anyway.
func handOn(target *loop, b *batch, fn func(*loop, *batch, time.Time)) {
	pool := target.fwd.pool
	err := target.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn(target, b, time.Now())
		pool.put(b)
		target.endEvent()
		return nil
	}))
	if err != nil {
		pool.put(b)
	}
}
