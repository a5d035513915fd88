package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
)

// Goals the gnet server is held to against the conventional one.
const (
	goalCPURatio  = 0.5  // at most half the CPU per delivered message
	goalRSSPerCon = 1024 // bytes per idle checked-in connection
)

// LoadReport reads a report written with -json.
func LoadReport(name string) (*Report, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", name, err)
	}
	return &r, nil
}

// Compare writes two reports side by side (ours first, then the
// conventional server's) with their ratios, and the verdict on each goal.
// It reports whether both goals were met.
func Compare(w io.Writer, oursName string, ours *Report, theirsName string, theirs *Report) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, a, b float64, format string) {
		ratio := "-"
		if b != 0 {
			ratio = fmt.Sprintf("%.2f", a/b)
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\t\n", name, a, b, ratio)
	}
	fmt.Fprintf(tw, "figure\t%s\t%s\tratio\t\n", oursName, theirsName)
	row("connections checked in", float64(ours.CheckedIn), float64(theirs.CheckedIn), "%.0f")
	row("connect /s", ours.ConnectRate, theirs.ConnectRate, "%.0f")
	row("check-in /s", ours.CheckinRate, theirs.CheckinRate, "%.0f")
	row("requested msgs /s", ours.RequestedRate, theirs.RequestedRate, "%.0f")
	row("offered msgs /s", ours.OfferedRate, theirs.OfferedRate, "%.0f")
	row("delivered msgs /s", ours.DeliveredRate, theirs.DeliveredRate, "%.0f")
	row("latency p50 µs", float64(ours.Latency.P50), float64(theirs.Latency.P50), "%.0f")
	row("latency p90 µs", float64(ours.Latency.P90), float64(theirs.Latency.P90), "%.0f")
	row("latency p99 µs", float64(ours.Latency.P99), float64(theirs.Latency.P99), "%.0f")
	row("latency p99.9 µs", float64(ours.Latency.P999), float64(theirs.Latency.P999), "%.0f")
	row("latency max µs", float64(ours.Latency.Max), float64(theirs.Latency.Max), "%.0f")
	row("errors", float64(sumErrors(ours)), float64(sumErrors(theirs)), "%.0f")
	ourSrv, theirSrv := ours.Server, theirs.Server
	if ourSrv == nil || theirSrv == nil {
		tw.Flush()
		return false, fmt.Errorf("compare: both runs need -server-pid figures")
	}
	row("server RSS idle MiB", mib(ourSrv.RSSBefore), mib(theirSrv.RSSBefore), "%.1f")
	row("server RSS checked in MiB", mib(ourSrv.RSSCheckedIn), mib(theirSrv.RSSCheckedIn), "%.1f")
	row("server RSS at end MiB", mib(ourSrv.RSSEnd), mib(theirSrv.RSSEnd), "%.1f")
	row("server RSS / conn bytes", ourSrv.RSSPerConn, theirSrv.RSSPerConn, "%.0f")
	row("server CPU s in window", ourSrv.CPU, theirSrv.CPU, "%.2f")
	row("server CPU user s", ourSrv.CPUUser, theirSrv.CPUUser, "%.2f")
	row("server CPU system s", ourSrv.CPU-ourSrv.CPUUser, theirSrv.CPU-theirSrv.CPUUser, "%.2f")
	row("server CPU µs / delivered msg", ourSrv.CPUPerMsg, theirSrv.CPUPerMsg, "%.2f")
	if err := tw.Flush(); err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\nnproc %d (harness and both servers share these cores)\n", runtime.NumCPU())
	for _, n := range append(prefixed(oursName, ours.Notes), prefixed(theirsName, theirs.Notes)...) {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	ok := true
	if theirSrv.CPUPerMsg > 0 {
		ratio := ourSrv.CPUPerMsg / theirSrv.CPUPerMsg
		met := ratio <= goalCPURatio
		ok = ok && met
		fmt.Fprintf(w, "CPU per delivered message: %s uses %.2f× the %s server's (goal ≤ %.2f×): %s\n",
			oursName, ratio, theirsName, goalCPURatio, verdict(met, fmt.Sprintf("%.2f× over the goal", ratio/goalCPURatio)))
	} else {
		ok = false
		fmt.Fprintf(w, "CPU per delivered message: no figure for %s\n", theirsName)
	}
	met := ourSrv.RSSPerConn < goalRSSPerCon
	ok = ok && met
	fmt.Fprintf(w, "RSS per idle checked-in connection: %s %.0f bytes, %s %.0f bytes (goal < %d): %s\n",
		oursName, ourSrv.RSSPerConn, theirsName, theirSrv.RSSPerConn, goalRSSPerCon,
		verdict(met, fmt.Sprintf("%.0f bytes over", ourSrv.RSSPerConn-goalRSSPerCon)))
	return ok, nil
}

func verdict(met bool, miss string) string {
	if met {
		return "met"
	}
	return "NOT met, " + miss
}

func prefixed(name string, notes []string) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = name + ": " + n
	}
	return out
}

func sumErrors(r *Report) int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// parseCompare splits "-compare NAME=FILE,NAME=FILE".
func parseCompare(s string) (names, files [2]string, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return names, files, fmt.Errorf("-compare %q: want OURS=FILE,THEIRS=FILE", s)
	}
	for i, p := range parts {
		name, file, ok := strings.Cut(p, "=")
		if !ok || name == "" || file == "" {
			return names, files, fmt.Errorf("-compare %q: want OURS=FILE,THEIRS=FILE", s)
		}
		names[i], files[i] = name, file
	}
	return names, files, nil
}
