package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"campfire/internal/version"
	"campfire/server/metrics"
	"campfire/server/web"
)

// Server is a running challenge service, with the echo service beside it if
// configured, or a lone echo service.
type Server struct {
	camp     *campService // nil for a lone echo service
	started  time.Time
	side     *web.Server // the side port, or nil
	sideAddr string
	sideDone chan error
	main     *engine
	echo     *engine
	stopMu   sync.Mutex
	stopped  bool
	done     chan struct{}
	err      error
}

// Start runs the camp service (and the echo service if cfg.EchoAddr is
// set) and returns once both listen.
func Start(cfg Config, log *zap.Logger) (*Server, error) {
	return start(cfg, log, true)
}

// StartEcho runs only the echo service, on cfg.Addr.
func StartEcho(cfg Config, log *zap.Logger) (*Server, error) {
	return start(cfg, log, false)
}

func start(cfg Config, log *zap.Logger, camp bool) (*Server, error) {
	limit := raiseFileLimit()
	if err := cfg.validate(limit); err != nil {
		return nil, err
	}
	var side net.Listener
	if camp && cfg.HTTPAddr != "" {
		var err error
		if side, err = web.Listen(cfg.HTTPAddr, cfg.HTTPExplicit, log); err != nil {
			return nil, err
		}
		if side != nil && cfg.Metrics == nil {
			if cfg.Metrics, err = metrics.New(metrics.Config{CloseReasons: CloseReasons()}); err != nil {
				side.Close()
				return nil, err
			}
		}
	}
	var main handler
	fields := []zap.Field{zap.String("addr", cfg.Addr), zap.Int("loops", cfg.Loops),
		zap.Int("max_conns", cfg.MaxConns), zap.Int("file_limit", limit)}
	var cs *campService
	if camp {
		cs = newCampService(cfg, log.Named("camp"))
		main = cs.r
		fields = append(fields, zap.Stringer("ids", cfg.IDs))
		if cfg.Cluster != nil {
			// The port opens only once this node has joined the camp and
			// caught up with its log.
			if err := joinCluster(cs, cfg, log); err != nil {
				if side != nil {
					side.Close()
				}
				return nil, err
			}
			fields = append(fields, zap.String("cluster", cfg.Cluster.Cluster), zap.String("node", cfg.Cluster.Node))
		}
	} else {
		main = newEchoService(cfg, log.Named("echo")).r
		fields = append(fields, zap.Bool("keep_open", cfg.KeepOpen))
	}
	log.Info("starting", append([]zap.Field{zap.String("service", main.serviceName())}, fields...)...)
	s := &Server{done: make(chan struct{}), camp: cs, started: time.Now()}
	var err error
	if s.main, err = startEngine(main, cfg.Addr, cfg.Loops, log); err != nil {
		if side != nil {
			side.Close()
		}
		if cc := s.clusterCamp(); cc != nil {
			// It joined the camp: leave it, so the others need not wait
			// for the node timeout.
			cc.endLife()
			_ = cc.node.Close(context.Background())
		}
		return nil, err
	}
	log.Info("listening", zap.String("service", main.serviceName()), zap.String("addr", s.main.addr))
	if camp && cfg.EchoAddr != "" {
		ecfg := cfg
		ecfg.Addr = cfg.EchoAddr
		echo := newEchoService(ecfg, log.Named("echo")).r
		if s.echo, err = startEngine(echo, cfg.EchoAddr, cfg.Loops, log); err != nil {
			_ = s.main.stop(context.Background())
			if side != nil {
				side.Close()
			}
			return nil, err
		}
		log.Info("listening", zap.String("service", echo.serviceName()), zap.String("addr", s.echo.addr),
			zap.Bool("keep_open", cfg.KeepOpen))
	}
	if side != nil {
		if err := s.serveSide(side, cfg.Metrics, cfg.HTTPPprof, log); err != nil {
			_ = s.main.stop(context.Background())
			if s.echo != nil {
				_ = s.echo.stop(context.Background())
			}
			return nil, err
		}
	}
	go s.watch()
	if cc := s.clusterCamp(); cc != nil {
		go s.watchNode(cc, log)
	}
	return s, nil
}

// watchNode stops the server when its cluster node stops for good without
// a Shutdown: a node that can no longer follow the log must not serve.
func (s *Server) watchNode(cc *clusterCamp, log *zap.Logger) {
	select {
	case <-cc.node.Done():
	case <-s.done:
		return
	}
	s.stopMu.Lock()
	stopped := s.stopped
	s.stopMu.Unlock()
	if !stopped {
		log.Error("cluster node stopped: stopping the server", zap.Error(cc.node.Err()))
		_ = s.main.stop(context.Background())
	}
}

// serveSide runs the side port on l.
func (s *Server) serveSide(l net.Listener, m *metrics.Metrics, pprof bool, log *zap.Logger) error {
	ws, err := web.New(web.Config{Source: s, Gatherer: m.Registry(), Log: log.Named("http"), Version: version.Get().String(),
		Pprof: pprof})
	if err != nil {
		l.Close()
		return err
	}
	s.side, s.sideAddr, s.sideDone = ws, l.Addr().String(), make(chan error, 1)
	go func() { s.sideDone <- ws.Serve(l) }()
	log.Info("listening", zap.String("service", "http"), zap.String("addr", s.sideAddr))
	return nil
}

