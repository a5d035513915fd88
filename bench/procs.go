package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"campfire/internal/tlsflag"
	"campfire/protocol"
)

// A -procs run splits its connections over worker processes, because one
// process may hold only so many files. Each worker is this program again
// ("campfire bench" with the hidden workerArg), runs its share of the
// scenario and talks to the parent in lines over its stdin and stdout:
//
//	parent → worker   a workerSpec as JSON, then one "go" per stage
//	                  ("go START" for ready: the window's start)
//	worker → parent   the name of each stage it reaches, then
//	                  "report " and its Report as JSON
//
// The parent holds every worker at every stage until all have reached
// it, samples the server there, and merges the reports. All share one
// origin of run time, so a message stamped in one worker and delivered in
// another is timed right.

// workerArg is the hidden first argument that makes "campfire bench" a
// worker of a -procs run.
const workerArg = "-procs-worker"

// Limits of the worker protocol.
const (
	maxWorkerLine  = 64 << 20 // a report with its histograms fits
	workerStopWait = 10 * time.Second
	stderrTail     = 4096
)

// workerSpec is a worker's share of a -procs run.
type workerSpec struct {
	Addr     string        `json:"addr"`
	Scenario string        `json:"scenario"`
	Conns    int           `json:"conns"`
	First    int           `json:"first"`
	Rate     float64       `json:"rate"`
	Size     int           `json:"size"`
	Depth    int           `json:"depth"`
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
	IDs      string        `json:"ids"`
	Sources  []netip.Addr  `json:"sources"`
	TLS      tlsflag.Flags `json:"tls"`
	// Elapsed is the parent's run time when it wrote the spec, and Wall
	// the wall clock then (Unix ns): the worker's origin of run time is
	// its monotonic now less Elapsed and less the wall time since.
	Elapsed time.Duration `json:"elapsed"`
	Wall    int64         `json:"wall_unix_ns"`
}

// shares splits n connections over procs workers, the first ones taking
// one more when it does not divide.
func shares(n, procs int) []int {
	out := make([]int, procs)
	for i := range out {
		out[i] = n / procs
		if i < n%procs {
			out[i]++
		}
	}
	return out
}

// runProcs runs cfg over cfg.Procs worker processes.
func runProcs(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	p := newProbe(cfg.ServerPIDs)
	p.atStart()
	ws, err := startWorkers(cfg, start)
	if err != nil {
		return nil, err
	}
	defer ws.stop()
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "%6.1fs %d workers: "+format+"\n", append([]any{time.Since(start).Seconds(), len(ws)}, args...)...)
		}
	}
	for _, s := range []stage{stageConnected, stageCheckedIn} {
		if err := ws.await(ctx, s); err != nil {
			return nil, err
		}
		say("%s", s)
		if s == stageCheckedIn {
			p.atCheckedIn()
		}
		ws.release("go")
	}
	if err := ws.await(ctx, stageReady); err != nil {
		return nil, err
	}
	win := int64(time.Since(start) + cfg.Warmup)
	ws.release("go " + strconv.FormatInt(win, 10))
	say("sending; the window opens in %v", cfg.Warmup)
	awaitWindow(ctx, start, win)
	p.atOpened()
	if err := ws.await(ctx, stageDrained); err != nil {
		return nil, err
	}
	p.atEnd()
	say("drained")
	ws.release("go")
	parts, err := ws.reports(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := mergeReports(cfg, parts)
	if err != nil {
		return nil, err
	}
	rep.TLS = cfg.TLS.On
	if err := p.report(rep, cfg.Scenario); err != nil {
		return nil, err
	}
	return rep, nil
}

// worker is the parent's handle on one worker process.
type worker struct {
	id    int
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string   // stdout, line by line; closed at its end
	quit  chan struct{} // closed by stop: the reader gives up sending
	done  chan struct{} // closed once the process has been waited for
	err   error         // its exit, once done
	tail  *tailWriter
}

type workers []*worker

