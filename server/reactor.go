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

// maxLoops bounds -loops: the loop index lives in a byte of each conn.
const maxLoops = 64

// service is what a reactor needs from the protocol it serves. Every method
// runs on the event loop that owns the connection.
type service interface {
	// traffic handles the input of an open connection.
	traffic(l *loop, c *conn, now time.Time)
	// gone is called once when an open connection ends for any reason other
	// than its own final reply (disconnect, idle, slow consumer, bad
	// write), before the socket is closed.
	gone(l *loop, c *conn, now time.Time)
	// drain queues the goodbye for an open connection when the server
	// shuts down.
	drain(l *loop, c *conn)
	// endEvent runs at the end of every callback on l, after l's output
	// has been flushed; the challenge service hands on what it gathered
	// for other loops.
	endEvent(l *loop)
}

// reactor is the gnet event handler shared by the challenge and echo
// services: connection cap, idle and linger lists, batched writes,
// slow-consumer drops and draining. Its per-loop state lives in loop values,
// each touched only by its own event-loop goroutine; the reactor's own
// fields are set at start or are atomic.
type reactor struct {
	gnet.BuiltinEventEngine

	name       string
	log        *zap.Logger
	svc        service
	idle       time.Duration
	linger     time.Duration
	maxConns   int64
	maxPending int
	maxBody    int
	tick       time.Duration
	full       []byte // the 503 sent to a connection over the cap
	busy       []byte // the 503 sent to a connection while draining

	loopsMu   sync.Mutex // serializes registering a loop
	loops     [maxLoops]atomic.Pointer[loop]
	nloops    atomic.Int32
	conns     atomic.Int64 // open gnet connections, lingering ones included
	stopping  atomic.Bool  // Engine.Stop has begun (OnShutdown runs off the loops)
	draining  atomic.Bool
	drainDone chan struct{} // closed once draining and no connection is left
	drainOnce sync.Once
	boot      chan gnet.Engine
	batches   batches // what loops hand each other (forward.go)
}

// loop is one event loop's share of a reactor.
type loop struct {
	r         *reactor
	el        gnet.EventLoop
	idx       uint8
	active    connList // stateOpen, by last input
	lingering connList // stateLinger, by when lingering began
	dirty     []*conn  // conns with queued output, flushed after each event
	flushing  bool
	spare     []*[]byte      // flushed output buffers kept for reuse
	fwd       forwarder      // the challenge service's traffic with other loops
	frame     protocol.Frame // scratch for the frame being handled
}

func newReactor(name string, cfg Config, log *zap.Logger, svc service) *reactor {
	r := &reactor{
		name:       name,
		log:        log,
		svc:        svc,
		idle:       cfg.Idle,
		linger:     cfg.Grace,
		maxConns:   int64(cfg.MaxConns),
		maxPending: cfg.MaxPending,
		maxBody:    cfg.MaxBody,
		drainDone:  make(chan struct{}),
		boot:       make(chan gnet.Engine, 1),
	}
	r.tick = min(r.idle, r.linger) / 4
	r.tick = max(min(r.tick, time.Second), 10*time.Millisecond)
	r.full = protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server full: too many connections, try again later")
	r.busy = protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server shutting down")
	return r
}

// loopOf returns the state of gc's event loop, registering the loop the
// first time one of its connections opens. The first loop registered is
// loop 0, the owner of the challenge service's camp.
func (r *reactor) loopOf(gc gnet.Conn) *loop {
	el := gc.EventLoop()
	for i := range int(r.nloops.Load()) {
		if l := r.loops[i].Load(); l.el == el {
			return l
		}
	}
	r.loopsMu.Lock()
	defer r.loopsMu.Unlock()
	n := int(r.nloops.Load())
	for i := range n {
		if l := r.loops[i].Load(); l.el == el {
			return l
		}
	}
	l := &loop{r: r, el: el, idx: uint8(n), fwd: forwarder{pool: &r.batches}}
	r.loops[n].Store(l)
	r.nloops.Store(int32(n + 1))
	return l
}

// forEachLoop runs fn on every registered loop, on that loop's goroutine.
func (r *reactor) forEachLoop(ctx context.Context, fn func(l *loop)) error {
	for i := range int(r.nloops.Load()) {
		l := r.loops[i].Load()
		err := l.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			fn(l)
			return nil
		}))
		if err != nil {
			return err
		}
	}
	return nil
}

// OnBoot hands the engine to Start.
func (r *reactor) OnBoot(eng gnet.Engine) gnet.Action {
	r.boot <- eng
	return gnet.None
}

// OnOpen admits a connection or answers 503 and closes it.
func (r *reactor) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	// Register the loop before reading draining; Shutdown does the
	// opposite, so a connection is either refused here or reached by the
	// drain.
	l := r.loopOf(gc)
	if r.draining.Load() {
		return r.busy, gnet.Close
	}
	if n := r.conns.Add(1); n > r.maxConns {
		r.conns.Add(-1)
		r.log.Warn("connection refused: server full",
			zap.Stringer("remote", gc.RemoteAddr()), zap.Int64("conns", n-1))
		return r.full, gnet.Close
	}
	c := &conn{gc: gc, loop: l.idx, state: stateOpen, seen: time.Now().UnixNano()}
	c.parser.MaxBody = r.maxBody
	gc.SetContext(c)
	l.active.pushBack(c)
	r.log.Info("connection opened", zap.Stringer("remote", gc.RemoteAddr()))
	return nil, gnet.None
}

