package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"

	"campfire/protocol"
)

// service is what a reactor needs from the protocol it serves.
type service interface {
	// traffic handles the input of an open connection.
	traffic(c *conn, now time.Time)
	// gone is called once when an open connection ends for any reason other
	// than its own final reply (disconnect, idle, slow consumer, bad
	// write), before the socket is closed.
	gone(c *conn, now time.Time)
	// shutdown queues the goodbye for an open connection when the server
	// drains.
	shutdown(c *conn)
}

// reactor is the gnet event handler shared by the challenge and echo
// services: connection cap, idle and linger lists, batched writes,
// slow-consumer drops and draining. Everything but the atomic fields and the
// channels runs on the engine's single event loop.
type reactor struct {
	gnet.BuiltinEventEngine

	name       string
	log        *zap.Logger
	svc        service
	idle       time.Duration
	linger     time.Duration
	maxConns   int
	maxPending int
	tick       time.Duration
	full       []byte // the 503 sent to a connection over the cap
	busy       []byte // the 503 sent to a connection while draining

	// Loop-only state.
	conns     int      // open gnet connections, lingering ones included
	active    connList // stateOpen, by last input
	lingering connList // stateLinger, by when lingering began
	dirty     []*conn  // conns with queued output, flushed after each event
	flushing  bool
	spare     []*[]byte // flushed output buffers kept for reuse

	// Shared with other goroutines.
	stopping  atomic.Bool // Engine.Stop has begun (OnShutdown runs off the loop)
	loop      atomic.Pointer[gnet.EventLoop]
	draining  atomic.Bool
	drainDone chan struct{} // closed once draining and no connection is left
	drainOnce sync.Once
	boot      chan gnet.Engine
}

func newReactor(name string, cfg Config, log *zap.Logger, svc service) *reactor {
	r := &reactor{
		name:       name,
		log:        log,
		svc:        svc,
		idle:       cfg.Idle,
		linger:     cfg.Grace,
		maxConns:   cfg.MaxConns,
		maxPending: cfg.MaxPending,
		drainDone:  make(chan struct{}),
		boot:       make(chan gnet.Engine, 1),
	}
	r.tick = min(r.idle, r.linger) / 4
	r.tick = max(min(r.tick, time.Second), 10*time.Millisecond)
	r.full = protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server full: too many connections, try again later")
	r.busy = protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server shutting down")
	return r
}

// OnBoot hands the engine to Start.
func (r *reactor) OnBoot(eng gnet.Engine) gnet.Action {
	r.boot <- eng
	return gnet.None
}

// OnOpen admits a connection or answers 503 and closes it.
func (r *reactor) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	// Publish the loop before reading draining; drain does the opposite, so
	// a connection is either refused here or reached by the drain.
	if r.loop.Load() == nil {
		loop := gc.EventLoop()
		r.loop.Store(&loop)
	}
	if r.draining.Load() {
		return r.busy, gnet.Close
	}
	if r.conns >= r.maxConns {
		r.log.Warn("connection refused: server full",
			zap.Stringer("remote", gc.RemoteAddr()), zap.Int("conns", r.conns))
		return r.full, gnet.Close
	}
	r.conns++
	c := &conn{gc: gc, state: stateOpen, seen: time.Now().UnixNano()}
	gc.SetContext(c)
	r.active.pushBack(c)
	r.log.Info("connection opened", zap.Stringer("remote", gc.RemoteAddr()))
	return nil, gnet.None
}

// OnTraffic hands input to the service, or throws it away once the
// connection's last reply is queued.
func (r *reactor) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state != stateOpen {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	now := time.Now()
	c.seen = now.UnixNano()
	r.active.moveToBack(c)
	r.svc.traffic(c, now)
	r.flush()
	return gnet.None
}

// OnClose forgets a connection. It may run inside a Write that failed, in
// the middle of flush.
func (r *reactor) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state == stateClosed {
		return gnet.None // refused in OnOpen
	}
	was := c.state
	switch was {
	case stateOpen:
		r.active.remove(c)
	case stateLinger:
		r.lingering.remove(c)
	}
	c.state = stateClosed
	c.gc = nil
	r.conns--
	if was == stateOpen && !r.stopping.Load() {
		r.svc.gone(c, time.Now())
	}
	if err != nil {
		r.log.Debug("connection closed", zap.Error(err))
	}
	if r.draining.Load() && r.conns == 0 {
		r.closeDrainDone()
	}
	if !r.stopping.Load() {
		r.flush()
	}
	return gnet.None
}

// OnShutdown marks the start of Engine.Stop, which closes every connection.
func (r *reactor) OnShutdown(gnet.Engine) { r.stopping.Store(true) }

