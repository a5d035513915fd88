package bench

import (
	"context"
	"fmt"
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
	p := &probe{pid: cfg.ServerPID}
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

// probe samples the server's process (if it has a pid) and the machine's
// CPU times at the stages of a run: RSS before the run and once everyone
// is checked in; CPU, per-thread scheduling and steal over the window.
type probe struct {
	pid int
	err error

	before, checkedIn, opened, end ProcSample
	openedAt, endAt                time.Time
	threadsOpened, threadsEnd      map[int]ThreadSample
	cpuOpened, cpuEnd              CPUStat
	cpuErr                         error
}

func (p *probe) sample() ProcSample {
	if p.pid == 0 || p.err != nil {
		return ProcSample{}
	}
	s, err := SampleProc(p.pid)
	if err != nil {
		p.err = err
	}
	return s
}

func (p *probe) threads() map[int]ThreadSample {
	if p.pid == 0 || p.err != nil {
		return nil
	}
	ts, err := SampleThreads(p.pid)
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

func (p *probe) atStart()     { p.before = p.sample() }
func (p *probe) atCheckedIn() { p.checkedIn = p.sample() }

func (p *probe) atOpened() {
	p.openedAt = time.Now()
	p.cpuOpened = p.cpu()
	p.opened = p.sample()
	p.threadsOpened = p.threads()
}

func (p *probe) atEnd() {
	p.endAt = time.Now()
	p.cpuEnd = p.cpu()
	p.end = p.sample()
	p.threadsEnd = p.threads()
}

// topThreads is how many of the server's busiest threads a report keeps.
const topThreads = 4

// report adds the machine's and the server's figures over the window to
// rep, whose counts must be final. It fails if the server could not be
// sampled.
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
	if p.pid == 0 {
		return nil
	}
	f := &ServerFigures{
		PID: p.pid, RSSBefore: p.before.RSS, RSSCheckedIn: p.checkedIn.RSS, RSSEnd: p.end.RSS,
		Wall: p.endAt.Sub(p.openedAt).Seconds(),
	}
	held := 0
	switch sc {
	case ScenarioPeers:
		held = rep.CheckedIn
	case ScenarioEcho:
		held = rep.Connected
	}
	if held > 0 {
		f.RSSPerConn = float64(p.checkedIn.RSS-p.before.RSS) / float64(held)
	}
	cpu := p.end.CPU - p.opened.CPU
	f.CPU = cpu.Seconds()
	f.CPUUser = (p.end.User - p.opened.User).Seconds()
	if rep.Delivered > 0 {
		f.CPUPerMsg = float64(cpu.Microseconds()) / float64(rep.Delivered)
	}
	f.NumThreads = len(p.threadsEnd)
	f.Threads = busiest(p.threadsOpened, p.threadsEnd, topThreads)
	rep.Server = f
	return nil
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