// startWorkers starts cfg.Procs workers and sends each its share.
func startWorkers(cfg Config, start time.Time) (workers, error) {
	argv := cfg.Exec
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start workers: %w", err)
		}
		argv = []string{exe, "bench"}
	}
	var ws workers
	first := 0
	for i, n := range shares(cfg.Conns, cfg.Procs) {
		w, err := startWorker(i, argv)
		if err != nil {
			ws.stop()
			return nil, err
		}
		ws = append(ws, w)
		spec := workerSpec{
			Addr: cfg.Addr, Scenario: cfg.Scenario.String(), Conns: n, First: first,
			Rate: cfg.Rate * float64(n) / float64(cfg.Conns), Size: cfg.Size, Depth: cfg.Depth,
			Duration: cfg.Duration, Warmup: cfg.Warmup, IDs: cfg.IDs.String(), Sources: cfg.Sources, TLS: cfg.TLS,
		}
		now := time.Now()
		spec.Elapsed, spec.Wall = now.Sub(start), now.UnixNano()
		b, err := json.Marshal(spec)
		if err != nil {
			ws.stop()
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		if _, err := w.in.Write(append(b, '\n')); err != nil {
			ws.stop() // and so wait for the worker's last words
			return nil, fmt.Errorf("worker %d: send its share: %w%s", i, err, w.stderr())
		}
		first += n
	}
	return ws, nil
}

func startWorker(id int, argv []string) (*worker, error) {
	cmd := exec.Command(argv[0], append(argv[1:len(argv):len(argv)], workerArg)...)
	w := &worker{id: id, cmd: cmd, lines: make(chan string, 4), quit: make(chan struct{}), done: make(chan struct{}), tail: &tailWriter{}}
	cmd.Stderr = w.tail
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", id, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", id, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("worker %d: start %s: %w", id, argv[0], err)
	}
	w.in = in
	go w.read(out)
	return w, nil
}

// read passes the worker's stdout on line by line, then waits for the
// process; it ends once the worker's stdout closes.
func (w *worker) read(out io.Reader) {
	defer close(w.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), maxWorkerLine)
	for sc.Scan() {
		select {
		case w.lines <- sc.Text():
		case <-w.quit:
			_, _ = io.Copy(io.Discard, out)
			w.err = w.cmd.Wait()
			return
		}
	}
	close(w.lines)
	if err := sc.Err(); err != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	w.err = w.cmd.Wait()
}

