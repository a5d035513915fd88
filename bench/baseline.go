package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"campfire/groups"
	"campfire/protocol"
)

// BaselineConfig configures the baseline server. Its fields mean what the
// real server's do.
type BaselineConfig struct {
	Addr       string
	IDs        protocol.IDRange
	MaxBody    int
	MaxPending int           // bytes waiting to be written to one connection before it is dropped
	Idle       time.Duration // a connection that sends nothing this long is closed
	MaxConns   int           // past it a new connection gets 503
	// WriteTimeout bounds one write to a connection that does not read.
	WriteTimeout time.Duration
	// Linger bounds how long a closing connection waits for the client to
	// read its last reply and leave.
	Linger time.Duration
}

// DefaultBaselineConfig returns the real server's defaults.
func DefaultBaselineConfig() BaselineConfig {
	return BaselineConfig{
		Addr:         "127.0.0.1:0",
		IDs:          protocol.DefaultIDs(),
		MaxBody:      protocol.DefaultMaxBody,
		MaxPending:   4 << 20,
		Idle:         10 * time.Minute,
		MaxConns:     19_000,
		WriteTimeout: 5 * time.Second,
		Linger:       5 * time.Second,
	}
}

// Baseline is the conventional server: one goroutine per connection and a
// mutex around the camp. Deliveries are copied out of the camp's borrowed
// buffers before the mutex is released, then written under each target's
// write mutex. Two senders' events to one target may therefore be written
// in either order; each request's reply still precedes its own events.
type Baseline struct {
	cfg BaselineConfig
	log *zap.Logger
	ln  *net.TCPListener

	mu   sync.Mutex // guards camp
	camp *groups.Camp[*bconn]

	connsMu sync.Mutex // guards conns and closing
	conns   map[*bconn]struct{}
	closing bool
	// draining is set by Shutdown so that readers stop extending their
	// deadline to the idle time.
	draining atomic.Bool

	wg       sync.WaitGroup // the accept loop and every connection's goroutine
	shutdown []byte         // the SHUTDOWN event
}

// bconn is one connection of the baseline server. Its goroutine owns the
// read side and the scratch buffers; writes from any goroutine take wmu.
type bconn struct {
	nc      *net.TCPConn
	wmu     sync.Mutex
	pending atomic.Int64 // bytes waiting for wmu or being written
	dead    atomic.Bool

	buf        []byte
	start, end int
	parser     protocol.Parser
	frame      protocol.Frame
	// out and dels hold a copy of one Result, valid after camp.mu is released.
	out  []byte
	dels []copied
	seat groups.Seat // the camp's, guarded by Baseline.mu
}

// Seat is c's seat in the camp, for groups.Camp.
func (c *bconn) Seat() *groups.Seat { return &c.seat }

// copied is a delivery whose frame was copied into bconn.out.
type copied struct {
	dst    *bconn
	lo, hi int // the frame is out[lo:hi]
}

// StartBaseline listens on cfg.Addr and serves until Shutdown.
func StartBaseline(cfg BaselineConfig, log *zap.Logger) (*Baseline, error) {
	if cfg.IDs.Digits == 0 {
		cfg.IDs = protocol.DefaultIDs()
	}
	if cfg.MaxBody <= 0 || cfg.MaxPending <= 0 || cfg.Idle <= 0 || cfg.MaxConns <= 0 || cfg.WriteTimeout <= 0 || cfg.Linger <= 0 {
		return nil, fmt.Errorf("baseline config %+v: every limit must be positive", cfg)
	}
	lc := net.ListenConfig{} // Go sets SO_REUSEADDR on listeners.
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	b := &Baseline{
		cfg:      cfg,
		log:      log,
		ln:       ln.(*net.TCPListener),
		camp:     groups.New[*bconn](groups.Config{IDs: cfg.IDs}),
		conns:    map[*bconn]struct{}{},
		shutdown: protocol.AppendBody(protocol.AppendEvent(nil, protocol.EventShutdown, nil), nil),
	}
	log.Info("starting baseline server", zap.String("addr", b.Addr()), zap.Stringer("ids", cfg.IDs), zap.Int("max_conns", cfg.MaxConns))
	b.wg.Go(b.accept)
	return b, nil
}

// Addr is the address the server listens on, with the real port.
func (b *Baseline) Addr() string { return b.ln.Addr().String() }

// Shutdown stops accepting, sends SHUTDOWN to every connection, closes
// them gracefully and waits for their goroutines, or until ctx is done.
func (b *Baseline) Shutdown(ctx context.Context) error {
	b.draining.Store(true)
	b.connsMu.Lock()
	b.closing = true
	conns := make([]*bconn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.connsMu.Unlock()
	b.ln.Close()
	b.mu.Lock()
	b.camp.SetDraining(true)
	b.mu.Unlock()
	for _, c := range conns {
		b.write(c, b.shutdown)
		c.nc.CloseWrite()
		// Unblock the reader: it sees EOF from the client or this deadline.
		c.nc.SetReadDeadline(time.Now().Add(b.cfg.Linger))
	}
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		<-done
		return fmt.Errorf("baseline shutdown: %w", ctx.Err())
	}
}

func (b *Baseline) accept() {
	busy := protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server full, try again later")
	for {
		nc, err := b.ln.AcceptTCP()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Error("accept", zap.Error(err))
			}
			return
		}
		c := &bconn{nc: nc, buf: make([]byte, 4096), parser: protocol.Parser{MaxBody: b.cfg.MaxBody}}
		b.connsMu.Lock()
		refuse := b.closing || len(b.conns) >= b.cfg.MaxConns
		if !refuse {
			b.conns[c] = struct{}{}
		}
		b.connsMu.Unlock()
		if refuse {
			b.log.Warn("connection refused: server full or closing", zap.Stringer("remote", nc.RemoteAddr()))
			nc.SetWriteDeadline(time.Now().Add(b.cfg.WriteTimeout))
			nc.Write(busy)
			nc.Close()
			continue
		}
		b.log.Info("connection opened", zap.Stringer("remote", nc.RemoteAddr()))
		b.wg.Go(func() { b.serve(c) })
	}
}

