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
