package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"campfire/internal/tlsflag"
	"campfire/protocol"
)

// Scenario is what a run does once connected.
type Scenario uint8

// Scenarios.
const (
	ScenarioPeers   Scenario = iota + 1 // peer-session messages within groups of 4
	ScenarioCheckin                     // connect, check in, check out, repeat
	ScenarioEcho                        // pipelined round trips against the echo service
)

var scenarioNames = map[string]Scenario{"peers": ScenarioPeers, "checkin": ScenarioCheckin, "echo": ScenarioEcho}

// String returns the scenario's flag name.
func (s Scenario) String() string {
	for name, v := range scenarioNames {
		if v == s {
			return name
		}
	}
	return "unknown"
}

// ParseScenario returns the scenario called name.
func ParseScenario(name string) (Scenario, error) {
	s, ok := scenarioNames[name]
	if !ok {
		return 0, fmt.Errorf("unknown scenario %q: want peers, checkin or echo", name)
	}
	return s, nil
}

// Config is one harness run.
type Config struct {
	// Addr is the target on loopback, or several comma-separated (the
	// nodes of one camp, or separate servers): connection i goes to the
	// i-th mod their number.
	Addr     string
	Scenario Scenario
	Conns    int     // connections (peers, echo) or concurrent churners (checkin)
	Rate     float64 // total messages per second (peers); 0 is as fast as possible
	Size     int     // message or echo payload bytes, at least StampSize
	Depth    int     // echo payloads, or peers messages with Rate 0, in flight per connection
	Duration time.Duration
	Warmup   time.Duration
	IDs      protocol.IDRange
	Sources  []netip.Addr // local addresses, round-robin; none: the system's choice
	// ServerPIDs are sampled from /proc for RSS and CPU: the server, or
	// the nodes of a cluster in the order of their addresses in Addr,
	// after a warm-up run of a few connections (see warmServer).
	ServerPIDs []int
	// Progress, if not nil, gets a progress line once a second.
	Progress io.Writer
	// Procs, above 1, splits the connections over that many worker
	// processes, whose figures are merged into one report: one process
	// may not open more files than its limit (see procs.go).
	Procs int
	// Exec is the command that runs this program's bench subcommand, for
	// the workers of Procs; nil means this executable and "bench".
	Exec []string
	// TLS makes every connection speak TLS, to a TLS-terminating proxy in
	// front of the server: the flags, not a *tls.Config, so that the
	// workers of Procs can build their own.
	TLS tlsflag.Flags

	// first is the index of the run's first connection among all of a
	// -procs run's; it picks camp ids, source and server addresses.
	first int
	// worker is set in a worker of a -procs run.
	worker bool
}

// Limits that keep a run bounded whatever the server does.
const (
	dialWorkers  = 64
	dialTimeout  = 5 * time.Second
	setupTimeout = 30 * time.Second
	drainTimeout = 5 * time.Second
	stopTimeout  = 5 * time.Second
	sessionCap   = protocol.MaxPeerSession
)

// run is the state shared by one run's goroutines.
type run struct {
	cfg     Config
	addrs   []string
	dialers *Dialers
	tls     *tls.Config // nil: plain TCP
	coord   coordinator
	// start is the origin of run time, which stamps messages; the workers
	// of a -procs run share it, so a stamp means the same in each.
	start time.Time
	errs  errorCounts
	lat   *Latencies
	// winStart and winEnd bound the measured window in nanoseconds since
	// start; a sample counts if it was sent inside it.
	winStart atomic.Int64
	winEnd   atomic.Int64
	// slotWidth is the span of one slot of the timeline, in nanoseconds.
	slotWidth int64
	// stopping is set once the run tears connections down, after which
	// read and write errors are expected and not counted.
	stopping atomic.Bool
	// closed is set while a closed-loop peers run (-rate 0) sends.
	closed atomic.Pointer[closedLoop]
}

// Run performs one run and reports on it. Errors from the server are
// counted in the report; Run fails only on a bad configuration, when the
// server cannot be sampled, or when a worker process fails.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if len(cfg.ServerPIDs) > 0 && !cfg.worker {
		if err := warmServer(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Procs > 1 {
		return runProcs(ctx, cfg)
	}
	start := time.Now()
	lc := newLocalCoord(cfg, start)
	r, err := newRun(cfg, lc, start)
	if err != nil {
		return nil, err
	}
	rep, err := r.do(ctx)
	if err != nil {
		return nil, err
	}
	if err := lc.probe.report(rep, cfg.Scenario); err != nil {
		return nil, err
	}
	return rep, nil
}

