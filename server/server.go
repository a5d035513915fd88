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

	"campfire/protocol"
)

// Config is the configuration of a server. DefaultConfig gives the values
// documented in the serve command's -h.
type Config struct {
	// Addr is the challenge service's address (the echo service's for
	// StartEcho). Port 0 picks a free port; Server.Addr tells which.
	Addr string
	// EchoAddr, if set, also runs the echo service on that address.
	EchoAddr string
	// KeepOpen makes the echo service keep echoing instead of closing after
	// the first echo.
	KeepOpen bool
	// IDs is the range of valid camp ids.
	IDs protocol.IDRange
	// MaxCampers caps how many campers may be checked in at once; past it
	// checkin answers 503. 0 means no cap beyond the id range.
	MaxCampers int
	// MaxBody is the largest Content-Length accepted (413 above).
	MaxBody int
	// MaxPending is how many bytes of output may wait for a connection that
	// does not read before it is closed as a slow consumer.
	MaxPending int
	// Idle closes a connection that sent nothing for this long.
	Idle time.Duration
	// MaxConns is the connection cap; past it new connections get 503.
	// 0 means the open-file limit less a reserve.
	MaxConns int
	// Loops is the number of gnet event loops. With one, everything runs on
	// it; with more, connections are spread over them and the camp stays on
	// loop 0 (see forward.go).
	Loops int
	// Grace bounds the shutdown drain and how long a connection lingers
	// after its last reply.
	Grace time.Duration
}

// Defaults.
const (
	DefaultAddr       = "0.0.0.0:2022"
	DefaultMaxPending = 4 << 20
	DefaultIdle       = 10 * time.Minute
	DefaultGrace      = 5 * time.Second
	DefaultLoops      = 1
	// fdReserve is kept free below the open-file limit for the listener,
	// epoll, the log and connections refused with 503.
	fdReserve = 256
)

// DefaultConfig returns the defaults: the challenge service on 0.0.0.0:2022
// with ids J001-J384.
func DefaultConfig() Config {
	return Config{
		Addr:       DefaultAddr,
		IDs:        protocol.DefaultIDs(),
		MaxBody:    protocol.DefaultMaxBody,
		MaxPending: DefaultMaxPending,
		Idle:       DefaultIdle,
		Grace:      DefaultGrace,
		Loops:      DefaultLoops,
	}
}

// validate checks cfg and fills MaxConns from the open-file limit.
func (cfg *Config) validate(limit int) error {
	switch {
	case cfg.MaxBody <= 0:
		return fmt.Errorf("max body %d: must be positive", cfg.MaxBody)
	case cfg.MaxPending <= 0:
		return fmt.Errorf("max pending %d: must be positive", cfg.MaxPending)
	case cfg.Idle <= 0:
		return fmt.Errorf("idle %s: must be positive", cfg.Idle)
	case cfg.Grace <= 0:
		return fmt.Errorf("grace %s: must be positive", cfg.Grace)
	case cfg.MaxConns < 0:
		return fmt.Errorf("max conns %d: must not be negative", cfg.MaxConns)
	case cfg.Loops < 1 || cfg.Loops > maxLoops:
		return fmt.Errorf("loops %d: want 1 to %d", cfg.Loops, maxLoops)
	case cfg.MaxCampers < 0:
		return fmt.Errorf("max campers %d: must not be negative", cfg.MaxCampers)
	case cfg.IDs.Digits == 0:
		cfg.IDs = protocol.DefaultIDs()
	}
	capacity := max(limit-fdReserve, 1)
	if cfg.MaxConns == 0 || cfg.MaxConns > capacity {
		cfg.MaxConns = capacity
	}
	return nil
}

// Server is a running challenge service, with the echo service beside it if
// configured, or a lone echo service.
type Server struct {
	main    *engine
	echo    *engine
	stopMu  sync.Mutex
	stopped bool
	done    chan struct{}
	err     error
}

// Start runs the challenge service (and the echo service if cfg.EchoAddr is
// set) and returns once both listen.
func Start(cfg Config, log *zap.Logger) (*Server, error) {
	return start(cfg, log, true)
}

// StartEcho runs only the echo service, on cfg.Addr.
func StartEcho(cfg Config, log *zap.Logger) (*Server, error) {
	return start(cfg, log, false)
}

func start(cfg Config, log *zap.Logger, challenge bool) (*Server, error) {
	limit := raiseFileLimit()
	if err := cfg.validate(limit); err != nil {
		return nil, err
	}
	var main *reactor
	if challenge {
		main = newChallenge(cfg, log.Named("challenge")).r
	} else {
		main = newEcho(cfg, log.Named("echo")).r
	}
	log.Info("starting", zap.String("service", main.name), zap.String("addr", cfg.Addr), zap.Stringer("ids", cfg.IDs),
		zap.Int("loops", cfg.Loops), zap.Int("max_conns", cfg.MaxConns), zap.Int("file_limit", limit))
	s := &Server{done: make(chan struct{})}
	var err error
	if s.main, err = startEngine(main, cfg.Addr, cfg.Loops, log); err != nil {
		return nil, err
	}
	log.Info("listening", zap.String("service", main.name), zap.String("addr", s.main.addr))
	if challenge && cfg.EchoAddr != "" {
		ecfg := cfg
		ecfg.Addr = cfg.EchoAddr
		echo := newEcho(ecfg, log.Named("echo")).r
		if s.echo, err = startEngine(echo, cfg.EchoAddr, cfg.Loops, log); err != nil {
			_ = s.main.stop(context.Background())
			return nil, err
		}
		log.Info("listening", zap.String("service", echo.name), zap.String("addr", s.echo.addr),
			zap.Bool("keep_open", cfg.KeepOpen))
	}
	go s.watch()
	return s, nil
}

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
			errs = append(errs, fmt.Errorf("%s service on %s stopped on its own: %w", e.r.name, e.addr, e.unexpected()))
			// One engine down means the process is broken; stop the other.
			s.beginStop()
			for _, o := range engines {
				if o != nil && o != e {
					_ = o.stop(context.Background())
				}
			}
		}
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
	return errors.Join(errs...)
}

// engine is one gnet engine running one reactor.
type engine struct {
	r    *reactor
	eng  gnet.Engine
	addr string
	done chan struct{}
	err  error // what gnet.Run returned
}

func startEngine(r *reactor, addr string, loops int, log *zap.Logger) (*engine, error) {
	e := &engine{r: r, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.err = gnet.Run(r, "tcp://"+addr,
			gnet.WithNumEventLoop(loops),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(log.Sugar().Named("gnet")),
		)
	}()
	select {
	case eng := <-r.boot:
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
	r := e.r
	r.draining.Store(true)
	if err := r.forEachLoop(ctx, (*loop).drain); err != nil || r.conns.Load() == 0 {
		r.closeDrainDone()
	}
	grace := time.NewTimer(r.linger)
	defer grace.Stop()
	select {
	case <-r.drainDone:
	case <-grace.C:
		r.log.Warn("grace period over, closing remaining connections", zap.Duration("grace", r.linger))
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
		return fmt.Errorf("stop %s service: %w", e.r.name, ctx.Err())
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
