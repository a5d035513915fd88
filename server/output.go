package server

import (
	"context"
	"net/netip"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// The write side of the reactor. Frames queued for a connection during one
// round of its loop (every callback of one epoll_wait) are appended to its
// output buffer and written with one Write at the round's end (flush), so a
// connection sent many frames in one round costs one syscall, and a
// broadcast frame encoded once is copied to each peer.
//
// The output limit is hard: before a service handles a request it asks
// full whether the connection's unsent output (gnet's buffer plus what is
// queued, plus what requests in flight may still add) is over -max-pending;
// if so it pauses reading that connection. gnet still reads the socket into
// its own buffer, so a paused connection may hold at most maxInput bytes of
// unread input. The sweep resumes a connection once its output has drained
// below the limit, and closes it as a slow consumer when it stayed over the
// limit past -slow-timeout. Events from other connections are not paused:
// one that finds the output already over twice the limit closes the
// connection at once.

// pausedConn is a connection whose input waits for its output to drain.
type pausedConn[X any] struct {
	c     *conn[X]
	since int64 // unix nanoseconds
}

// peerAddr is what a connection knows of its client beyond the socket.
type peerAddr struct {
	addr    netip.AddrPort // the client's address from a PROXY header
	pending bool           // the PROXY header has not arrived yet
	counted bool           // counted against its IP's cap
}

// queue appends a frame to a connection's output for the next flush. Only
// an open connection is queued to: one that lingers already has its last
// reply.
func (l *loop[X]) queue(c *conn[X], frame []byte) {
	if c.state != stateOpen {
		return
	}
	if c.out == nil {
		c.out = l.buffer()
	}
	*c.out = append(*c.out, frame...)
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// pending is c's unsent output: gnet's outbound buffer and what is queued.
func (l *loop[X]) pending(c *conn[X]) int {
	n := 0
	if c.out != nil {
		n = len(*c.out)
	}
	if c.state <= stateLinger {
		n += c.gc.OutboundBuffered()
	}
	return n
}

// full reports whether c's output, with extra more bytes that requests in
// flight may still add, is over the limit, so that its input must wait.
// Output queued during this callback is written first if that makes room:
// the limit is on what the server holds, not on what the kernel took.
func (l *loop[X]) full(c *conn[X], extra int) bool {
	if c.out != nil && len(*c.out) >= writeEarly && c.state == stateOpen {
		// A long run of requests with big answers: write what is queued
		// now rather than hold it twice (ours, then gnet's copy of what
		// the socket does not take), and keep the buffer reusable.
		l.write(c)
		if c.state != stateOpen {
			return true // the write failed and closed it: stop reading
		}
	}
	if l.pending(c)+extra <= l.r.lim.maxPending {
		return false
	}
	if c.out != nil && len(*c.out) > 0 && c.state == stateOpen {
		l.write(c)
		if c.state != stateOpen {
			return true // the write failed and closed it: stop reading
		}
	}
	return l.pending(c)+extra > l.r.lim.maxPending
}

// write writes c's queued output now. c stays on the dirty list; flush
// finds nothing left to write for it.
//
// It hands gnet at most writeChunk bytes per Write: what the socket does
// not take, gnet copies into a buffer from its pool, rounded up to a power
// of two, so one 33 KiB write left waiting would hold 64 KiB; in chunks of
// a power of two the output waiting for a reader that does not read takes
// about what it counts (the -max-pending limit is on the bytes).
func (l *loop[X]) write(c *conn[X]) {
	out := c.out
	c.out = nil
	l.writing = c
	for data := *out; len(data) > 0; {
		n, err := c.gc.Write(data[:min(len(data), writeChunk)])
		l.writes++
		c.bytesOut += uint64(n)
		l.r.m.Sent(n)
		if err != nil || c.state > stateLinger {
			break // the write failed and closed c
		}
		data = data[n:]
	}
	l.writing = nil
	l.recycle(out)
}

// pause stops reading c until its output drains (see sweepPaused).
func (l *loop[X]) pause(c *conn[X], now time.Time) {
	if c.paused || c.state != stateOpen {
		return
	}
	c.paused = true
	l.paused = append(l.paused, pausedConn[X]{c: c, since: now.UnixNano()})
	l.r.paused.Add(1)
}

// resume lets c's input be read again. Its entry in l.paused is dropped by
// the next sweep.
func (l *loop[X]) resume(c *conn[X]) {
	if c.paused {
		c.paused = false
		l.r.paused.Add(-1)
	}
}

// endCallback ends an I/O callback. What the callbacks of one round
// queued is written, and what they gathered for other loops handed on, at
// the round's end: the round's first callback schedules endTask, which gnet
// runs on this loop once every event of the epoll_wait has had its
// callback (and those of the next, non-blocking one: the task's wake-up is
// among its events). So two events for one connection in one round go in
// one write, not two; at 60,000 deliveries/s with 2 loops, writing at each
// callback's end cost 13.5-14.4 µs of CPU per delivery, at the round's end
// 12.3-13.1, and one loop now needs 8.2-9.6 (README, Performance).
// Scheduling costs an eventfd write when no wake-up is pending, on a loop
// that is awake (no thread to wake), and gnet's closure for the task.
//
// A round of many events writes early (flushIfMany).
func (l *loop[X]) endCallback() {
	l.flushIfMany()
	if l.endPending {
		return
	}
	l.endPending = true
	if err := l.el.Execute(context.Background(), l.endTask); err != nil {
		// The engine is stopping: no task runs any more.
		l.endPending = false
		l.endEvent()
	}
}

// flushIfMany writes the queued output once more connections wait for it
// than there are spare buffers: a round of many events, or a drain of a
// large batch (a burst of check-ins), would otherwise hold a fresh output
// buffer for every connection it touches until the round ends. It runs
// between callbacks or records, never inside the camp or a flush.
func (l *loop[X]) flushIfMany() {
	if len(l.dirty) >= spareBuffers && len(l.spare) == 0 && !l.flushing {
		l.flush()
	}
}

// endEvent ends a round of l (endTask), a task or a tick: the service
// takes in what other loops sent and passes on what l gathered for them,
// then l's output is flushed, so frames that came from other loops go in
// the same write as the round's own. What a failed Write's OnClose
// gathers during the flush goes with the endTask that OnClose schedules.
// Nested calls (OnClose inside a Write) leave the work to the outer one.
func (l *loop[X]) endEvent() {
	if l.flushing {
		return
	}
	l.r.svc.endRound(l)
	l.flush()
}

// flush writes every connection's queued output with one Write each, then
// enforces the output limit and sends the FIN of lingering connections
// whose output has drained. A failed Write closes its connection inside the
// call, which may queue LEFT events for others: they join the dirty list
// and are written in the same pass.
func (l *loop[X]) flush() {
	l.flushing = true
	now := time.Now()
	for i := 0; i < len(l.dirty); i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.dirty = false
		switch {
		case c.out == nil:
		case c.state <= stateLinger:
			l.write(c)
		default:
			l.recycle(c.out)
			c.out = nil
		}
		if c.state > stateLinger {
			continue
		}
		pending := c.gc.OutboundBuffered()
		l.peak = max(l.peak, pending)
		switch {
		case pending > 2*l.r.lim.maxPending && c.state == stateOpen:
			l.r.m.SlowConsumer()
			l.r.quiet.Warn("slow consumer, closing", zap.Stringer("remote", remoteAddr(c)),
				zap.Int("pending", pending), zap.Int("limit", l.r.lim.maxPending))
			l.abort(c, closeSlowConsumer, now)
		case pending > l.r.lim.maxPending:
			l.pause(c, now)
		case c.state == stateLinger && !c.fin && pending == 0:
			shutdownWrite(c)
		}
	}
	l.dirty = l.dirty[:0]
	l.flushing = false
}

// shutdownWrite sends a FIN after the queued output: the graceful half of
// every close that follows a last reply. The error is ignored: a socket
// that cannot be shut down is about to be closed anyway.
func shutdownWrite[X any](c *conn[X]) {
	c.fin = true
	_ = unix.Shutdown(c.gc.Fd(), unix.SHUT_WR)
}

// Output buffers: flushed ones are kept for reuse so that a busy server does
// not allocate one per event, and idle connections hold none.
const (
	spareBuffers  = 256
	spareCapLimit = 64 << 10
	// writeEarly is how much output a connection may gather in one
	// callback before it is written: below spareCapLimit, so that its
	// buffer can be kept for reuse.
	writeEarly = 32 << 10
	// writeChunk bounds one Write to gnet (see write); a power of two.
	writeChunk = 32 << 10
)

func (l *loop[X]) buffer() *[]byte {
	if n := len(l.spare); n > 0 {
		b := l.spare[n-1]
		l.spare = l.spare[:n-1]
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

func (l *loop[X]) recycle(b *[]byte) {
	if cap(*b) <= spareCapLimit && len(l.spare) < spareBuffers {
		*b = (*b)[:0]
		l.spare = append(l.spare, b)
	}
}
