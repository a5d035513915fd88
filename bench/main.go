package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"campfire/internal/cli"
	"campfire/internal/tlsflag"
	"campfire/protocol"
)

// about is what bench -h says before the flags.
const about = `Load-test a CAMP/1.0 server on loopback and report throughput, latency
and, with -server-pid, the server's memory and CPU. Scenarios: peers
(messages in peer sessions, groups of 4), checkin (connect, check in, check
out, repeat), echo (round trips against the echo service). -ids must be the
server's -ids; bench checks the first and last id it will use before it
starts. With -serve-baseline it runs the conventional server instead, and
with -compare it compares -json reports. With -tls it connects through a
TLS-terminating proxy in front of the server (see docs/deploy).`

// Main runs "campfire bench": the load harness, or with -serve-baseline
// the baseline server. It returns the process's exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == workerArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serveWorker(ctx, os.Stdin, stdout, stderr)
	}
	cmd := cli.New("campfire bench", about, stdout, stderr)
	fs := cmd.Flags
	addr := fs.String("addr", "127.0.0.1:2022", "server `HOST:PORT` (loopback only); with -serve-baseline, where to listen")
	scenario := fs.String("scenario", "peers", "peers, checkin or echo")
	conns := fs.Int("conns", protocol.DefaultIDs().Size(), "connections (checkin: concurrent churners); at most the number of ids in -ids")
	rateFlag := fs.Float64("rate", 0, "total messages per second offered (peers); 0 is closed loop: each sender keeps -depth messages unanswered")
	size := fs.Int("size", 64, fmt.Sprintf("message or echo payload `bytes` (at least %d)", StampSize))
	duration := fs.Duration("duration", 10*time.Second, "measured window")
	warmup := fs.Duration("warmup", time.Second, "unmeasured sending before the window")
	depth := fs.Int("depth", 1, "echo payloads in flight per connection, and with -rate 0 peers messages in flight per sending connection")
	ids := protocol.DefaultIDs()
	fs.Var(&ids, "ids", "camp id `RANGE`; must be the server's -ids")
	sources := fs.String("sources", "127.0.0.2-127.0.0.40", "local `ADDRS` to dial from, round-robin (ranges and commas; \"\" lets the system choose)")
	pids := fs.String("server-pid", "", "sample this `PID[,PID…]`'s RSS and CPU from /proc (several: the nodes of a cluster, in -addr's order, summed)")
	jsonFile := fs.String("json", "", "also write every figure as JSON to `FILE`")
	baseline := fs.Bool("serve-baseline", false, "run the conventional baseline server instead of the harness")
	compare := fs.String("compare", "", "instead of a run, compare two -json reports: `OURS=FILE,THEIRS=FILE`; exit 3 if a goal is missed")
	bcfg := DefaultBaselineConfig()
	fs.IntVar(&bcfg.MaxPending, "max-pending", bcfg.MaxPending, "baseline: `bytes` waiting for one connection before it is dropped")
	fs.IntVar(&bcfg.MaxConns, "max-conns", bcfg.MaxConns, "baseline: connection cap, 503 above it")
	fs.DurationVar(&bcfg.Idle, "idle", bcfg.Idle, "baseline: close a connection that sends nothing for this long")
	procs := fs.Int("procs", 1, "run the harness as `N` worker processes, merged into one report (one process may open only so many files)")
	var tf tlsflag.Flags
	tf.Register(fs)
	htmlFile := fs.String("html", "", "also write the report as a self-contained HTML page to `FILE` (with -compare: every server overlaid)")
	if code, ok := cmd.Parse(args); !ok {
		return code
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
		return cmd.Usagef("%v", err)
	}
	serverPIDs, err := ParsePIDs(*pids)
	if err != nil {
		return cmd.Usagef("%v", err)
	}
	var srcs []netip.Addr
	if *sources != "" {
		if srcs, err = ParseSources(*sources); err != nil {
			return cmd.Usagef("%v", err)
		}
	}
	cfg := Config{
		Addr: *addr, Scenario: sc, Conns: *conns, Rate: *rateFlag, Size: *size, Depth: *depth,
		Duration: *duration, Warmup: *warmup, IDs: ids, Sources: srcs, ServerPIDs: serverPIDs, TLS: tf,
	}
	cfg.Procs = *procs
	if isTerminal(stdout) {
		cfg.Progress = stdout
	}
	if err := cfg.check(); err != nil {
		return cmd.Usagef("%v", err)
	}
	if _, err := tf.Config(); err != nil {
		return cmd.Usagef("%v", err)
	}
	tf.Warn(stderr)
	if err := CheckIDs(ctx, cfg); err != nil {
		var ire *IDRangeError
		if errors.As(err, &ire) {
			return cmd.Usagef("%v", err)
		}
		return cmd.Errorf("%v", err)
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		return cmd.Errorf("%v", err)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return cmd.Errorf("%v", err)
	}
	if *jsonFile != "" {
		if err := writeJSONFile(*jsonFile, rep); err != nil {
			return cmd.Errorf("%v", err)
		}
	}
	if *htmlFile != "" {
		if err := writeFile(*htmlFile, func(w io.Writer) error { return rep.WriteHTML(w) }); err != nil {
			return cmd.Errorf("%v", err)
		}
	}
	if rep.Delivered == 0 {
		return cmd.Errorf("nothing was delivered")
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

// ParsePIDs parses -server-pid: process ids separated by commas; "" and
// "0" are none.
func ParsePIDs(s string) ([]int, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("-server-pid: bad pid %q", f)
		}
		if slices.Contains(out, pid) {
			return nil, fmt.Errorf("-server-pid: pid %d twice", pid)
		}
		out = append(out, pid)
	}
	return out, nil
}
