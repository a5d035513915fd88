package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
)

// ErrKind is a kind of error the harness counts instead of stopping on.
type ErrKind uint8

// Error kinds, reported by name.
const (
	ErrDial       ErrKind = iota + 1 // dialing the server failed
	ErrCheckin                       // checkin was answered with a non-200 status
	ErrSession                       // peersession was answered with a non-200 status
	ErrStatus                        // another request was answered with a non-200 status
	ErrUnexpected                    // a frame or echo the scenario cannot explain
	ErrClosed                        // the server closed the connection mid-run
	ErrRead                          // reading failed (framing error, reset, timeout)
	ErrWrite                         // writing failed
	ErrEnded                         // a peer session ended while messages were flowing
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	ErrDial:       "dial",
	ErrCheckin:    "checkin-status",
	ErrSession:    "peersession-status",
	ErrStatus:     "request-status",
	ErrUnexpected: "unexpected-frame",
	ErrClosed:     "closed",
	ErrRead:       "read",
	ErrWrite:      "write",
	ErrEnded:      "session-ended",
}

// String returns the kind's name as reported.
func (k ErrKind) String() string {
	if k == 0 || k >= numErrKinds {
		return "unknown"
	}
	return errKindNames[k]
}

// errorCounts counts errors by kind; any goroutine may add to it.
type errorCounts [numErrKinds]atomic.Int64

func (e *errorCounts) add(k ErrKind) { e[k].Add(1) }

func (e *errorCounts) total() int64 {
	var n int64
	for k := range e {
		n += e[k].Load()
	}
	return n
}

// byName returns the non-zero counts by kind name.
func (e *errorCounts) byName() map[string]int64 {
	m := map[string]int64{}
	for k := ErrKind(1); k < numErrKinds; k++ {
		if n := e[k].Load(); n > 0 {
			m[k.String()] = n
		}
	}
	return m
}

// Report is every figure of one run. Rates are per second, times in
// seconds unless the name says otherwise, memory in bytes.
type Report struct {
	Scenario string `json:"scenario"`
	Addr     string `json:"addr"`
	Conns    int    `json:"conns"`
	Sources  int    `json:"sources"`
	Size     int    `json:"size"`
	Depth    int    `json:"depth"`
	// TLS says the connections spoke TLS (to a proxy in front of the
	// server).
	TLS bool `json:"tls,omitempty"`

	// Warmup and Window are the unmeasured and measured parts of the run.
	Warmup float64 `json:"warmup_s"`
	Window float64 `json:"window_s"`

	Connected   int     `json:"connected"`
	ConnectTime float64 `json:"connect_s"`
	ConnectRate float64 `json:"connect_per_s"`
	CheckedIn   int     `json:"checked_in"`
	CheckinTime float64 `json:"checkin_s"`
	CheckinRate float64 `json:"checkin_per_s"`

	// RequestedRate is -rate (0: as fast as possible); OfferedRate is what
	// the senders managed to write during the window.
	RequestedRate float64 `json:"requested_per_s"`
	OfferedRate   float64 `json:"offered_per_s"`
	Sent          int64   `json:"sent"`
	// Senders are the campers that sent (peers: those whose group had a
	// session); Missed the sends their pacers skipped for falling behind.
	Senders int   `json:"senders"`
	Missed  int64 `json:"missed"`
	// Delivered counts MESSAGE events (peers), round trips (echo) or
	// connect-checkin-checkout cycles (checkin) within the window.
	Delivered     int64   `json:"delivered"`
	DeliveredRate float64 `json:"delivered_per_s"`
	Bytes         int64   `json:"bytes"`
	BytesRate     float64 `json:"bytes_per_s"`

	Latency Summary          `json:"latency"`
	Errors  map[string]int64 `json:"errors"`

	// Histogram is every latency of the window, in microseconds, in
	// HdrHistogram's compressed V2 encoding (base64), so that reports can be
	// merged exactly and plotted.
	Histogram string `json:"histogram,omitempty"`
	// Timeline is the window slot by slot.
	Timeline *Timeline `json:"timeline,omitempty"`

	// Procs is the number of worker processes that made the run (1: the
	// harness alone).
	Procs int `json:"procs"`
	// Steal is the share of the machine's CPU time that the hypervisor
	// gave to other guests during the window, and Busy the share that was
	// not idle: both from /proc/stat, over every CPU.
	Steal float64 `json:"steal"`
	Busy  float64 `json:"busy"`
	// Others is the share of the machine's CPU time, during the window,
	// that neither the server nor this harness used (nor the hypervisor
	// stole): other programs on the machine, and the kernel's work not
	// charged to a process. Measured only in a run of one process with the
	// server's pid; HarnessCPU is the harness's CPU seconds in the window.
	Others     float64 `json:"others,omitempty"`
	HarnessCPU float64 `json:"harness_cpu_s,omitempty"`

	// Server is the server's figures; with several -server-pid (the
	// nodes of a cluster) their sum, and Nodes each one's.
	Server *ServerFigures   `json:"server,omitempty"`
	Nodes  []*ServerFigures `json:"nodes,omitempty"`

	// Notes are findings worth a human's attention, such as a rate that
	// could not be offered.
	Notes []string `json:"notes,omitempty"`
}