// serve reads and handles requests until the connection ends, then checks
// the camper out.
func (b *Baseline) serve(c *bconn) {
	defer func() {
		b.mu.Lock()
		b.copyResult(c, b.camp.Leave(c, time.Now()), false)
		b.mu.Unlock()
		b.flushCopied(c)
		c.dead.Store(true)
		c.nc.Close()
		b.connsMu.Lock()
		delete(b.conns, c)
		b.connsMu.Unlock()
	}()
	for {
		n, ok, err := c.parser.Parse(c.buf[c.start:c.end], &c.frame)
		if err != nil {
			b.log.Info("bad frame, closing", zap.Stringer("remote", c.nc.RemoteAddr()), zap.Error(err))
			b.write(c, protocol.AppendError(nil, protocol.StatusOf(err), nil, err.Error()))
			b.linger(c)
			return
		}
		c.start += n
		if ok {
			req := c.frame.Request()
			b.mu.Lock()
			res := b.camp.Handle(c, &req, time.Now())
			b.copyResult(c, res, true)
			b.mu.Unlock()
			b.flushCopied(c)
			if res.Close {
				b.linger(c)
				return
			}
			continue
		}
		if n > 0 {
			continue
		}
		if !b.fill(c) {
			return
		}
	}
}

// copyResult copies a borrowed Result into c's scratch; the caller holds
// b.mu. Every delivery of one broadcast shares one frame, copied once.
func (b *Baseline) copyResult(c *bconn, res groups.Result[*bconn], reply bool) {
	c.out = c.out[:0]
	c.dels = c.dels[:0]
	if reply {
		c.out = append(c.out, res.Reply...)
		c.dels = append(c.dels, copied{dst: c, lo: 0, hi: len(c.out)})
	}
	var last []byte
	lo, hi := 0, 0
	for _, d := range res.Deliveries {
		if len(last) == 0 || &last[0] != &d.Frame[0] || len(last) != len(d.Frame) {
			lo = len(c.out)
			c.out = append(c.out, d.Frame...)
			hi = len(c.out)
			last = d.Frame
		}
		c.dels = append(c.dels, copied{dst: d.To, lo: lo, hi: hi})
	}
	if res.Change.Kind == groups.ChangeCheckin {
		b.log.Info("checked in", zap.String("camper", b.cfg.IDs.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	} else if res.Change.Kind == groups.ChangeCheckout {
		b.log.Info("checked out", zap.String("camper", b.cfg.IDs.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	}
}

// flushCopied writes the copied reply and deliveries, in order.
func (b *Baseline) flushCopied(c *bconn) {
	for _, d := range c.dels {
		b.write(d.dst, c.out[d.lo:d.hi])
	}
}

// write writes frame to c under its write mutex. A connection with more
// than MaxPending bytes waiting, or whose write times out, is a slow
// consumer and is closed (its reader then checks it out).
func (b *Baseline) write(c *bconn, frame []byte) {
	if c.dead.Load() {
		return
	}
	if c.pending.Add(int64(len(frame))) > int64(b.cfg.MaxPending) {
		c.pending.Add(-int64(len(frame)))
		b.drop(c, "slow consumer: output over the limit")
		return
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(b.cfg.WriteTimeout))
	_, err := c.nc.Write(frame)
	c.wmu.Unlock()
	c.pending.Add(-int64(len(frame)))
	if err != nil {
		b.drop(c, err.Error())
	}
}

// drop closes a connection that cannot be written to; its own goroutine
// sees the read fail and checks it out.
func (b *Baseline) drop(c *bconn, why string) {
	if c.dead.Swap(true) {
		return
	}
	b.log.Warn("dropping connection", zap.Stringer("remote", c.nc.RemoteAddr()), zap.String("why", why))
	c.nc.Close()
}

// linger closes gracefully after a last reply: send FIN, then read and
// discard until the client closes or Linger passes, so unread input does
// not turn the close into a reset that could destroy the reply.
func (b *Baseline) linger(c *bconn) {
	c.nc.CloseWrite()
	c.nc.SetReadDeadline(time.Now().Add(b.cfg.Linger))
	io.Copy(io.Discard, c.nc)
}

// fill reads more input, compacting or growing the buffer first. It
// reports false when the connection is over.
func (b *Baseline) fill(c *bconn) bool {
	if c.start == c.end {
		c.start, c.end = 0, 0
	}
	if c.end == len(c.buf) {
		if c.start > 0 {
			c.end = copy(c.buf, c.buf[c.start:c.end])
			c.start = 0
		} else {
			// The parser's limits bound a frame, so the buffer stops
			// growing long before this matters.
			c.buf = append(c.buf, make([]byte, len(c.buf))...)
		}
	}
	wait := b.cfg.Idle
	if b.draining.Load() {
		wait = b.cfg.Linger
	}
	c.nc.SetReadDeadline(time.Now().Add(wait))
	n, err := c.nc.Read(c.buf[c.end:])
	c.end += n
	if err != nil {
		if n > 0 {
			// Handle what arrived; the error comes back on the next read.
			return true
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.dead.Load() {
			b.log.Info("idle, closing", zap.Stringer("remote", c.nc.RemoteAddr()))
		}
		return false
	}
	return true
}
