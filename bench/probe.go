package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sort"
	"time"
)

// stage is a point of a run at which its coordinator samples the server,
// or holds every worker of a -procs run until all have reached it.
type stage uint8

// Stages, in the order every scenario passes them.
const (
	stageConnected stage = iota + 1 // connections dialled (checkin: none)
	stageCheckedIn                  // campers checked in (echo, checkin: at once)
	stageReady                      // sessions started; senders wait for the window
	stageDrained                    // sending over and answers drained
)

var stageNames = [...]string{stageConnected: "connected", stageCheckedIn: "checked-in", stageReady: "ready", stageDrained: "drained"}

// String returns the stage's name, which is also its line in the worker
// protocol.
func (s stage) String() string {
	if s == 0 || int(s) >= len(stageNames) {
		return "unknown"
	}
	return stageNames[s]
}

// coordinator hears a run's stages. In one process it samples the server
// as they pass; in a worker of a -procs run it tells the parent and waits
// for the go-ahead, so that every worker opens the same window.
type coordinator interface {
	// reach reports stage s (any but stageReady) and returns when the run
	// may go on.
	reach(ctx context.Context, s stage) error
	// windowStart reports stageReady and returns when the measured window
	// opens, in run time; senders start at once and warm up until then.
	windowStart(ctx context.Context) (int64, error)
	// windowOpen returns once the window has opened and been sampled, or
	// at once where nothing is sampled.
	windowOpen(ctx context.Context)
}

// localCoord is the coordinator of a run in one process.
type localCoord struct {
	cfg   Config
	start time.Time
	probe *probe
	win   int64
}

// newLocalCoord samples the server before the run starts.
func newLocalCoord(cfg Config, start time.Time) *localCoord {
	p := newProbe(cfg.ServerPIDs)
	p.self = true
	p.atStart()
	return &localCoord{cfg: cfg, start: start, probe: p}
}

func (c *localCoord) reach(_ context.Context, s stage) error {
	switch s {
	case stageCheckedIn:
		c.probe.atCheckedIn()
	case stageDrained:
		c.probe.atEnd()
	}
	return nil
}

func (c *localCoord) windowStart(context.Context) (int64, error) {
	c.win = int64(time.Since(c.start) + c.cfg.Warmup)
	return c.win, nil
}

func (c *localCoord) windowOpen(ctx context.Context) {
	awaitWindow(ctx, c.start, c.win)
	c.probe.atOpened()
}

// probe samples the server's processes (if it has pids: one, or the nodes
// of a cluster) and the machine's CPU times at the stages of a run: RSS
// before the run and once everyone is checked in; CPU, per-thread
// scheduling and steal over the window.
type probe struct {
	nodes []*nodeProbe
	err   error

	openedAt, endAt   time.Time
	cpuOpened, cpuEnd CPUStat
	cpuErr            error
	// The harness's own process (a run of one process only).
	self                bool
	selfOpened, selfEnd ProcSample
}

// nodeProbe is the samples of one server process.
type nodeProbe struct {
	pid                            int
	before, checkedIn, opened, end ProcSample
	threadsOpened, threadsEnd      map[int]ThreadSample
}

// newProbe returns a probe of the processes pids (none: the machine only).
func newProbe(pids []int) *probe {
	p := &probe{}
	for _, pid := range pids {
		p.nodes = append(p.nodes, &nodeProbe{pid: pid})
	}
	return p
}

func (p *probe) sample(n *nodeProbe) ProcSample {
	if p.err != nil {
		return ProcSample{}
	}
	s, err := SampleProc(n.pid)
	if err != nil {
		p.err = err
	}
	return s
}

func (p *probe) threads(n *nodeProbe) map[int]ThreadSample {
	if p.err != nil {
		return nil
	}
	ts, err := SampleThreads(n.pid)
	if err != nil {
		p.err = err
	}
	return ts
}

func (p *probe) cpu() CPUStat {
	s, err := SampleCPUStat()
	if err != nil && p.cpuErr == nil {
		p.cpuErr = err
	}
	return s
}

func (p *probe) atStart() {
	for _, n := range p.nodes {
		n.before = p.sample(n)
	}
}

func (p *probe) atCheckedIn() {
	for _, n := range p.nodes {
		n.checkedIn = p.sample(n)
	}
}

func (p *probe) atOpened() {
	p.openedAt = time.Now()
	p.cpuOpened = p.cpu()
	p.selfOpened = p.sampleSelf()
	for _, n := range p.nodes {
		n.opened = p.sample(n)
		n.threadsOpened = p.threads(n)
	}
}

func (p *probe) atEnd() {
	p.endAt = time.Now()
	p.cpuEnd = p.cpu()
	p.selfEnd = p.sampleSelf()
	for _, n := range p.nodes {
		n.end = p.sample(n)
		n.threadsEnd = p.threads(n)
	}
}

// sampleSelf samples the harness's own process; a failure leaves its
// figures out.
func (p *probe) sampleSelf() ProcSample {
	if !p.self {
		return ProcSample{}
	}
	s, err := SampleProc(os.Getpid())
	if err != nil {
		p.self = false
	}
	return s
}

