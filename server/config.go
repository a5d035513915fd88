package server

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"campfire/protocol"
	"campfire/server/cluster"
	"campfire/server/metrics"
)

// Config is the configuration of a server. DefaultConfig gives the values
// documented in the serve command's -h.
type Config struct {
	// Addr is the camp service's address (the echo service's for
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
	// MaxPending is how many bytes of unsent output a connection may have:
	// over it its input waits, and past SlowTimeout it is closed as a slow
	// consumer.
	MaxPending int
	// SlowTimeout is how long a connection's output may stay over
	// MaxPending before it is closed.
	SlowTimeout time.Duration
	// Idle closes a connection that sent nothing for this long.
	Idle time.Duration
	// FrameTimeout answers 408 and closes a connection whose frame began
	// and is not complete after this long.
	FrameTimeout time.Duration
	// MaxConns is the connection cap; past it new connections get 503.
	// 0 means the open-file limit less a reserve.
	MaxConns int
	// MaxConnsPerIP caps the connections from one client IP; past it new
	// ones get 503. 0 means no cap.
	MaxConnsPerIP int
	// Loops is the number of gnet event loops. With one, everything runs on
	// it; with more, connections are spread over them and the camp stays on
	// loop 0 (see loops.go). 0 means one per CPU the process may use.
	Loops int
	// Grace bounds the shutdown drain and how long a connection lingers
	// after its last reply.
	Grace time.Duration
	// ProxyProtocol makes every connection start with a PROXY protocol
	// header (version 1 or 2) from a source in ProxyTrusted, whose client
	// address then stands for the connection's.
	ProxyProtocol bool
	// ProxyTrusted are the proxies allowed to connect when ProxyProtocol
	// is on (DefaultProxyTrusted if empty).
	ProxyTrusted []netip.Prefix
	// HTTPAddr is the side port of the camp service (metrics, health, the
	// live camp page); "" runs none. HTTPExplicit says the operator chose
	// it: then an address that cannot be bound is an error, while the
	// default, which another server on the machine may hold, only warns.
	HTTPAddr     string
	HTTPExplicit bool
	// HTTPPprof adds Go's profiles (net/http/pprof) to the side port,
	// under /debug/pprof/.
	HTTPPprof bool
	// Metrics, if set, is where the server counts connections, requests,
	// events and bytes; with a side port and no Metrics, Start makes one.
	Metrics *metrics.Metrics
	// Cluster, if set, makes this server one node of a camp spread over
	// many (cluster mode, ordered by a NATS JetStream log).
	Cluster *cluster.Config
	// LogSample samples per-connection log lines (opened, closed, refused,
	// checked in and out): the first 100 of a kind each second, then every
	// 100th, so that a flood cannot flood the log.
	LogSample bool

	// holdAlways makes -loops keep a batch open whenever its receiver has
	// anything waiting (see defaultHoldAt), not only 16 batches or more:
	// tests set it to exercise that path.
	holdAlways bool
	// tick, if set, replaces the sweeps' interval (see reactor.tick):
	// tests that must not be rescued by a sweep set it long.
	tick time.Duration
}

// Defaults.
const (
	DefaultAddr         = "0.0.0.0:2022"
	DefaultMaxPending   = 4 << 20
	DefaultSlowTimeout  = 10 * time.Second
	DefaultIdle         = 10 * time.Minute
	DefaultFrameTimeout = 60 * time.Second
	DefaultGrace        = 5 * time.Second
	// DefaultLoops is one event loop. Since a loop writes once per round,
	// not per callback, one loop on 2 cores shared with the load used 0.73x
	// the CPU per delivery of two at 60,000 deliveries/s, with a tail as
	// short, and delivered as much saturated (server/doc.go, # Loops).
	// -loops 0, one per CPU, is for a machine whose cores the server has to
	// itself.
	DefaultLoops = 1
	// fdReserve is kept free below the open-file limit for the listener,
	// epoll, the log and connections refused with 503.
	fdReserve = 256
)

// DefaultConfig returns the defaults: the camp service on 0.0.0.0:2022
// with ids J001-J384.
func DefaultConfig() Config {
	return Config{
		Addr:         DefaultAddr,
		IDs:          protocol.DefaultIDs(),
		MaxBody:      protocol.DefaultMaxBody,
		MaxPending:   DefaultMaxPending,
		SlowTimeout:  DefaultSlowTimeout,
		Idle:         DefaultIdle,
		FrameTimeout: DefaultFrameTimeout,
		Grace:        DefaultGrace,
		Loops:        DefaultLoops,
		LogSample:    true,
	}
}

// validate checks cfg and fills MaxConns from the open-file limit.
func (cfg *Config) validate(limit int) error {
	switch {
	case cfg.MaxBody <= 0:
		return fmt.Errorf("max body %d: must be positive", cfg.MaxBody)
	case cfg.MaxPending <= 0:
		return fmt.Errorf("max pending %d: must be positive", cfg.MaxPending)
	case cfg.SlowTimeout <= 0:
		return fmt.Errorf("slow timeout %s: must be positive", cfg.SlowTimeout)
	case cfg.Idle <= 0:
		return fmt.Errorf("idle %s: must be positive", cfg.Idle)
	case cfg.FrameTimeout <= 0:
		return fmt.Errorf("frame timeout %s: must be positive", cfg.FrameTimeout)
	case cfg.Grace <= 0:
		return fmt.Errorf("grace %s: must be positive", cfg.Grace)
	case cfg.MaxConns < 0:
		return fmt.Errorf("max conns %d: must not be negative", cfg.MaxConns)
	case cfg.MaxConnsPerIP < 0:
		return fmt.Errorf("max conns per ip %d: must not be negative", cfg.MaxConnsPerIP)
	case cfg.Loops < 0 || cfg.Loops > maxLoops:
		return fmt.Errorf("loops %d: want 0 (one per CPU) to %d", cfg.Loops, maxLoops)
	case cfg.MaxCampers < 0:
		return fmt.Errorf("max campers %d: must not be negative", cfg.MaxCampers)
	case cfg.IDs.Digits == 0:
		cfg.IDs = protocol.DefaultIDs()
	}
	if cfg.ProxyProtocol && len(cfg.ProxyTrusted) == 0 {
		cfg.ProxyTrusted, _ = ParsePrefixes(DefaultProxyTrusted)
	}
	if cfg.Loops == 0 {
		cfg.Loops = min(runtime.GOMAXPROCS(0), maxLoops)
	}
	capacity := max(limit-fdReserve, 1)
	if cfg.MaxConns == 0 || cfg.MaxConns > capacity {
		cfg.MaxConns = capacity
	}
	return nil
}

// maxFrameBytes is the most input one frame may take: a start line and
// MaxHeaders header lines, each at most MaxLine bytes and a CRLF, an empty
// line and the largest body.
func maxFrameBytes(maxBody int) int {
	return (protocol.MaxHeaders+1)*(protocol.MaxLine+2) + 2 + maxBody
}
