package server

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"campfire/server/metrics"
)

// maxLoops bounds -loops: the loop index lives in a byte of each conn.
const maxLoops = 64

// service is what a reactor serves: it knows a protocol, the reactor knows
// connections. Every method runs on the event loop that owns c.
type service[X any] interface {
	// open prepares the service's state of a connection just admitted.
	open(c *conn[X])
	// input handles the unread input of an open connection. It reads with
	// c.gc.Peek, consumes with loop.consume, stops early when loop.full
	// says the output is over the limit (loop.pause), and reports a partial
	// frame with loop.partial.
	input(l *loop[X], c *conn[X], now time.Time)
	// ended is called once when an open connection leaves the open state,
	// for any reason: its own last reply (finish) or an end from outside
	// (abort, or the client closing). The gnet.Conn may already be gone.
	ended(l *loop[X], c *conn[X], why closeReason, now time.Time)
	// frameTimeout answers a connection whose partial frame began more than
	// the frame timeout ago; it must end the connection.
	frameTimeout(l *loop[X], c *conn[X], now time.Time)
	// goodbye is queued for every open connection when the server shuts
	// down, before it lingers; nil sends nothing.
	goodbye() []byte
	// refusal answers a connection refused at connect (over a cap, or while
	// shutting down); nil closes it without a word.
	refusal(busy bool) []byte
	// endRound runs at the end of every round of l's event loop (and of
	// every task and tick on it), before l's output is flushed: a carrier
	// takes in what other loops sent and hands on what it gathered for
	// them.
	endRound(l *loop[X])
	// describe adds the service's fields to a connection's close log line
	// (the camper's id, for the camp service).
	describe(c *conn[X]) zap.Field
}

// limits are a reactor's bounds, from Config.
type limits struct {
	idle         time.Duration
	linger       time.Duration
	frameTimeout time.Duration
	slowTimeout  time.Duration // how long the output may stay over maxPending
	maxConns     int64
	maxPerIP     int
	maxPending   int
	maxInput     int // unread input a paused connection may hold
	// maxWaiting is the unread input a connection paused on its replies
	// in flight between loops may hold: a client that goes on sending
	// this much without reading is not waiting for them.
	maxWaiting int
}

// reactor is the gnet event handler shared by the camp and echo services:
// connection caps, the idle, linger and frame lists, batched writes, the
// output limit, draining and the one close path. It knows nothing of
// CAMP. Its per-loop state lives in loop values, each touched only by its
// own event-loop goroutine; the reactor's own fields are set at start or
// are atomic (or, for the per-IP counts, behind ipMu).
type reactor[X any] struct {
	gnet.BuiltinEventEngine

	name  string
	log   *zap.Logger
	quiet *zap.Logger // log through the sampler: per-connection lines
	svc   service[X]
	lim   limits
	tick  time.Duration

	loopsMu   sync.Mutex // serializes registering a loop
	loops     [maxLoops]atomic.Pointer[loop[X]]
	nloops    atomic.Int32
	conns     atomic.Int64 // open gnet connections, lingering ones included
	paused    atomic.Int32 // connections paused on every loop (a faster tick)
	stopping  atomic.Bool  // Engine.Stop has begun (OnShutdown runs off the loops)
	draining  atomic.Bool
	drainDone chan struct{} // closed once draining and no connection is left
	drainOnce sync.Once
	boot      chan gnet.Engine
	ipMu      sync.Mutex
	perIP     map[netip.Addr]int
	onLoop    func(l *loop[X]) // called once when a loop registers, on it
	// beforeDrain runs when the drain begins, before the goodbyes.
	beforeDrain func(ctx context.Context)
	m           *metrics.Metrics // nil: no metrics
	// proxyTrusted, when set, makes every connection start with a PROXY
	// header from one of these sources.
	proxyTrusted []netip.Prefix
}