// OnTick sweeps idle and lingering connections on the loop.
func (r *reactor) OnTick() (time.Duration, gnet.Action) {
	if loop := r.loop.Load(); loop != nil {
		_ = (*loop).Execute(context.Background(), gnet.RunnableFunc(r.sweep))
	}
	return r.tick, gnet.None
}

func (r *reactor) sweep(context.Context) error {
	if r.stopping.Load() {
		return nil
	}
	now := time.Now()
	idleBefore := now.Add(-r.idle).UnixNano()
	for c := r.active.head; c != nil && c.seen <= idleBefore; c = r.active.head {
		r.log.Info("connection idle, closing", zap.Stringer("remote", c.gc.RemoteAddr()), zap.Duration("idle", r.idle))
		r.drop(c, now)
	}
	lingerBefore := now.Add(-r.linger).UnixNano()
	for c := r.lingering.head; c != nil; {
		next := c.next
		switch {
		case c.seen <= lingerBefore:
			r.lingering.remove(c)
			c.state = stateClosing
			_ = c.gc.Close()
		case !c.fin && c.gc.OutboundBuffered() == 0:
			shutdownWrite(c)
		}
		c = next
	}
	r.flush()
	return nil
}

// queue appends a frame to a connection's output for the next flush.
func (r *reactor) queue(c *conn, frame []byte) {
	if c.state > stateLinger {
		return
	}
	if c.out == nil {
		c.out = r.buffer()
	}
	*c.out = append(*c.out, frame...)
	if !c.dirty {
		c.dirty = true
		r.dirty = append(r.dirty, c)
	}
}

// flush writes every connection's queued output with one Write each, then
// drops connections whose unsent output passed the limit and sends the FIN
// of lingering ones. A failed Write closes its connection inside the call,
// which may queue LEFT events for others: they join the dirty list and are
// written in the same pass.
func (r *reactor) flush() {
	if r.flushing {
		return
	}
	r.flushing = true
	for i := 0; i < len(r.dirty); i++ {
		c := r.dirty[i]
		r.dirty[i] = nil
		c.dirty = false
		out := c.out
		c.out = nil
		if c.state <= stateLinger {
			_, _ = c.gc.Write(*out)
		}
		r.recycle(out)
		if c.state > stateLinger {
			continue
		}
		pending := c.gc.OutboundBuffered()
		switch {
		case pending > r.maxPending:
			r.log.Warn("slow consumer, closing", zap.Stringer("remote", c.gc.RemoteAddr()),
				zap.Int("pending", pending), zap.Int("limit", r.maxPending))
			r.drop(c, time.Now())
		case c.state == stateLinger && !c.fin && pending == 0:
			shutdownWrite(c)
		}
	}
	r.dirty = r.dirty[:0]
	r.flushing = false
}

// finish makes c's queued output its last: it lingers from now on.
func (r *reactor) finish(c *conn, now time.Time) {
	if c.state != stateOpen {
		return
	}
	r.active.remove(c)
	c.state = stateLinger
	c.seen = now.UnixNano()
	r.lingering.pushBack(c)
}

// drop ends an open connection that did nothing wrong by its own request:
// idle, slow consumer. The service is told first, so its group hears LEFT.
func (r *reactor) drop(c *conn, now time.Time) {
	if c.state != stateOpen {
		return
	}
	r.active.remove(c)
	c.state = stateClosing
	r.svc.gone(c, now)
	_ = c.gc.Close()
}

// drain starts a graceful shutdown on the loop: every open connection gets
// the service's goodbye and lingers, so it is closed once the client has
// read it and gone, or when the linger time is up.
func (r *reactor) drain(context.Context) error {
	now := time.Now()
	for c := r.active.head; c != nil; c = r.active.head {
		r.svc.shutdown(c)
		r.finish(c, now)
	}
	r.flush()
	if r.conns == 0 {
		r.closeDrainDone()
	}
	return nil
}

func (r *reactor) closeDrainDone() {
	r.drainOnce.Do(func() { close(r.drainDone) })
}

// Output buffers: flushed ones are kept for reuse so that a busy server does
// not allocate one per event, and idle connections hold none.
const (
	spareBuffers  = 256
	spareCapLimit = 64 << 10
)

func (r *reactor) buffer() *[]byte {
	if n := len(r.spare); n > 0 {
		b := r.spare[n-1]
		r.spare = r.spare[:n-1]
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

func (r *reactor) recycle(b *[]byte) {
	if cap(*b) <= spareCapLimit && len(r.spare) < spareBuffers {
		*b = (*b)[:0]
		r.spare = append(r.spare, b)
	}
}
