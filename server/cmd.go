package server

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"campfire/internal/cli"
	"campfire/internal/envflag"
	"campfire/server/cluster"
	"campfire/server/web"
)

// Serve is the serve command: it runs the challenge service until SIGINT or
// SIGTERM and returns the exit code (2 for bad flags, 1 for a failure).
func Serve(args []string, stdout, stderr io.Writer) int {
	return runCommand("serve", args, stdout, stderr, true)
}

// Echo is the echo command: it runs the echo service alone.
func Echo(args []string, stdout, stderr io.Writer) int {
	return runCommand("echo", args, stdout, stderr, false)
}

// serveGCPercent is the GC target of serve and echo unless GOGC is set.
const serveGCPercent = 25

// About texts of the two commands, for -h.
const (
	aboutServe = `Run the challenge server (CAMP/1.0, described in docs/PROTOCOL.md) until
SIGINT or SIGTERM. With -echo-addr the echo service runs beside it.`
	aboutEcho = `Run the echo service alone until SIGINT or SIGTERM: it sends back what a
client sent, once at least 4 bytes are waiting (at most 1024), then closes
the connection, or with -keep-open keeps echoing.`
)

func runCommand(name string, args []string, stdout, stderr io.Writer, challenge bool) int {
	cfg := DefaultConfig()
	about, loopsHelp := aboutEcho, "gnet event loops, or 0 for one per CPU the process may use"
	if challenge {
		about, loopsHelp = aboutServe, "gnet event loops, or 0 for one per CPU the process may use; with more than one, connections are spread over them and the camp stays on the first"
	}
	cmd := cli.New("campfire "+name, about, stdout, stderr)
	fs := cmd.Flags
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "listen address `HOST:PORT`")
	if challenge {
		fs.StringVar(&cfg.EchoAddr, "echo-addr", "", "also run the echo service on `HOST:PORT`")
		fs.BoolVar(&cfg.KeepOpen, "echo-keep-open", false, "with -echo-addr: keep echoing instead of closing after the first echo")
		fs.Var(&cfg.IDs, "ids", "valid camp ids: a `RANGE` such as J00001-J50000")
		fs.IntVar(&cfg.MaxCampers, "max-campers", 0, "campers checked in at once, 503 to checkin above it (0: no cap but the id range)")
		fs.IntVar(&cfg.MaxBody, "max-body", cfg.MaxBody, "largest request body in `bytes` (413 above)")
	} else {
		fs.BoolVar(&cfg.KeepOpen, "keep-open", false, "keep echoing until the client leaves, instead of closing after the first echo")
	}
	fs.IntVar(&cfg.MaxPending, "max-pending", cfg.MaxPending, "`bytes` of unsent output a connection may have; over it its input waits")
	fs.DurationVar(&cfg.SlowTimeout, "slow-timeout", cfg.SlowTimeout, "close a connection whose unsent output stays over -max-pending this long (a slow consumer)")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "close a connection that sends nothing for this long")
	if challenge {
		fs.DurationVar(&cfg.FrameTimeout, "frame-timeout", cfg.FrameTimeout, "answer 408 and close when a frame has begun and is not complete after this long")
	}
	// The echo port never writes a CAMP frame: it refuses by closing.
	refused := "503 above it"
	if !challenge {
		refused = "closed above it"
	}
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "connection cap, "+refused+" (0: the open-file limit less 256)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", 0, "connections from one client IP, "+refused+" (0: no cap)")
	fs.BoolVar(&cfg.ProxyProtocol, "proxy-protocol", false, "every connection starts with a PROXY protocol header (v1 or v2) from a trusted proxy")
	trustedFlag := fs.String("proxy-trusted", DefaultProxyTrusted, "with -proxy-protocol: the proxies allowed to connect, as `CIDR[,CIDR...]`")
	fs.BoolVar(&cfg.LogSample, "log-sample", cfg.LogSample, "sample per-connection log lines (the first 100 a second of each kind, then every 100th)")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, loopsHelp)
	fs.DurationVar(&cfg.Grace, "grace", cfg.Grace, "shutdown drain bound, and how long a closing connection waits for the client")
	level := zap.InfoLevel
	fs.Var(&level, "log-level", "log level: debug, info, warn or error (default info)")
	format := fs.String("log-format", "console", "log format: console or json")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until shutdown")
	ccfg := cluster.DefaultConfig()
	if challenge {
		ccfg.RegisterFlags(fs)
		fs.StringVar(&cfg.HTTPAddr, "http-addr", web.DefaultAddr,
			"side port for /metrics, /healthz, /api/camp and the live camp page, `HOST:PORT` (empty: none; the default, if taken, only warns)")
		fs.BoolVar(&cfg.HTTPPprof, "http-pprof", false, "also serve Go's runtime profiles (heap, CPU, goroutines) on the side port under /debug/pprof/")
	}
	// Every flag may also come from the environment as CAMPFIRE_<FLAG>;
	// the command line wins.
	if code, ok := cmd.ParseEnv(args, "CAMPFIRE", os.LookupEnv); !ok {
		return code
	}
	cfg.HTTPExplicit = envflag.IsSet(fs, "http-addr")
	if challenge && (ccfg.Cluster != "" || ccfg.Node != "" || clusterFlagSet(fs)) {
		if err := ccfg.Validate(); err != nil {
			return cmd.Usagef("%v", err)
		}
		cfg.Cluster = &ccfg
	}
	trustedProxies, err := ParsePrefixes(*trustedFlag)
	if err != nil {
		return cmd.Usagef("-proxy-trusted: %v", err)
	}
	cfg.ProxyTrusted = trustedProxies
	if *format != "console" && *format != "json" {
		return cmd.Usagef("-log-format %q: want console or json", *format)
	}
	if cfg.KeepOpen && challenge && cfg.EchoAddr == "" {
		return cmd.Usagef("-echo-keep-open needs -echo-addr: it sets how the echo service beside the server behaves")
	}
	if err := cfg.validate(raiseFileLimit()); err != nil {
		return cmd.Usagef("%v", err)
	}
	if os.Getenv("GOGC") == "" {
		// Nothing on the hot path allocates, so a lower GC target costs
		// next to no CPU and keeps the heap close to what is live: about
		// 130 bytes less RSS per connection at 19,000 connections. GOGC
		// in the environment overrides it.
		debug.SetGCPercent(serveGCPercent)
	}
	log, err := newLogger(stderr, level, *format)
	if err != nil {
		return cmd.Errorf("%v", err)
	}
	defer func() { _ = log.Sync() }()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Error("cpu profile", zap.Error(err))
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("cpu profile", zap.Error(err))
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	start := Start
	if !challenge {
		start = StartEcho
	}
	s, err := start(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		stop()
		log.Info("shutting down", zap.Duration("grace", cfg.Grace))
		if err := s.Shutdown(context.Background()); err != nil {
			log.Error("shutdown", zap.Error(err))
			return 1
		}
		log.Info("stopped")
		return 0
	case <-s.Done():
		log.Error("server stopped unexpectedly", zap.Error(s.Err()))
		return 1
	}
}

func newLogger(w io.Writer, level zapcore.Level, format string) (*zap.Logger, error) {
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("log format %q: want console or json", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

// clusterFlagSet reports whether a cluster-only flag was given, so that
// one without -cluster is an error rather than silently ignored.
func clusterFlagSet(fs *flag.FlagSet) bool {
	for _, name := range []string{"nats", "nats-listen", "nats-route-listen", "nats-routes", "nats-store", "replicas", "node-timeout", "cluster-timeout"} {
		if envflag.IsSet(fs, name) {
			return true
		}
	}
	return false
}
