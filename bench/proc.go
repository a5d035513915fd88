package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every Linux architecture Go supports (the
// value is fixed by the ABI, not by CONFIG_HZ).
const clockTick = 10 * time.Millisecond

// ProcSample is a process's resident memory and CPU time at one moment.
type ProcSample struct {
	RSS  int64         // bytes
	CPU  time.Duration // user + system
	User time.Duration // of which in user space
}

// SampleProc reads pid's RSS from /proc/PID/status and its CPU time from
// /proc/PID/stat.
func SampleProc(pid int) (ProcSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("sample server: %w", err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("sample server: %w", err)
	}
	rss, err := parseRSS(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("sample server %d: %w", pid, err)
	}
	user, sys, err := parseCPU(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("sample server %d: %w", pid, err)
	}
	return ProcSample{RSS: rss, CPU: user + sys, User: user}, nil
}

// parseRSS finds "VmRSS:   1234 kB" in the text of /proc/PID/status.
func parseRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("bad VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad VmRSS line %q: %w", line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// parseCPU returns utime and stime from the text of /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parseCPU(stat []byte) (user, sys time.Duration, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bad stat %q", snippetOf(stat))
	}
	// After the command come state (field 3) ... utime (14) and stime (15).
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("bad stat %q", snippetOf(stat))
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad stat times %q %q", fields[11], fields[12])
	}
	return time.Duration(utime) * clockTick, time.Duration(stime) * clockTick, nil
}

func snippetOf(b []byte) []byte {
	return b[:min(len(b), 60)]
}

// ThreadSample is one thread's scheduler accounting, from
// /proc/PID/task/TID/schedstat.
type ThreadSample struct {
	Name   string        // from /proc/PID/task/TID/comm
	Run    time.Duration // on a CPU
	Wait   time.Duration // runnable, waiting on a run queue
	Slices int64         // timeslices run
}

// SampleThreads reads the scheduler accounting of every thread of pid. A
// thread that exits while it is being read is left out.
func SampleThreads(pid int) (map[int]ThreadSample, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sample threads: %w", err)
	}
	out := make(map[int]ThreadSample, len(entries))
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited
		}
		ts, err := parseSchedstat(b)
		if err != nil {
			return nil, fmt.Errorf("sample thread %d of %d: %w", tid, pid, err)
		}
		if comm, err := os.ReadFile(dir + "/" + e.Name() + "/comm"); err == nil {
			ts.Name = string(bytes.TrimSpace(comm))
		}
		out[tid] = ts
	}
	return out, nil
}

// parseSchedstat reads "RUN_NS WAIT_NS SLICES", the text of
// /proc/PID/task/TID/schedstat.
func parseSchedstat(b []byte) (ThreadSample, error) {
	fields := bytes.Fields(b)
	if len(fields) != 3 {
		return ThreadSample{}, fmt.Errorf("bad schedstat %q", snippetOf(b))
	}
	var n [3]int64
	for i, f := range fields {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || v < 0 {
			return ThreadSample{}, fmt.Errorf("bad schedstat %q", snippetOf(b))
		}
		n[i] = v
	}
	return ThreadSample{Run: time.Duration(n[0]), Wait: time.Duration(n[1]), Slices: n[2]}, nil
}

// CPUStat is the machine's CPU time by kind, summed over all CPUs, from
// the "cpu" line of /proc/stat.
type CPUStat struct {
	Total time.Duration // every kind, guest time excluded (it is already in user)
	Idle  time.Duration // idle and iowait
	Steal time.Duration // taken by the hypervisor for other guests
}

// SampleCPUStat reads the machine's CPU times from /proc/stat.
func SampleCPUStat() (CPUStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUStat{}, fmt.Errorf("sample cpu times: %w", err)
	}
	s, err := parseCPUStat(b)
	if err != nil {
		return CPUStat{}, fmt.Errorf("sample cpu times: %w", err)
	}
	return s, nil
}

// parseCPUStat reads the "cpu" line of /proc/stat: user nice system idle
// iowait irq softirq steal guest guest_nice, in clock ticks. Kernels older
// than 2.6.11 have no steal field; they count as no steal.
func parseCPUStat(b []byte) (CPUStat, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("cpu "))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) < 4 {
			return CPUStat{}, fmt.Errorf("bad cpu line %q", snippetOf(line))
		}
		var ticks [8]int64 // user .. steal; guest time is inside user
		for i := range min(len(fields), len(ticks)) {
			v, err := strconv.ParseInt(string(fields[i]), 10, 64)
			if err != nil || v < 0 {
				return CPUStat{}, fmt.Errorf("bad cpu line %q", snippetOf(line))
			}
			ticks[i] = v
		}
		var s CPUStat
		for _, t := range ticks {
			s.Total += time.Duration(t) * clockTick
		}
		s.Idle = time.Duration(ticks[3]+ticks[4]) * clockTick
		s.Steal = time.Duration(ticks[7]) * clockTick
		return s, nil
	}
	return CPUStat{}, fmt.Errorf("no cpu line")
}

// countFDs returns how many file descriptors process pid has open.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("sample server: %w", err)
	}
	return len(ents), nil
}