// OnTraffic hands input to the service, or throws it away once the
// connection's last reply is queued.
func (r *reactor) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state != stateOpen || c.halted {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	l := r.loops[c.loop].Load()
	now := time.Now()
	c.seen = now.UnixNano()
	l.active.moveToBack(c)
	r.svc.traffic(l, c, now)
	l.endEvent()
	return gnet.None
}

// OnClose forgets a connection. It may run inside a Write that failed, in
// the middle of flush.
func (r *reactor) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state == stateClosed {
		return gnet.None // refused in OnOpen
	}
	l := r.loops[c.loop].Load()
	was := c.state
	switch was {
	case stateOpen:
		l.active.remove(c)
	case stateLinger:
		l.lingering.remove(c)
	}
	c.state = stateClosed
	c.gc = nil
	left := r.conns.Add(-1)
	stopping := r.stopping.Load()
	if was == stateOpen && !stopping {
		r.svc.gone(l, c, time.Now())
	}
	if err != nil {
		r.log.Debug("connection closed", zap.Error(err))
	}
	if left == 0 && r.draining.Load() {
		r.closeDrainDone()
	}
	if !stopping {
		l.endEvent()
	}
	return gnet.None
}

// OnShutdown marks the start of Engine.Stop, which closes every connection.
func (r *reactor) OnShutdown(gnet.Engine) { r.stopping.Store(true) }

// OnTick sweeps idle and lingering connections on every loop.
func (r *reactor) OnTick() (time.Duration, gnet.Action) {
	_ = r.forEachLoop(context.Background(), (*loop).sweep)
	return r.tick, gnet.None
}

func (l *loop) sweep() {
	if l.r.stopping.Load() {
		return
	}
	now := time.Now()
	idleBefore := now.Add(-l.r.idle).UnixNano()
	for c := l.active.head; c != nil && c.seen <= idleBefore; c = l.active.head {
		l.r.log.Info("connection idle, closing", zap.Stringer("remote", c.gc.RemoteAddr()), zap.Duration("idle", l.r.idle))
		l.drop(c, now)
	}
	lingerBefore := now.Add(-l.r.linger).UnixNano()
	for c := l.lingering.head; c != nil; {
		next := c.next
		switch {
		case c.seen <= lingerBefore:
			l.lingering.remove(c)
			c.state = stateClosing
			_ = c.gc.Close()
		case !c.fin && c.gc.OutboundBuffered() == 0:
			shutdownWrite(c)
		}
		c = next
	}
	l.endEvent()
}

// queue appends a frame to a connection's output for the next flush. A
// connection that lingers already has its last reply: nothing more is
// queued for it.
func (l *loop) queue(c *conn, frame []byte) {
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

// endEvent flushes l's output and lets the service pass on what it
// gathered for other loops. Nested calls (OnClose inside a Write) leave the
// work to the outer one.
func (l *loop) endEvent() {
	if l.flushing {
		return
	}
	l.flush()
	l.r.svc.endEvent(l)
}

// flush writes every connection's queued output with one Write each, then
// drops connections whose unsent output passed the limit and sends the FIN
// of lingering ones. A failed Write closes its connection inside the call,
// which may queue LEFT events for others: they join the dirty list and are
// written in the same pass.
func (l *loop) flush() {
	l.flushing = true
	for i := 0; i < len(l.dirty); i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.dirty = false
		out := c.out
		c.out = nil
		if c.state <= stateLinger {
			_, _ = c.gc.Write(*out)
		}
		l.recycle(out)
		if c.state > stateLinger {
			continue
		}
		pending := c.gc.OutboundBuffered()
		switch {
		case pending > l.r.maxPending:
			l.r.log.Warn("slow consumer, closing", zap.Stringer("remote", c.gc.RemoteAddr()),
				zap.Int("pending", pending), zap.Int("limit", l.r.maxPending))
			l.drop(c, time.Now())
		case c.state == stateLinger && !c.fin && pending == 0:
			shutdownWrite(c)
		}
	}
	l.dirty = l.dirty[:0]
	l.flushing = false
}

// finish makes c's queued output its last: it lingers from now on.
func (l *loop) finish(c *conn, now time.Time) {
	if c.state != stateOpen {
		return
	}
	l.active.remove(c)
	c.state = stateLinger
	c.seen = now.UnixNano()
	l.lingering.pushBack(c)
}

// drop ends an open connection that did nothing wrong by its own request:
// idle, slow consumer. The service is told first, so its group hears LEFT.
func (l *loop) drop(c *conn, now time.Time) {
	if c.state != stateOpen {
		return
	}
	l.active.remove(c)
	c.state = stateClosing
	l.r.svc.gone(l, c, now)
	_ = c.gc.Close()
}

// drain starts a graceful shutdown on l: every open connection gets the
// service's goodbye and lingers, so it is closed once the client has read
// it and gone, or when the linger time is up.
func (l *loop) drain() {
	now := time.Now()
	for c := l.active.head; c != nil; c = l.active.head {
		l.r.svc.drain(l, c)
		l.finish(c, now)
	}
	l.endEvent()
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

func (l *loop) buffer() *[]byte {
	if n := len(l.spare); n > 0 {
		b := l.spare[n-1]
		l.spare = l.spare[:n-1]
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

func (l *loop) recycle(b *[]byte) {
	if cap(*b) <= spareCapLimit && len(l.spare) < spareBuffers {
		*b = (*b)[:0]
		l.spare = append(l.spare, b)
	}
}