// next returns the worker's next line.
func (w *worker) next(ctx context.Context) (string, error) {
	select {
	case line, ok := <-w.lines:
		if !ok {
			<-w.done
			return "", fmt.Errorf("worker %d exited (%v)%s", w.id, w.err, w.stderr())
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stderr is the end of what the worker wrote to stderr, for an error.
func (w *worker) stderr() string {
	if s := strings.TrimSpace(w.tail.String()); s != "" {
		return ": " + s
	}
	return ""
}

// await returns once every worker has reached s.
func (ws workers) await(ctx context.Context, s stage) error {
	for _, w := range ws {
		line, err := w.next(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", s, err)
		}
		if line != s.String() {
			return fmt.Errorf("worker %d: said %q, want %q%s", w.id, snippet(line), s, w.stderr())
		}
	}
	return nil
}

// release sends every worker the go-ahead line. A worker that cannot take
// it has exited, which the next await reports.
func (ws workers) release(line string) {
	for _, w := range ws {
		_, _ = io.WriteString(w.in, line+"\n")
	}
}

// reports reads every worker's report.
func (ws workers) reports(ctx context.Context) ([]*Report, error) {
	out := make([]*Report, len(ws))
	for i, w := range ws {
		line, err := w.next(ctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for the report: %w", err)
		}
		body, ok := strings.CutPrefix(line, "report ")
		if !ok {
			return nil, fmt.Errorf("worker %d: said %q, want its report%s", w.id, snippet(line), w.stderr())
		}
		out[i] = &Report{}
		if err := json.Unmarshal([]byte(body), out[i]); err != nil {
			return nil, fmt.Errorf("worker %d: report: %w", w.id, err)
		}
	}
	return out, nil
}

// stop closes every worker's stdin, which ends a worker still running,
// and waits for them, killing any that outlast workerStopWait.
func (ws workers) stop() {
	for _, w := range ws {
		w.in.Close()
		close(w.quit)
	}
	limit := time.NewTimer(workerStopWait)
	defer limit.Stop()
	for _, w := range ws {
		select {
		case <-w.done:
		case <-limit.C:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
}

func snippet(s string) string { return s[:min(len(s), 60)] }

// tailWriter keeps the last stderrTail bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// serveWorker runs one worker of a -procs run: its share arrives on stdin
// and its report leaves on stdout. It returns the process's exit code.
func serveWorker(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan string)
	// The parent closing stdin, early or at the end, ends the run.
	go func() {
		defer cancel()
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "campfire bench worker: %v\n", err)
		return 1
	}
	var first string
	select {
	case first = <-lines:
	case <-ctx.Done():
		return fail(errors.New("no share from the parent"))
	}
	var spec workerSpec
	if err := json.Unmarshal([]byte(first), &spec); err != nil {
		return fail(fmt.Errorf("share: %w", err))
	}
	cfg, err := spec.config()
	if err != nil {
		return fail(err)
	}
	r, err := newRun(cfg, &workerCoord{in: lines, out: stdout}, spec.start(time.Now()))
	if err != nil {
		return fail(err)
	}
	rep, err := r.do(ctx)
	if err != nil {
		return fail(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return fail(err)
	}
	if _, err := fmt.Fprintf(stdout, "report %s\n", b); err != nil {
		return fail(err)
	}
	return 0
}

// start returns the parent's origin of run time on this process's
// monotonic clock, now being the time the spec was read: the parent's run
// time when it wrote the spec, plus the wall time since, back from now.
func (s workerSpec) start(now time.Time) time.Time {
	return now.Add(-s.Elapsed - time.Duration(now.UnixNano()-s.Wall))
}

// config returns the worker's Config, checked.
func (s workerSpec) config() (Config, error) {
	sc, err := ParseScenario(s.Scenario)
	if err != nil {
		return Config{}, err
	}
	ids, err := protocol.ParseIDRange(s.IDs)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Addr: s.Addr, Scenario: sc, Conns: s.Conns, Rate: s.Rate, Size: s.Size, Depth: s.Depth,
		Duration: s.Duration, Warmup: s.Warmup, IDs: ids, Sources: s.Sources, TLS: s.TLS, first: s.First, worker: true,
	}
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// workerCoord is the coordinator of a worker: it tells the parent each
// stage and waits for the go-ahead.
type workerCoord struct {
	in  <-chan string
	out io.Writer
}

func (c *workerCoord) reach(ctx context.Context, s stage) error {
	_, err := c.hold(ctx, s)
	return err
}

func (c *workerCoord) windowStart(ctx context.Context) (int64, error) {
	arg, err := c.hold(ctx, stageReady)
	if err != nil {
		return 0, err
	}
	start, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("window start %q: %w", arg, err)
	}
	return start, nil
}

func (c *workerCoord) windowOpen(context.Context) {}

// hold reports s and returns the argument of the parent's "go".
func (c *workerCoord) hold(ctx context.Context, s stage) (string, error) {
	if _, err := fmt.Fprintln(c.out, s); err != nil {
		return "", fmt.Errorf("report %s: %w", s, err)
	}
	select {
	case line := <-c.in:
		arg, ok := strings.CutPrefix(line, "go")
		if !ok {
			return "", fmt.Errorf("at %s the parent said %q, want go", s, snippet(line))
		}
		return strings.TrimSpace(arg), nil
	case <-ctx.Done():
		return "", fmt.Errorf("at %s: %w", s, context.Cause(ctx))
	}
}