// loop is one event loop's share of a reactor.
type loop[X any] struct {
	r           *reactor[X]
	el          gnet.EventLoop
	idx         uint8
	active      connList[X]     // stateOpen, by last input
	lingering   connList[X]     // stateLinger, by when lingering began
	framing     int             // open conns with a partial frame (begun != 0)
	paused      []pausedConn[X] // stateOpen, input paused on the output limit
	drained     []*conn[X]      // said goodbye to, the service not told yet
	pausedSpare []pausedConn[X]
	dirty       []*conn[X] // conns with queued output, flushed at the round's end
	flushing    bool
	writing     *conn[X]  // the conn being written in flush (a failed write closes it inside)
	spare       []*[]byte // flushed output buffers kept for reuse
	peak        int       // the most unsent output any connection had after a flush (tests)
	writes      int       // Writes handed to gnet (tests)
	// endTask ends the loop's round. The round's first callback schedules
	// it (endCallback), and endPending says so; a loop that this one held
	// a batch for schedules it too once it has caught up (lane.drain). A
	// run clears endPending: another one still queued finds nothing left.
	endTask    gnet.Runnable
	endPending bool
}

func newReactor[X any](name string, cfg Config, log *zap.Logger, svc service[X]) *reactor[X] {
	r := &reactor[X]{
		name: name,
		log:  log,
		svc:  svc,
		lim: limits{
			idle:         cfg.Idle,
			linger:       cfg.Grace,
			frameTimeout: cfg.FrameTimeout,
			slowTimeout:  cfg.SlowTimeout,
			maxConns:     int64(cfg.MaxConns),
			maxPerIP:     cfg.MaxConnsPerIP,
			maxPending:   cfg.MaxPending,
			maxInput:     maxFrameBytes(cfg.MaxBody),
			maxWaiting:   max(cfg.MaxPending/16, 2*maxFrameBytes(cfg.MaxBody)),
		},
		drainDone: make(chan struct{}),
		boot:      make(chan gnet.Engine, 1),
		m:         cfg.Metrics,
	}
	r.quiet = sampled(log, cfg.LogSample)
	if cfg.ProxyProtocol {
		r.proxyTrusted = cfg.ProxyTrusted
	}
	if cfg.MaxConnsPerIP > 0 {
		r.perIP = make(map[netip.Addr]int)
	}
	r.tick = min(r.lim.idle, r.lim.linger, r.lim.frameTimeout, r.lim.slowTimeout) / 4
	r.tick = max(min(r.tick, time.Second), 10*time.Millisecond)
	if cfg.tick > 0 {
		r.tick = cfg.tick
	}
	return r
}

// loopOf returns the state of gc's event loop, registering the loop the
// first time one of its connections opens. The first loop registered is
// loop 0, the one the camp service keeps its camp on.
func (r *reactor[X]) loopOf(gc gnet.Conn) *loop[X] {
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
	l := &loop[X]{r: r, el: el, idx: uint8(n)}
	l.endTask = gnet.RunnableFunc(func(context.Context) error {
		l.endPending = false
		l.endEvent()
		return nil
	})
	if r.onLoop != nil {
		r.onLoop(l)
	}
	r.loops[n].Store(l)
	r.nloops.Store(int32(n + 1))
	return l
}

// loop returns loop i, which must be registered.
func (r *reactor[X]) loop(i uint8) *loop[X] { return r.loops[i].Load() }

// forEachLoop runs fn on every registered loop, on that loop's goroutine.
// With wait it returns once each has run (or ctx is done).
func (r *reactor[X]) forEachLoop(ctx context.Context, wait bool, fn func(l *loop[X])) error {
	n := int(r.nloops.Load())
	done := make(chan struct{}, n)
	for i := range n {
		l := r.loops[i].Load()
		err := l.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			fn(l)
			done <- struct{}{}
			return nil
		}))
		if err != nil {
			return err
		}
	}
	for range n {
		if !wait {
			break
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// onCampLoop runs fn on loop 0, where a service keeps its shared state,
// and waits for it. With no loop registered yet no connection was ever
// admitted, so nothing runs concurrently and fn runs here.
func (r *reactor[X]) onLoop0(ctx context.Context, fn func(l *loop[X])) error {
	if r.nloops.Load() == 0 {
		r.loopsMu.Lock()
		defer r.loopsMu.Unlock()
		if r.nloops.Load() == 0 {
			fn(nil)
			return nil
		}
	}
	l := r.loops[0].Load()
	done := make(chan struct{})
	err := l.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
		defer close(done)
		fn(l)
		return nil
	}))
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain begins a graceful shutdown: from now on connections are refused,
// the service's beforeDrain runs, and every open connection gets the
// goodbye. The channel is closed once no connection is left.
func (r *reactor[X]) drain(ctx context.Context) <-chan struct{} {
	r.draining.Store(true)
	if r.beforeDrain != nil {
		r.beforeDrain(ctx)
	}
	err := r.forEachLoop(ctx, true, (*loop[X]).sayGoodbye)
	if err == nil {
		err = r.forEachLoop(ctx, true, (*loop[X]).endDrained)
	}
	if err != nil || r.conns.Load() == 0 {
		r.closeDrainDone()
	}
	return r.drainDone
}

