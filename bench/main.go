package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"campfire/protocol"
)

// Main runs "campfire bench": the load harness, or with -serve-baseline
// the baseline server. It returns the process's exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == workerArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serveWorker(ctx, os.Stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("campfire bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2022", "server `HOST:PORT` (loopback only); with -serve-baseline, where to listen")
	scenario := fs.String("scenario", "peers", "peers, checkin or echo")
	conns := fs.Int("conns", 1000, "connections (checkin: concurrent churners)")
	rateFlag := fs.Float64("rate", 0, "total messages per second offered (peers); 0 is as fast as possible")
	size := fs.Int("size", 64, fmt.Sprintf("message or echo payload `bytes` (at least %d)", StampSize))
	duration := fs.Duration("duration", 10*time.Second, "measured window")
	warmup := fs.Duration("warmup", time.Second, "unmeasured sending before the window")
	depth := fs.Int("depth", 1, "echo payloads in flight per connection")
	ids, _ := protocol.ParseIDRange("J00001-J50000")
	fs.Var(&ids, "ids", "camp id `RANGE`; must match the server's -ids")
	sources := fs.String("sources", "127.0.0.2-127.0.0.40", "local `ADDRS` to dial from, round-robin (ranges and commas; \"\" lets the system choose)")
	pid := fs.Int("server-pid", 0, "sample this `PID`'s RSS and CPU from /proc")
	jsonFile := fs.String("json", "", "also write every figure as JSON to `FILE`")
	baseline := fs.Bool("serve-baseline", false, "run the conventional baseline server instead of the harness")
	compare := fs.String("compare", "", "instead of a run, compare two -json reports: `OURS=FILE,THEIRS=FILE`; exit 3 if a goal is missed")
	bcfg := DefaultBaselineConfig()
	fs.IntVar(&bcfg.MaxPending, "max-pending", bcfg.MaxPending, "baseline: `bytes` waiting for one connection before it is dropped")
	fs.IntVar(&bcfg.MaxConns, "max-conns", bcfg.MaxConns, "baseline: connection cap, 503 above it")
	fs.DurationVar(&bcfg.Idle, "idle", bcfg.Idle, "baseline: close a connection that sends nothing for this long")
	procs := fs.Int("procs", 1, "run the harness as `N` worker processes, merged into one report (one process may open only so many files)")
	htmlFile := fs.String("html", "", "also write the report as a self-contained HTML page to `FILE` (with -compare: every server overlaid)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "campfire bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *compare != "" {
		return compareFiles(*compare, *htmlFile, stdout, stderr)
	}
	if *baseline {
		bcfg.Addr, bcfg.IDs = *addr, ids
		return serveBaseline(ctx, bcfg, stderr)
	}
	sc, err := ParseScenario(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 2
	}
	var srcs []netip.Addr
	if *sources != "" {
		if srcs, err = ParseSources(*sources); err != nil {
			fmt.Fprintf(stderr, "campfire bench: %v\n", err)
			return 2
		}
	}
	cfg := Config{
		Addr: *addr, Scenario: sc, Conns: *conns, Rate: *rateFlag, Size: *size, Depth: *depth,
		Duration: *duration, Warmup: *warmup, IDs: ids, Sources: srcs, ServerPID: *pid,
	}
	cfg.Procs = *procs
	if isTerminal(stdout) {
		cfg.Progress = stdout
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 2
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 1
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 1
	}
	if *jsonFile != "" {
		if err := writeJSONFile(*jsonFile, rep); err != nil {
			fmt.Fprintf(stderr, "campfire bench: %v\n", err)
			return 1
		}
	}
	if *htmlFile != "" {
		if err := writeFile(*htmlFile, func(w io.Writer) error { return rep.WriteHTML(w) }); err != nil {
			fmt.Fprintf(stderr, "campfire bench: %v\n", err)
			return 1
		}
	}
	if rep.Delivered == 0 {
		fmt.Fprintln(stderr, "campfire bench: nothing was delivered")
		return 1
	}
	return 0
}

func writeJSONFile(name string, rep *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a character device (a terminal), where
// a live progress line makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serveBaseline runs the baseline server until ctx is done.
func serveBaseline(ctx context.Context, cfg BaselineConfig, stderr io.Writer) int {
	enc := zap.NewDevelopmentEncoderConfig()
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(stderr), zap.InfoLevel))
	defer func() { _ = log.Sync() }()
	b, err := StartBaseline(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Linger+time.Second)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		log.Error("shutdown", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}