func (s *Server) clusterCamp() *clusterCamp {
	if s.camp == nil {
		return nil
	}
	return s.camp.cluster
}

// HTTPAddr is the side port's address, or "" when there is none.
func (s *Server) HTTPAddr() string { return s.sideAddr }

// Addr is the address the main service listens on, with the real port.
func (s *Server) Addr() string { return s.main.addr }

// EchoAddr is the echo service's address when it runs beside the
// challenge service, else "".
func (s *Server) EchoAddr() string {
	if s.echo == nil {
		return ""
	}
	return s.echo.addr
}

// Done is closed when every engine has stopped; Err then says whether one
// stopped on its own.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is nil after a Shutdown, or the reason an engine stopped on its own.
func (s *Server) Err() error {
	<-s.done
	return s.err
}

// watch closes done when the engines have stopped, and records an engine
// that stopped without Shutdown (gnet stops on accept errors).
func (s *Server) watch() {
	engines := []*engine{s.main, s.echo}
	var errs []error
	for _, e := range engines {
		if e == nil {
			continue
		}
		<-e.done
		s.stopMu.Lock()
		stopped := s.stopped
		s.stopMu.Unlock()
		if !stopped {
			errs = append(errs, fmt.Errorf("%s service on %s stopped on its own: %w", e.h.serviceName(), e.addr, e.unexpected()))
			// One engine down means the process is broken; stop the other.
			s.beginStop()
			for _, o := range engines {
				if o != nil && o != e {
					_ = o.stop(context.Background())
				}
			}
		}
	}
	if cc := s.clusterCamp(); cc != nil {
		cc.endLife() // no loop runs the log's batches any more
	}
	s.err = errors.Join(errs...)
	close(s.done)
}

func (s *Server) beginStop() bool {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	was := s.stopped
	s.stopped = true
	return !was
}

// Shutdown stops accepting (new connections get 503), sends SHUTDOWN to
// every connection, waits until the clients have read it and left or the
// grace period is over, then closes everything and returns once the engines
// have stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.beginStop() {
		<-s.done
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range []*engine{s.main, s.echo} {
		if e == nil {
			continue
		}
		wg.Go(func() { errs[i] = e.shutdown(ctx) })
	}
	wg.Wait()
	<-s.done
	if cc := s.clusterCamp(); cc != nil {
		// The checkouts of this node's campers are in the log by now;
		// Close publishes them and says this node has left.
		errs = append(errs, cc.node.Close(ctx))
	}
	if s.side != nil {
		// The side port answers /healthz with 503 through the drain, and
		// stops once the camp has.
		errs = append(errs, s.side.Shutdown(ctx), <-s.sideDone)
	}
	return errors.Join(errs...)
}

// handler is what an engine needs of its reactor, whatever its service.
type handler interface {
	gnet.EventHandler
	serviceName() string
	booted() <-chan gnet.Engine
	// drain refuses new connections from now on and sends every open one
	// its goodbye; done is closed once none is left.
	drain(ctx context.Context) (done <-chan struct{})
	grace() time.Duration
	logger() *zap.Logger
}

// engine is one gnet engine running one reactor.
type engine struct {
	h    handler
	eng  gnet.Engine
	addr string
	done chan struct{}
	err  error // what gnet.Run returned
}

func startEngine(h handler, addr string, loops int, log *zap.Logger) (*engine, error) {
	e := &engine{h: h, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.err = gnet.Run(h, "tcp://"+addr,
			gnet.WithNumEventLoop(loops),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(log.Sugar().Named("gnet")),
		)
	}()
	select {
	case eng := <-h.booted():
		e.eng = eng
	case <-e.done:
		return nil, fmt.Errorf("listen %s: %w", addr, e.unexpected())
	}
	bound, err := boundAddr(e.eng)
	if err != nil {
		_ = e.stop(context.Background())
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	e.addr = bound
	return e, nil
}

func (e *engine) unexpected() error {
	if e.err != nil {
		return e.err
	}
	return errors.New("gnet.Run returned")
}

// shutdown drains the reactor, bounded by the grace period and ctx, then
// stops the engine.
func (e *engine) shutdown(ctx context.Context) error {
	grace := time.NewTimer(e.h.grace())
	defer grace.Stop()
	ctx, cancel := context.WithTimeout(ctx, e.h.grace())
	defer cancel()
	select {
	case <-e.h.drain(ctx):
	case <-grace.C:
		e.h.logger().Warn("grace period over, closing remaining connections", zap.Duration("grace", e.h.grace()))
	case <-ctx.Done():
	}
	return e.stop(ctx)
}

// stop stops the engine and waits for gnet.Run to return. Engine.Stop polls
// every 500ms; give it that on top of ctx.
func (e *engine) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := e.eng.Stop(ctx)
	select {
	case <-e.done:
	case <-ctx.Done():
		return fmt.Errorf("stop %s service: %w", e.h.serviceName(), ctx.Err())
	}
	return err
}

// boundAddr reads the listener's real address, so that port 0 can be used.
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", fmt.Errorf("dup listener: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("listener address %T: not TCP", sa)
}

// raiseFileLimit lifts the soft open-file limit to the hard one and returns
// the limit in force.
func raiseFileLimit() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	if lim.Cur > 1<<20 {
		return 1 << 20
	}
	return int(lim.Cur)
}