func (r *reactor[X]) serviceName() string        { return r.name }
func (r *reactor[X]) booted() <-chan gnet.Engine { return r.boot }
func (r *reactor[X]) grace() time.Duration       { return r.lim.linger }
func (r *reactor[X]) logger() *zap.Logger        { return r.log }

// OnBoot hands the engine to Start.
func (r *reactor[X]) OnBoot(eng gnet.Engine) gnet.Action {
	r.boot <- eng
	return gnet.None
}

// OnOpen admits a connection, or refuses it: the service's refusal is sent
// and the connection closed.
func (r *reactor[X]) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	// Register the loop before reading draining; the drain does the
	// opposite, so a connection is either refused here or reached by it.
	l := r.loopOf(gc)
	r.m.Accepted()
	if r.draining.Load() {
		r.m.Closed(int(closeShutdown))
		r.quiet.Info("connection refused: shutting down", zap.Stringer("remote", gc.RemoteAddr()))
		return r.refuse(gc, true)
	}
	if n := r.conns.Add(1); n > r.lim.maxConns {
		r.conns.Add(-1)
		r.m.Closed(int(closeOverCap))
		r.quiet.Warn("connection refused: server full",
			zap.Stringer("remote", gc.RemoteAddr()), zap.Int64("conns", n-1), zap.Int64("max_conns", r.lim.maxConns))
		return r.refuse(gc, false)
	}
	now := time.Now().UnixNano()
	tcp, _ := gc.RemoteAddr().(*net.TCPAddr)
	c := &conn[X]{gc: gc, remote: tcp, loop: l.idx, state: stateOpen, seen: now, opened: now}
	if r.proxyTrusted != nil {
		// Until its header has arrived the connection's address is the
		// proxy's: the per-IP cap and the open log wait for the header.
		if !trusted(r.proxyTrusted, c.remote) {
			r.conns.Add(-1)
			r.m.Closed(int(closeBadProxy))
			r.quiet.Warn("connection refused: PROXY header expected from a trusted proxy", zap.Stringer("remote", gc.RemoteAddr()))
			return nil, gnet.Close
		}
		c.peer = &peerAddr{pending: true}
	} else if !r.admitIP(c) {
		r.conns.Add(-1)
		r.m.Closed(int(closeOverCap))
		return r.refuse(gc, false)
	}
	r.svc.open(c)
	gc.SetContext(c)
	l.active.pushBack(c)
	if c.peer == nil || !c.peer.pending {
		// Check first: the sampler drops most of these lines, and building
		// the fields would allocate for each of them.
		if ce := r.quiet.Check(zap.InfoLevel, "connection opened"); ce != nil {
			ce.Write(zap.Stringer("remote", gc.RemoteAddr()))
		}
	}
	return nil, gnet.None
}

// refuse answers a connection refused in OnOpen with the service's
// refusal, and closes it. A refused connection does not linger (it would
// hold a descriptor past the cap), but what its client sent before the
// refusal is read and dropped first: a socket closed over unread input
// sends a reset instead of a FIN, and a reset can destroy the refusal in
// flight. A client that sent a request at once, before the server had
// accepted its connection, has it waiting here (a telnet user typing, a
// bench retrying). Input that arrives between this read and gnet's close,
// a few microseconds later, still gets a reset.
func (r *reactor[X]) refuse(gc gnet.Conn, busy bool) ([]byte, gnet.Action) {
	r.m.Received(discardInput(gc.Fd()))
	b := r.svc.refusal(busy)
	r.m.Sent(len(b))
	return b, gnet.Close
}

// discardInput reads and drops what is waiting on a non-blocking socket,
// at most 64 KiB (more than a client that has not been answered yet has
// reason to send), and says how many bytes it dropped.
func discardInput(fd int) int {
	var buf [4096]byte
	total := 0
	for range 16 {
		n, err := unix.Read(fd, buf[:])
		if n <= 0 || err != nil {
			break
		}
		total += n
	}
	return total
}

