package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// timelineTotal is the deliveries counted by a report's timeline.
func timelineTotal(t *testing.T, rep *Report) int64 {
	t.Helper()
	if rep.Timeline == nil {
		t.Fatal("no timeline")
	}
	var n int64
	for _, e := range rep.Timeline.Histograms {
		h, err := decodeHist(e)
		if err != nil {
			t.Fatal(err)
		}
		n += h.TotalCount()
	}
	return n
}

// checkCounts checks what every peers run must hold: everyone connected
// and checked in, every message delivered to the three others of its
// group, and a sample for each delivery in the histogram and the timeline.
func checkCounts(t *testing.T, rep *Report, conns int) {
	t.Helper()
	if rep.Connected != conns || rep.CheckedIn != conns {
		t.Errorf("connected %d, checked in %d; want %d each", rep.Connected, rep.CheckedIn, conns)
	}
	if rep.Sent == 0 || rep.Delivered != 3*rep.Sent {
		t.Errorf("sent %d, delivered %d; want 3 deliveries per message", rep.Sent, rep.Delivered)
	}
	if rep.Latency.Samples != rep.Delivered || timelineTotal(t, rep) != rep.Delivered {
		t.Errorf("%d samples, %d in the timeline; want one per delivery (%d)", rep.Latency.Samples, timelineTotal(t, rep), rep.Delivered)
	}
	var sent int64
	for _, n := range rep.Timeline.Sent {
		sent += n
	}
	if rep.Scenario == "peers" && sent != rep.Sent {
		t.Errorf("timeline sent %d, want %d", sent, rep.Sent)
	}
}

// TestProcsEndToEnd runs the harness as worker processes (this test
// binary, re-executed) against a real server. Groups span workers, so
// messages stamped in one process are timed in another.
func TestProcsEndToEnd(t *testing.T) {
	t.Setenv(workerEnv, "1")
	tests := []struct {
		name  string
		sc    Scenario
		procs int
		conns int
		start func(t *testing.T) string
	}{
		{"peers over 3 workers, uneven shares", ScenarioPeers, 3, 42, func(t *testing.T) string { return startCampfire(t, false) }},
		{"peers over 2 workers against the baseline", ScenarioPeers, 2, 40, startBaseline},
		{"echo over 2 workers", ScenarioEcho, 2, 40, func(t *testing.T) string { return startCampfire(t, true) }},
		{"checkin over 2 workers", ScenarioCheckin, 2, 8, func(t *testing.T) string { return startCampfire(t, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shortRun(t, tt.start(t), tt.sc)
			cfg.Conns, cfg.Procs, cfg.Exec = tt.conns, tt.procs, []string{os.Args[0]}
			var progress bytes.Buffer
			cfg.Progress = &progress
			if tt.sc == ScenarioEcho {
				cfg.Rate = 0
			}
			rep := runShort(t, cfg)
			if rep.Procs != tt.procs {
				t.Errorf("report of %d processes, want %d", rep.Procs, tt.procs)
			}
			switch tt.sc {
			case ScenarioPeers:
				// 42 = 10 full groups and one of 2: that group's two
				// still hear each other, once per message.
				if tt.conns%4 == 0 {
					checkCounts(t, rep, tt.conns)
				} else if rep.Connected != tt.conns || rep.Delivered == 0 || rep.Latency.Samples != rep.Delivered {
					t.Errorf("connected %d, delivered %d with %d samples; want %d and a sample each", rep.Connected, rep.Delivered, rep.Latency.Samples, tt.conns)
				}
			default:
				if rep.Delivered == 0 || rep.Latency.Samples != rep.Delivered || timelineTotal(t, rep) != rep.Delivered {
					t.Errorf("delivered %d with %d samples; want > 0 and a sample each", rep.Delivered, rep.Latency.Samples)
				}
			}
			if tt.sc == ScenarioEcho && rep.Connected != tt.conns {
				t.Errorf("connected %d, want %d", rep.Connected, tt.conns)
			}
			if !strings.Contains(progress.String(), "workers: drained") {
				t.Errorf("progress %q, want the stages", progress.String())
			}
		})
	}
}

// TestWorkerStart checks that a worker's origin of run time is its
// parent's, whatever the time the spec took to arrive.
func TestWorkerStart(t *testing.T) {
	parentStart := time.Now().Add(-3 * time.Second)
	tests := []struct {
		name    string
		transit time.Duration // between the parent writing and the worker reading
	}{
		{"read at once", 0},
		{"read late", 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			written := time.Now()
			spec := workerSpec{Elapsed: written.Sub(parentStart), Wall: written.UnixNano()}
			got := spec.start(written.Add(tt.transit))
			if d := got.Sub(parentStart); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("worker start is %v off the parent's", d)
			}
		})
	}
}