// newRun prepares a run of cfg (checked) that reports its stages to coord.
// It fails only when cfg's TLS CA file cannot be read.
func newRun(cfg Config, coord coordinator, start time.Time) (*run, error) {
	tc, err := cfg.TLS.Config()
	if err != nil {
		return nil, err
	}
	r := &run{
		cfg: cfg, addrs: splitAddrs(cfg.Addr), coord: coord, start: start,
		dialers: NewDialers(cfg.Sources, net.Dialer{Timeout: dialTimeout}), tls: tc,
	}
	r.winStart.Store(math.MaxInt64)
	r.winEnd.Store(math.MaxInt64)
	width, slots := timelineSlots(cfg.Duration)
	r.slotWidth = int64(width)
	r.lat = NewLatencies(16, slots)
	return r, nil
}

// do runs the scenario and reports its figures, without the server's.
func (r *run) do(ctx context.Context) (*Report, error) {
	var rep *Report
	var err error
	switch r.cfg.Scenario {
	case ScenarioPeers:
		rep, err = r.peers(ctx)
	case ScenarioCheckin:
		rep, err = r.churn(ctx)
	case ScenarioEcho:
		rep, err = r.echo(ctx)
	}
	if err != nil {
		return nil, err
	}
	rep.Errors = r.errs.byName()
	if err := rep.setLatencies(r.lat, time.Duration(r.slotWidth)); err != nil {
		return nil, err
	}
	rep.TLS = r.tls != nil
	rep.derive(r.cfg)
	return rep, nil
}

// maxSlots bounds the timeline: a long window gets wider slots.
const maxSlots = 300

// timelineSlots returns the width and number of the timeline's slots for
// a window of d: one second each, or wider for windows over maxSlots
// seconds.
func timelineSlots(d time.Duration) (width time.Duration, n int) {
	width = time.Second
	if d > maxSlots*time.Second {
		width = (d + maxSlots - 1) / maxSlots
		width = (width + time.Second - 1) / time.Second * time.Second
	}
	return width, int((d + width - 1) / width)
}

// splitAddrs splits a comma-separated address list.
func splitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// addrFor returns the server address of connection i.
func (r *run) addrFor(i int) string { return r.addrs[(r.cfg.first+i)%len(r.addrs)] }

// split reports whether the campers of one group may be spread over
// several servers or processes, so that a peer session may already have
// been started by a camper this run does not see.
func (r *run) split() bool { return len(r.addrs) > 1 || r.cfg.worker }

func (c *Config) check() error {
	addrs := splitAddrs(c.Addr)
	if len(addrs) == 0 {
		return fmt.Errorf("address %q: want HOST:PORT[,HOST:PORT...]", c.Addr)
	}
	for _, a := range addrs {
		if err := checkLoopback(a); err != nil {
			return err
		}
	}
	switch {
	case c.Scenario < ScenarioPeers || c.Scenario > ScenarioEcho:
		return fmt.Errorf("unknown scenario %d", c.Scenario)
	case c.Conns < 1:
		return fmt.Errorf("conns %d: want at least 1", c.Conns)
	case c.Scenario != ScenarioEcho && c.first+c.Conns > c.IDs.Size():
		return fmt.Errorf("conns %d: the id range %s holds only %d", c.first+c.Conns, c.IDs, c.IDs.Size())
	case c.Procs < 0:
		return fmt.Errorf("procs %d: want 1 or more", c.Procs)
	case c.Procs > c.Conns:
		return fmt.Errorf("procs %d: more worker processes than the %d connections", c.Procs, c.Conns)
	case c.Size < StampSize || c.Size > protocol.DefaultMaxBody:
		return fmt.Errorf("size %d: want %d..%d bytes", c.Size, StampSize, protocol.DefaultMaxBody)
	case c.Depth < 1:
		return fmt.Errorf("depth %d: want at least 1", c.Depth)
	case c.Duration <= 0 || c.Warmup < 0:
		return fmt.Errorf("duration %v, warmup %v: want a positive duration", c.Duration, c.Warmup)
	case c.Rate < 0:
		return fmt.Errorf("rate %v: want 0 (max) or more", c.Rate)
	case len(c.ServerPIDs) > 1 && len(c.ServerPIDs) != len(addrs):
		return fmt.Errorf("%d server pids for %d addresses: want one pid, or one per address in the same order", len(c.ServerPIDs), len(addrs))
	}
	return c.TLS.Check()
}