// admitIP counts c against its IP's cap; false means it is over the cap.
func (r *reactor[X]) admitIP(c *conn[X]) bool {
	if r.perIP == nil {
		return true
	}
	ip := remoteIP(c)
	r.ipMu.Lock()
	n := r.perIP[ip]
	ok := n < r.lim.maxPerIP
	if ok {
		r.perIP[ip] = n + 1
	}
	r.ipMu.Unlock()
	if !ok {
		r.quiet.Warn("connection refused: too many connections from this address",
			zap.Stringer("remote", remoteAddr(c)), zap.Int("max_conns_per_ip", r.lim.maxPerIP))
		return false
	}
	if c.peer == nil {
		c.peer = &peerAddr{}
	}
	c.peer.counted = true
	return true
}

// releaseIP undoes admitIP when c closes.
func (r *reactor[X]) releaseIP(c *conn[X]) {
	if c.peer == nil || !c.peer.counted {
		return
	}
	ip := remoteIP(c)
	r.ipMu.Lock()
	if n := r.perIP[ip]; n > 1 {
		r.perIP[ip] = n - 1
	} else {
		delete(r.perIP, ip)
	}
	r.ipMu.Unlock()
}

// OnTraffic hands input to the service, or throws it away once the
// connection's last reply is queued.
func (r *reactor[X]) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn[X])
	if c == nil || c.state != stateOpen {
		n, _ := gc.Discard(-1)
		if c != nil {
			c.bytesIn += uint64(n)
		}
		r.m.Received(n)
		return gnet.None
	}
	l := r.loops[c.loop].Load()
	now := time.Now()
	c.seen = now.UnixNano()
	l.active.moveToBack(c)
	switch {
	case c.peer != nil && c.peer.pending:
		if l.readProxyHeader(c, now) {
			r.svc.input(l, c, now)
		}
	case c.paused:
		// The output is over the limit: the input waits, but not without
		// bound. A connection waiting for its own replies still in flight
		// between loops is not slow; one whose output really is over the
		// limit is, once it has also sent more than a frame's worth; and
		// so is one that sends more than maxWaiting while it waits.
		in, pending := gc.InboundBuffered(), l.pending(c)
		unreadLimit := r.lim.maxWaiting
		if pending > r.lim.maxPending {
			unreadLimit = r.lim.maxInput
		}
		if in > unreadLimit {
			r.m.SlowConsumer()
			r.quiet.Warn("slow consumer, closing", zap.Stringer("remote", remoteAddr(c)),
				zap.Int("pending", pending), zap.Int("limit", r.lim.maxPending),
				zap.Int("unread", in), zap.Int("unread limit", unreadLimit))
			l.abort(c, closeSlowConsumer, now)
		}
	default:
		r.svc.input(l, c, now)
	}
	l.endCallback()
	return gnet.None
}

// OnClose forgets a connection. It may run inside a Write that failed, in
// the middle of flush.
func (r *reactor[X]) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn[X])
	if c == nil || c.state == stateClosed {
		return gnet.None // refused in OnOpen
	}
	l := r.loops[c.loop].Load()
	now := time.Now()
	stopping := r.stopping.Load()
	switch c.state {
	case stateOpen:
		why := closeClient
		if l.writing == c {
			why = closeWriteError
		} else if stopping {
			why = closeShutdown
		}
		l.leaveOpen(c, why)
		if !stopping {
			r.svc.ended(l, c, why, now)
		}
	case stateLinger:
		l.lingering.remove(c)
	}
	unread := gc.InboundBuffered()
	c.bytesIn += uint64(unread)
	r.m.Received(unread)
	c.state = stateClosed
	r.releaseIP(c)
	left := r.conns.Add(-1)
	if ce := r.quiet.Check(zap.InfoLevel, "connection closed"); ce != nil {
		fields := []zap.Field{
			zap.Stringer("remote", remoteAddr(c)), zap.Stringer("reason", c.why),
			zap.Duration("open", time.Duration(now.UnixNano()-c.opened).Round(time.Millisecond)),
			zap.Uint64("bytes_in", c.bytesIn), zap.Uint64("bytes_out", c.bytesOut),
			r.svc.describe(c),
		}
		if err != nil && c.why == closeClient || c.why == closeWriteError {
			fields = append(fields, zap.Error(err))
		}
		ce.Write(fields...)
	}
	c.gc = nil
	r.m.Closed(int(c.why))
	if left == 0 && r.draining.Load() {
		r.closeDrainDone()
	}
	if !stopping {
		l.endCallback()
	}
	return gnet.None
}

