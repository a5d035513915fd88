package bench

import (
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePIDs(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"", nil, false},
		{"0", nil, false},
		{"42", []int{42}, false},
		{"7,8,9", []int{7, 8, 9}, false},
		{"7, 8", []int{7, 8}, false},
		{"7,x", nil, true},
		{"7,,8", nil, true},
		{"-3", nil, true},
		{"7,0", nil, true},
		{"7,7", nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePIDs(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePIDs(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestProbeReportNodes checks the figures of several pids: each node's
// RSS per connection is over the connections it held (connection i went
// to the i-th address mod their number), and the sum is every node's.
func TestProbeReportNodes(t *testing.T) {
	mb := func(n int64) int64 { return n << 20 }
	p := newProbe([]int{101, 102})
	a, b := p.nodes[0], p.nodes[1]
	a.before, a.checkedIn, a.end = ProcSample{RSS: mb(10)}, ProcSample{RSS: mb(13)}, ProcSample{RSS: mb(14), CPU: 3 * time.Second, User: 2 * time.Second}
	a.opened = ProcSample{CPU: time.Second, User: time.Second}
	b.before, b.checkedIn, b.end = ProcSample{RSS: mb(20)}, ProcSample{RSS: mb(22)}, ProcSample{RSS: mb(22), CPU: 2 * time.Second}
	a.threadsEnd = map[int]ThreadSample{1: {Name: "a", Run: time.Second}}
	b.threadsEnd = map[int]ThreadSample{2: {Name: "b", Run: 2 * time.Second}}
	p.openedAt, p.endAt = time.Unix(0, 0), time.Unix(4, 0)

	// Five campers: node 101 held connections 0, 2 and 4, node 102 1 and 3.
	rep := &Report{CheckedIn: 5, Delivered: 1000}
	if err := p.report(rep, ScenarioPeers); err != nil {
		t.Fatal(err)
	}
	if len(rep.Nodes) != 2 || rep.Nodes[0].PID != 101 || rep.Nodes[1].PID != 102 {
		t.Fatalf("nodes %+v, want pids 101 and 102", rep.Nodes)
	}
	if got, want := rep.Nodes[0].RSSPerConn, float64(mb(3))/3; got != want {
		t.Errorf("node 101 rss/conn %v, want %v", got, want)
	}
	if got, want := rep.Nodes[1].RSSPerConn, float64(mb(2))/2; got != want {
		t.Errorf("node 102 rss/conn %v, want %v", got, want)
	}
	if got := rep.Nodes[0].CPUPerMsg; got != 2000 {
		t.Errorf("node 101 cpu/msg %vµs, want 2000", got)
	}
	s := rep.Server
	if s == nil || s.PID != 0 || !reflect.DeepEqual(s.PIDs, []int{101, 102}) {
		t.Fatalf("sum %+v, want pids [101 102]", s)
	}
	if s.RSSBefore != mb(30) || s.RSSCheckedIn != mb(35) || s.RSSEnd != mb(36) {
		t.Errorf("sum rss %d %d %d, want 30, 35, 36 MiB", s.RSSBefore, s.RSSCheckedIn, s.RSSEnd)
	}
	if got, want := s.RSSPerConn, float64(mb(5))/5; got != want {
		t.Errorf("sum rss/conn %v, want %v", got, want)
	}
	if s.CPU != 4 || s.CPUUser != 1 || s.CPUPerMsg != 4000 {
		t.Errorf("sum cpu %vs (%vs user) = %vµs/msg, want 4s (1s user) = 4000µs/msg", s.CPU, s.CPUUser, s.CPUPerMsg)
	}
	if s.NumThreads != 2 || len(s.Threads) != 2 || s.Threads[0].Name != "b" {
		t.Errorf("sum threads %d %+v, want both, b first", s.NumThreads, s.Threads)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pid 101: rss", "pid 102: rss", "pids 101,102 summed: 31457280 before", "(mean of the nodes)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestRunSeveralPIDs samples two real processes over a run against two
// servers: this one (both servers run in it) and a child that sleeps.
func TestRunSeveralPIDs(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	a, b := startCampfire(t, false), startCampfire(t, false)
	cfg := shortRun(t, a+","+b, ScenarioPeers)
	cfg.ServerPIDs = []int{os.Getpid(), child.Process.Pid}
	rep := runShort(t, cfg)
	checkCounts(t, rep, cfg.Conns)
	if len(rep.Nodes) != 2 || rep.Nodes[0].PID != os.Getpid() || rep.Nodes[1].PID != child.Process.Pid {
		t.Fatalf("nodes %+v, want this process and the child", rep.Nodes)
	}
	if rep.Nodes[1].RSSBefore <= 0 || rep.Server.RSSBefore != rep.Nodes[0].RSSBefore+rep.Nodes[1].RSSBefore {
		t.Errorf("rss before: nodes %d + %d, sum %d", rep.Nodes[0].RSSBefore, rep.Nodes[1].RSSBefore, rep.Server.RSSBefore)
	}
	if sum := rep.Nodes[0].CPU + rep.Nodes[1].CPU; rep.Nodes[0].CPU <= 0 || math.Abs(rep.Server.CPU-sum) > 1e-6 {
		t.Errorf("cpu: nodes %v + %v, sum %v", rep.Nodes[0].CPU, rep.Nodes[1].CPU, rep.Server.CPU)
	}

	// Pids pair with addresses: two for three is refused.
	cfg.Addr = a + "," + b + "," + a
	if err := cfg.check(); err == nil || !strings.Contains(err.Error(), "2 server pids for 3 addresses") {
		t.Errorf("check = %v, want the pids refused", err)
	}
}
