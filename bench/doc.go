// Package bench is campfire's load harness and the conventional baseline
// server it is compared against.
//
// The harness (Main without -serve-baseline) runs in its own process and
// drives a CAMP/1.0 server over loopback: it dials from a spread of local
// addresses (one source address runs out of ephemeral ports long before
// 10,000 connections), checks everyone in, and then runs one scenario:
// peers (group members exchange timestamped messages in peer sessions at a
// paced total rate), checkin (connect, check in, check out, repeat) or echo
// (pipelined round trips against the echo service). It talks the wire
// format through the protocol package's encoders and Reader directly, never
// through the client library, and allocates nothing per message in steady
// state: each sender patches the timestamp into a pre-encoded frame, and
// each connection's reader records latencies into a small batch that it
// flushes into its shard's HdrHistogram, and into the histogram of the
// second the message was sent in (the timeline), once per batch, so there
// is no lock per sample.
//
// -addr takes several servers (the nodes of a cluster, or separate
// servers), connection i going to the i-th mod their number. -procs N runs
// the harness as N worker processes, this program re-executed with a
// hidden argument (procs.go), because one process may hold only so many
// files: the parent holds every worker at each stage of the run (connected,
// checked in, ready, drained) until all are there, they share one origin
// of time so that a message stamped in one is timed in another, and their
// reports merge exactly (histograms through HdrHistogram's encoding,
// counts summed).
//
// Given the server's pid, the harness samples its RSS and CPU from /proc,
// and over the measured window the run time, run-queue wait and timeslices
// of each of its threads (/proc/PID/task/*/schedstat), so that a saturated
// event loop shows as a thread that ran most of the window and waited long
// for a CPU; and, whatever the server, the machine's busy share and the
// CPU time the hypervisor stole (/proc/stat). It reports a summary table
// and, on request, JSON (histograms included) and a self-contained HTML
// page. -compare sets several servers' saved reports side by side, with
// repeated runs as medians and ranges; make compare (compare.sh) runs the
// whole comparison, campfire with each -loops count given.
//
// The HTML page has no scripts, fonts or anything else from elsewhere. Its
// charts (the latency percentile spectrum, HdrHistogram style; latency and
// throughput over the window) are inline SVG drawn by this package's own
// small code in html.go, not by a charting module: three kinds of line
// chart do not justify a dependency.
//
// The baseline server (Main with -serve-baseline, or StartBaseline) is the
// design a Go programmer would write first: stdlib net, one goroutine per
// connection, a sync.Mutex around the same groups.Camp state machine, and a
// write mutex per connection. It exists so that the gnet server's CPU and
// memory per connection have something honest to be measured against.
package bench