// OnShutdown marks the start of Engine.Stop, which closes every connection.
func (r *reactor[X]) OnShutdown(gnet.Engine) { r.stopping.Store(true) }

// OnTick sweeps every loop. While some connection waits for its output to
// drain, it sweeps often, so that reading resumes soon after.
func (r *reactor[X]) OnTick() (time.Duration, gnet.Action) {
	_ = r.forEachLoop(context.Background(), false, (*loop[X]).sweep)
	if r.paused.Load() > 0 {
		return min(r.tick, 20*time.Millisecond), gnet.None
	}
	return r.tick, gnet.None
}

// sweep closes the connections whose time is up: idle ones, those whose
// partial frame is too old, those paused too long on the output limit, and
// lingering ones; it resumes the paused ones whose output has drained.
func (l *loop[X]) sweep() {
	if l.r.stopping.Load() {
		return
	}
	now := time.Now()
	lim := &l.r.lim
	idleBefore := now.Add(-lim.idle).UnixNano()
	for c := l.active.head; c != nil && c.seen <= idleBefore; c = l.active.head {
		l.abort(c, closeIdle, now)
	}
	// Stale frames: a partial frame is rare between reads, so this walks
	// the open connections only while some have one (a list of its own
	// would cost every connection two more pointers).
	frameBefore := now.Add(-lim.frameTimeout).UnixNano()
	for c := l.active.head; c != nil && l.framing > 0; {
		next := c.next
		if c.begun != 0 && c.begun <= frameBefore {
			if c.peer != nil && c.peer.pending {
				// A PROXY header that never came: not a client, no reply.
				l.abort(c, closeBadProxy, now)
			} else {
				l.r.svc.frameTimeout(l, c, now)
				if c.begun != 0 && c.state == stateOpen {
					// The service must end it; never leave it be.
					l.abort(c, closeFrameTimeout, now)
				}
			}
		}
		c = next
	}
	l.sweepPaused(now)
	lingerBefore := now.Add(-lim.linger).UnixNano()
	for c := l.lingering.head; c != nil; {
		next := c.next
		switch {
		case c.seen <= lingerBefore:
			l.lingering.remove(c)
			c.state = stateClosing
			_ = c.gc.Close()
		case !c.fin && l.pending(c) == 0:
			shutdownWrite(c)
		}
		c = next
	}
	l.endEvent()
}

// sweepPaused resumes paused connections whose output has drained below
// the limit, and closes those that stayed over it too long.
func (l *loop[X]) sweepPaused(now time.Time) {
	if len(l.paused) == 0 {
		return
	}
	// Resuming a connection may pause it again, appending to l.paused.
	list := l.paused
	l.paused, l.pausedSpare = l.pausedSpare[:0], nil
	tooOld := now.Add(-l.r.lim.slowTimeout).UnixNano()
	for _, p := range list {
		c := p.c
		switch {
		case c.state != stateOpen || !c.paused:
		case !l.full(c, 0):
			l.resume(c)
			l.r.svc.input(l, c, now)
		case p.since <= tooOld:
			l.resume(c)
			l.r.m.SlowConsumer()
			l.r.quiet.Warn("slow consumer, closing", zap.Stringer("remote", remoteAddr(c)),
				zap.Int("pending", l.pending(c)), zap.Int("limit", l.r.lim.maxPending))
			l.abort(c, closeSlowConsumer, now)
		default:
			l.paused = append(l.paused, p)
		}
	}
	clear(list)
	l.pausedSpare = list[:0]
}

// finish makes c's queued output its last, for reason why: c lingers from
// now on (no more input is read; a FIN follows the output) and the service
// hears that it ended.
func (l *loop[X]) finish(c *conn[X], why closeReason, now time.Time) {
	if c.state != stateOpen {
		return
	}
	l.linger(c, why, now)
	l.r.svc.ended(l, c, why, now)
}