// now is the time since the run's start on the monotonic clock.
func (r *run) now() int64 { return int64(time.Since(r.start)) }

// inWindow reports whether a message stamped t was sent in the window.
func (r *run) inWindow(t int64) bool {
	return t >= r.winStart.Load() && t < r.winEnd.Load()
}

// slotOf returns the timeline slot of a sample stamped t inside the window.
func (r *run) slotOf(t int64) int { return int((t - r.winStart.Load()) / r.slotWidth) }

// record times a sample stamped t that was delivered just now.
func (r *run) record(rec *Recorder, t int64) {
	rec.Record(r.slotOf(t), (r.now()-t)/int64(time.Microsecond))
}

// openWindow sets the measured window to start at start (run time) and
// returns the time at which senders stop.
func (r *run) openWindow(start int64) (end int64) {
	end = start + int64(r.cfg.Duration)
	r.winStart.Store(start)
	r.winEnd.Store(end)
	return end
}

// dial opens connection i (of this process's) to addr from its
// round-robin source address, with the TLS handshake when the run speaks
// TLS; the dialer's timeout bounds both.
func (r *run) dial(ctx context.Context, i int, addr string) (net.Conn, error) {
	d := r.dialers.For(r.cfg.first + i)
	if r.tls == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	td := tls.Dialer{NetDialer: d, Config: r.tls}
	return td.DialContext(ctx, "tcp", addr)
}

// connect dials n connections, dialWorkers at a time, each from its
// round-robin source address. Failed dials leave nil and count as ErrDial.
func (r *run) connect(ctx context.Context, n int) ([]net.Conn, time.Duration) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for range min(dialWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := r.dial(ctx, i, r.addrFor(i))
				if err != nil {
					r.errs.add(ErrDial)
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return conns, time.Since(begin)
}

// progress prints a line a second until stop is closed.
func (r *run) progress(stop <-chan struct{}, line func() string) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			fmt.Fprintln(r.cfg.Progress)
			return
		case <-t.C:
			fmt.Fprintf(r.cfg.Progress, "\r%6.1fs %s errors=%d   ", time.Since(r.start).Seconds(), line(), r.errs.total())
		}
	}
}

// startProgress prints the progress line once a second until the returned
// func is called; that func waits for the last line.
func (r *run) startProgress(line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { r.progress(done, line) })
	return func() {
		close(done)
		wg.Wait()
	}
}

// awaitWindow blocks until the measured window opens at winStart (run
// time since start) or ctx ends.
func awaitWindow(ctx context.Context, start time.Time, winStart int64) {
	wait := time.NewTimer(time.Duration(winStart) - time.Since(start))
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-ctx.Done():
	}
}

// whenDone returns a channel closed once wg's goroutines have all returned.
func whenDone(wg *sync.WaitGroup) <-chan struct{} {
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	return ended
}

// closeAll marks the run as stopping and closes every connection, which
// ends their goroutines.
func (r *run) closeAll(conns []net.Conn) {
	r.stopping.Store(true)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// readErr counts a read error unless the run is tearing down: the end of
// the stream is the server closing on us, anything else a failed read.
func (r *run) readErr(err error) {
	switch {
	case r.stopping.Load():
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		r.errs.add(ErrClosed)
	default:
		r.errs.add(ErrRead)
	}
}

// rate is n per seconds, 0 for an empty interval.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// offeredNote says so when the senders could not offer the requested rate.
func offeredNote(offered, requested float64) []string {
	if requested > 0 && offered < 0.97*requested {
		return []string{fmt.Sprintf("offered %.0f/s of requested %.0f/s", offered, requested)}
	}
	return nil
}

// StampSize is the size of the send timestamp at the start of every
// message body and echo payload: nanoseconds since the run's start in
// fixed-width hex, so it can be patched in place.
const StampSize = 16

const hexDigits = "0123456789abcdef"

// putStamp writes t into b[:StampSize].
func putStamp(b []byte, t int64) {
	_ = b[StampSize-1]
	for i := StampSize - 1; i >= 0; i-- {
		b[i] = hexDigits[t&15]
		t >>= 4
	}
}

// readStamp reads a timestamp written by putStamp.
func readStamp(b []byte) (int64, bool) {
	if len(b) < StampSize {
		return 0, false
	}
	var t int64
	for _, c := range b[:StampSize] {
		switch {
		case '0' <= c && c <= '9':
			t = t<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			t = t<<4 | int64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return t, true
}

// payload returns size bytes of filler.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