// others sets rep's share of the machine that neither the servers nor
// this harness used, and the harness's CPU, over the window.
func (p *probe) others(rep *Report) {
	total := p.cpuEnd.Total - p.cpuOpened.Total
	if !p.self || p.cpuErr != nil || total <= 0 {
		return
	}
	harness := p.selfEnd.CPU - p.selfOpened.CPU
	used := total - (p.cpuEnd.Idle - p.cpuOpened.Idle) - (p.cpuEnd.Steal - p.cpuOpened.Steal) - harness
	for _, n := range p.nodes {
		used -= n.end.CPU - n.opened.CPU
	}
	rep.HarnessCPU = harness.Seconds()
	rep.Others = max(float64(used)/float64(total), 0)
}

// topThreads is how many of the server's busiest threads a report keeps.
const topThreads = 4

// report adds the machine's and the server's figures over the window to
// rep, whose counts must be final. It fails if the server could not be
// sampled. With several pids, rep.Nodes has each one's figures and
// rep.Server their sum.
func (p *probe) report(rep *Report, sc Scenario) error {
	if p.err != nil {
		return p.err
	}
	if p.cpuErr != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no machine CPU figures: %v", p.cpuErr))
	} else if total := p.cpuEnd.Total - p.cpuOpened.Total; total > 0 {
		rep.Steal = float64(p.cpuEnd.Steal-p.cpuOpened.Steal) / float64(total)
		rep.Busy = 1 - float64(p.cpuEnd.Idle-p.cpuOpened.Idle)/float64(total)
	}
	p.others(rep)
	if len(p.nodes) == 0 {
		return nil
	}
	held := 0
	switch sc {
	case ScenarioPeers:
		held = rep.CheckedIn
	case ScenarioEcho:
		held = rep.Connected
	}
	wall := p.endAt.Sub(p.openedAt).Seconds()
	// Connection i goes to the i-th address mod their number, so with as
	// many pids as addresses in the same order, node k holds shares[k].
	held1 := shares(held, len(p.nodes))
	sum := &nodeProbe{threadsOpened: map[int]ThreadSample{}, threadsEnd: map[int]ThreadSample{}}
	for k, n := range p.nodes {
		f := n.figures(held1[k], wall, rep.Delivered)
		if len(p.nodes) == 1 {
			rep.Server = f
			return nil
		}
		rep.Nodes = append(rep.Nodes, f)
		sum.add(n)
	}
	f := sum.figures(held, wall, rep.Delivered)
	for _, n := range p.nodes {
		f.PIDs = append(f.PIDs, n.pid)
	}
	rep.Server = f
	return nil
}

// add adds o's samples to n's (the threads of different processes have
// different ids).
func (n *nodeProbe) add(o *nodeProbe) {
	for _, s := range []struct{ to, from *ProcSample }{
		{&n.before, &o.before}, {&n.checkedIn, &o.checkedIn}, {&n.opened, &o.opened}, {&n.end, &o.end},
	} {
		s.to.RSS += s.from.RSS
		s.to.CPU += s.from.CPU
		s.to.User += s.from.User
	}
	maps.Copy(n.threadsOpened, o.threadsOpened)
	maps.Copy(n.threadsEnd, o.threadsEnd)
}

// figures returns n's figures for held connections and delivered
// messages over wall seconds.
func (n *nodeProbe) figures(held int, wall float64, delivered int64) *ServerFigures {
	f := &ServerFigures{
		PID: n.pid, RSSBefore: n.before.RSS, RSSCheckedIn: n.checkedIn.RSS, RSSEnd: n.end.RSS, Wall: wall,
	}
	if held > 0 {
		f.RSSPerConn = float64(n.checkedIn.RSS-n.before.RSS) / float64(held)
	}
	cpu := n.end.CPU - n.opened.CPU
	f.CPU = cpu.Seconds()
	f.CPUUser = (n.end.User - n.opened.User).Seconds()
	if delivered > 0 {
		f.CPUPerMsg = float64(cpu.Microseconds()) / float64(delivered)
	}
	f.NumThreads = len(n.threadsEnd)
	f.Threads = busiest(n.threadsOpened, n.threadsEnd, topThreads)
	return f
}

// busiest returns the n threads that ran longest between two samples. A
// thread born in between counts from zero.
func busiest(from, to map[int]ThreadSample, n int) []ThreadFigures {
	out := make([]ThreadFigures, 0, len(to))
	for tid, b := range to {
		a := from[tid]
		out = append(out, ThreadFigures{
			TID: tid, Name: b.Name,
			Run: (b.Run - a.Run).Seconds(), Wait: (b.Wait - a.Wait).Seconds(), Slices: b.Slices - a.Slices,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Run != out[j].Run {
			return out[i].Run > out[j].Run
		}
		return out[i].TID < out[j].TID
	})
	return out[:min(n, len(out))]
}