// linger moves an open c to the linger list.
func (l *loop[X]) linger(c *conn[X], why closeReason, now time.Time) {
	l.leaveOpen(c, why)
	c.state = stateLinger
	c.seen = now.UnixNano()
	l.lingering.pushBack(c)
}

// abort ends c at once for reason why (idle, slow consumer, a frame
// timeout with nothing to say): the service hears it first, so a group
// hears LEFT, then the socket is closed without waiting for the output. A
// lingering connection is closed too, keeping the reason of its last reply.
func (l *loop[X]) abort(c *conn[X], why closeReason, now time.Time) {
	switch c.state {
	case stateOpen:
		l.leaveOpen(c, why)
		c.state = stateClosing
		l.r.svc.ended(l, c, why, now)
	case stateLinger:
		l.lingering.remove(c)
		c.state = stateClosing
	default:
		return
	}
	_ = c.gc.Close()
}

// leaveOpen takes an open c off the open-state lists and records why it
// ended: the one place a reason is set.
func (l *loop[X]) leaveOpen(c *conn[X], why closeReason) {
	l.active.remove(c)
	if c.begun != 0 {
		l.framing--
		c.begun = 0
	}
	if c.paused {
		l.resume(c)
	}
	c.why = why
}

// partial tells the reactor whether c's unread input holds a frame that
// has begun; fresh means a frame was completed since the last call, so the
// partial one is new. The frame timeout counts from when it began.
func (l *loop[X]) partial(c *conn[X], begun, fresh bool, now time.Time) {
	switch {
	case !begun:
		if c.begun != 0 {
			l.framing--
			c.begun = 0
		}
	case c.begun == 0:
		c.begun = now.UnixNano()
		l.framing++
	case fresh:
		c.begun = now.UnixNano()
	}
}

// consume discards n bytes of c's input that the service has used.
func (l *loop[X]) consume(c *conn[X], n int) {
	// gnet's Discard(0) discards everything buffered: a partial frame must
	// not be discarded at all.
	if n > 0 {
		_, _ = c.gc.Discard(n)
		c.bytesIn += uint64(n)
		l.r.m.Received(n)
	}
}

func (r *reactor[X]) closeDrainDone() {
	r.drainOnce.Do(func() { close(r.drainDone) })
}

// sayGoodbye starts a graceful shutdown on l: every open connection gets
// the service's goodbye and lingers, so it is closed once the client has
// read it and gone, or when the linger time is up. The service hears of
// these ends only once every loop has said goodbye (endDrained), so that
// nobody is told of another's leaving after its own goodbye.
func (l *loop[X]) sayGoodbye() {
	now := time.Now()
	bye := l.r.svc.goodbye()
	for c := l.active.head; c != nil; c = l.active.head {
		if bye == nil {
			l.abort(c, closeShutdown, now)
			continue
		}
		l.queue(c, bye)
		l.linger(c, closeShutdown, now)
		l.drained = append(l.drained, c)
	}
	l.r.m.Event(metrics.EventShutdown, len(l.drained))
	l.endEvent()
}

// endDrained tells the service of the connections sayGoodbye ended.
func (l *loop[X]) endDrained() {
	now := time.Now()
	for _, c := range l.drained {
		l.r.svc.ended(l, c, closeShutdown, now)
	}
	l.drained = nil
	l.endEvent()
}

// remoteAddr is the client's address: the PROXY header's, else the
// socket's.
func remoteAddr[X any](c *conn[X]) addrString {
	if c.peer != nil && c.peer.addr.IsValid() {
		return addrString{ap: c.peer.addr}
	}
	return addrString{tcp: c.remote}
}

// remoteIP is the client's IP, for the per-IP cap.
func remoteIP[X any](c *conn[X]) netip.Addr {
	if c.peer != nil && c.peer.addr.IsValid() {
		return c.peer.addr.Addr()
	}
	if c.remote != nil {
		ip, _ := netip.AddrFromSlice(c.remote.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// addrString prints an address for the log without formatting it unless
// the line is written.
type addrString struct {
	tcp *net.TCPAddr
	ap  netip.AddrPort
}

func (s addrString) String() string {
	switch {
	case s.ap.IsValid():
		return s.ap.String()
	case s.tcp != nil:
		return s.tcp.String()
	}
	return "unknown"
}