// TestProcsWorkerFails checks that a worker that cannot run ends the run
// with an error that says why, and leaves nothing behind.
func TestProcsWorkerFails(t *testing.T) {
	t.Setenv(workerEnv, "1")
	tests := []struct {
		name string
		exec []string
		want string
	}{
		{"no such program", []string{filepath.Join(t.TempDir(), "nope")}, "start"},
		{"a program that is not a worker", []string{"/bin/sh", "-c", "echo oops >&2; exit 7"}, "oops"},
		{"a worker that says the wrong thing", []string{"/bin/sh", "-c", "read spec; echo hello"}, `said "hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shortRun(t, "127.0.0.1:1", ScenarioPeers)
			cfg.Procs, cfg.Exec, cfg.ServerPIDs = 2, tt.exec, nil
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := Run(ctx, cfg)
			t.Logf("Run: %v", err)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestMultiAddr spreads connections over several servers round robin:
// each holds its own camp, so each group's session is started on its own
// server, and everything is delivered.
func TestMultiAddr(t *testing.T) {
	tests := []struct {
		name  string
		procs int
	}{
		{"one process", 1},
		{"two workers", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(workerEnv, "1")
			a, b := startCampfire(t, false), startBaseline(t)
			cfg := shortRun(t, a+","+b, ScenarioPeers)
			cfg.Conns, cfg.Procs, cfg.Exec = 48, tt.procs, []string{os.Args[0]}
			rep := runShort(t, cfg)
			checkCounts(t, rep, 48)
			if rep.Addr != a+","+b {
				t.Errorf("report addr %q, want both", rep.Addr)
			}
		})
	}
}

// TestMainHTMLAndProcs drives "campfire bench" through its flags: a -procs
// run writing JSON and HTML, then a -compare of two such runs writing the
// overlaid HTML page.
func TestMainHTMLAndProcs(t *testing.T) {
	t.Setenv(workerEnv, "1")
	dir := t.TempDir()
	servers := []struct {
		name, addr string
	}{
		{"campfire", startCampfire(t, false)},
		{"conventional", startBaseline(t)},
	}
	var spec []string
	for _, s := range servers {
		jsonFile, htmlFile := filepath.Join(dir, s.name+".json"), filepath.Join(dir, s.name+".html")
		args := []string{"-addr", s.addr, "-ids", testIDs, "-conns", "40", "-rate", "2000", "-duration", "1s", "-warmup", "200ms",
			"-sources", "127.0.0.2-127.0.0.5", "-procs", "2", "-server-pid", "0", "-json", jsonFile, "-html", htmlFile}
		var out, errs bytes.Buffer
		if code := Main(args, &out, &errs); code != 0 {
			t.Fatalf("Main(%q) = %d; stderr: %s", args, code, errs.String())
		}
		if !strings.Contains(out.String(), "in 2 processes") {
			t.Errorf("table lacks the processes:\n%s", out.String())
		}
		page, err := os.ReadFile(htmlFile)
		if err != nil {
			t.Fatal(err)
		}
		checkPage(t, page, []string{s.addr})
		spec = append(spec, s.name+"="+jsonFile)
	}
	// The runs had no -server-pid, so there are no goals to judge: the
	// comparison fails after writing its tables.
	var out, errs bytes.Buffer
	if code := Main([]string{"-compare", strings.Join(spec, ","), "-html", filepath.Join(dir, "compare.html")}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "needs -server-pid") {
		t.Errorf("compare without server figures = %d, %q; want 1 and why", code, errs.String())
	}
	for _, bad := range [][]string{{"-procs", "-1"}, {"-procs", "50", "-conns", "40"}, {"-addr", "127.0.0.1:1,192.0.2.1:2022"}} {
		if code := Main(append(bad, "-ids", testIDs), &out, &errs); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", bad, code)
		}
	}
}

// TestCompareHTMLEndToEnd compares real runs against campfire and the
// baseline server, repeated, and checks the overlaid page.
func TestCompareHTMLEndToEnd(t *testing.T) {
	camp, base := startCampfire(t, false), startBaseline(t)
	ss := []Series{{Name: "campfire"}, {Name: "conventional"}}
	for _, run := range []struct {
		series int
		addr   string
	}{{0, camp}, {1, base}, {0, camp}} {
		cfg := shortRun(t, run.addr, ScenarioPeers)
		ss[run.series].Runs = append(ss[run.series].Runs, runShort(t, cfg))
	}
	var text, page bytes.Buffer
	if _, err := Compare(&text, ss); err != nil {
		t.Fatal(err)
	}
	if err := WriteCompareHTML(&page, ss); err != nil {
		t.Fatal(err)
	}
	shape := checkPage(t, page.Bytes(), []string{"campfire", "conventional"})
	for _, c := range htmlCharts {
		for i, n := range shape.paths[c] {
			if n == 0 {
				t.Errorf("%s chart: %s drew nothing", c, ss[i].Name)
			}
		}
	}
	if !strings.Contains(text.String(), "campfire, 2 runs") || !strings.Contains(page.String(), "2 runs merged") {
		t.Errorf("the repeated runs are not merged:\n%s", text.String())
	}
}