// ServerFigures are the server's memory and CPU, sampled from /proc.
// RSSPerConn is per connection the process held: in a sum over nodes,
// the nodes' mean.
type ServerFigures struct {
	PID int `json:"pid"`
	// PIDs, in a sum over nodes, are theirs (and PID is 0).
	PIDs         []int   `json:"pids,omitempty"`
	RSSBefore    int64   `json:"rss_before"`
	RSSCheckedIn int64   `json:"rss_checked_in"`
	RSSEnd       int64   `json:"rss_end"`
	RSSPerConn   float64 `json:"rss_per_conn"`
	CPU          float64 `json:"cpu_s"`
	CPUUser      float64 `json:"cpu_user_s"`
	CPUPerMsg    float64 `json:"cpu_us_per_msg"`
	// Wall is the time over which CPU and Threads were measured: the
	// window and the drain after it.
	Wall float64 `json:"wall_s"`
	// NumThreads is the server's thread count at the end; Threads are its
	// busiest threads over Wall, busiest first.
	NumThreads int             `json:"num_threads"`
	Threads    []ThreadFigures `json:"threads"`
}

// ThreadFigures are one server thread's scheduling over the window, from
// /proc/PID/task/TID/schedstat: a thread that ran most of Wall and also
// waited long for a CPU is saturated.
type ThreadFigures struct {
	TID    int     `json:"tid"`
	Name   string  `json:"name"`
	Run    float64 `json:"run_s"`  // on a CPU
	Wait   float64 `json:"wait_s"` // runnable, waiting on a run queue
	Slices int64   `json:"slices"` // timeslices run
}

// Timeline is a run's window cut into slots of equal width: the latencies
// of the messages sent in each slot and how many were sent.
type Timeline struct {
	Slot float64 `json:"slot_s"`
	// Histograms holds one encoded histogram (as Report.Histogram, two
	// significant digits) per slot; a slot's count is what was delivered
	// of the messages sent in it.
	Histograms []string `json:"histograms"`
	// Sent is the messages sent in each slot (peers only).
	Sent []int64 `json:"sent,omitempty"`
}

// row is one line of the summary table.
type row struct{ name, value string }

// rows returns the summary table's lines; every figure of the report is
// on one of them.
func (r *Report) rows() []row {
	f := func(format string, args ...any) string { return fmt.Sprintf(format, args...) }
	rate := "max (closed loop)"
	if r.RequestedRate > 0 {
		rate = f("%.0f/s", r.RequestedRate)
	}
	rows := []row{
		{"scenario", f("%s against %s", r.Scenario, r.Addr)},
		{"connections", f("%d from %d source addresses in %s, size %d, depth %d%s", r.Conns, r.Sources, plural(max(r.Procs, 1), "process", "processes"), r.Size, r.Depth, overTLS(r.TLS))},
		{"window", f("%.2fs measured after %.2fs warmup", r.Window, r.Warmup)},
		{"connect", f("%d in %.3fs = %.0f/s", r.Connected, r.ConnectTime, r.ConnectRate)},
		{"check-in", f("%d in %.3fs = %.0f/s", r.CheckedIn, r.CheckinTime, r.CheckinRate)},
		{"offered", f("%.0f/s of requested %s (%d sent)", r.OfferedRate, rate, r.Sent)},
		{"delivered", f("%d = %.0f/s", r.Delivered, r.DeliveredRate)},
		{"bytes", f("%d = %.0f/s", r.Bytes, r.BytesRate)},
		{"latency", f("n=%d mean=%.1fµs p50=%dµs p90=%dµs p99=%dµs p99.9=%dµs max=%dµs",
			r.Latency.Samples, r.Latency.Mean, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max)},
		{"errors", formatErrors(r.Errors)},
		{"machine", f("%.1f%% busy, %.1f%% stolen by the hypervisor, %.1f%% used by others (harness %.2fs CPU) during the window", 100*r.Busy, 100*r.Steal, 100*r.Others, r.HarnessCPU)},
	}
	for _, s := range r.Nodes {
		rows = append(rows,
			row{"node", f("pid %d: rss %d before, %d checked in, %d at end = %.0f bytes/conn; cpu %.2fs = %.2fµs per delivered message",
				s.PID, s.RSSBefore, s.RSSCheckedIn, s.RSSEnd, s.RSSPerConn, s.CPU, s.CPUPerMsg)})
	}
	if s := r.Server; s != nil {
		who, per := f("pid %d", s.PID), ""
		if len(s.PIDs) > 0 {
			ids := make([]string, len(s.PIDs))
			for i, pid := range s.PIDs {
				ids[i] = strconv.Itoa(pid)
			}
			who, per = "pids "+strings.Join(ids, ",")+" summed", " (mean of the nodes)"
		}
		rows = append(rows,
			row{"server rss", f("%s: %d before, %d checked in, %d at end", who, s.RSSBefore, s.RSSCheckedIn, s.RSSEnd)},
			row{"server rss/conn", f("%.0f bytes%s", s.RSSPerConn, per)},
			row{"server cpu", f("%.2fs (%.2fs user, %.2fs system) = %.2fµs per delivered message", s.CPU, s.CPUUser, s.CPU-s.CPUUser, s.CPUPerMsg)},
		)
		for i, t := range s.Threads {
			name := "server threads"
			if i == 0 {
				rows = append(rows, row{name, f("%d; busiest over %.2fs:", s.NumThreads, s.Wall)})
			}
			rows = append(rows, row{"", f("tid %d (%s): %s on CPU, %s waiting for a CPU, %d timeslices",
				t.TID, t.Name, share(t.Run, s.Wall), share(t.Wait, s.Wall), t.Slices)})
		}
	}
	for _, n := range r.Notes {
		rows = append(rows, row{"note", n})
	}
	return rows
}

// plural writes n and the noun that fits it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// share formats part of whole as a percentage.
func share(part, whole float64) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*part/whole)
}

func formatErrors(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, m[n])
	}
	return strings.Join(parts, " ")
}

// WriteTable writes the report as an aligned two-column table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\n", row.name, row.value)
	}
	return tw.Flush()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// overTLS is what the connections line adds for a run over TLS.
func overTLS(on bool) string {
	if on {
		return ", over TLS"
	}
	return ""
}
