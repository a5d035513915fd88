package bench

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	theirs := fullReport()
	theirs.Server.CPUPerMsg, theirs.Server.RSSPerConn = 20, 16000
	theirs.Latency.P99 = 5000
	tests := []struct {
		name     string
		cpu, rss float64
		p50, p99 int64 // µs; 0: fullReport's
		wantMet  bool
		want     []string
	}{
		{
			name: "every goal met", cpu: 8, rss: 700, wantMet: true,
			want: []string{"0.40× the conventional server's (goal ≤ 0.85×): met", "campfire 700 bytes, conventional 16000 bytes (goal < 1024): met",
				"latency p50: campfire 101 µs (goal ≤ 1000 µs): met", "latency p99: campfire 303 µs, conventional 5000 µs (goal ≤ the conventional server's): met"},
		},
		{
			name: "CPU goal missed", cpu: 20, rss: 700,
			want: []string{"1.00× the conventional server's (goal ≤ 0.85×): NOT met, 1.18× over the goal"},
		},
		{
			name: "RSS goal missed", cpu: 8, rss: 1500,
			want: []string{"(goal < 1024): NOT met, 476 bytes over"},
		},
		{
			name: "p50 goal missed", cpu: 8, rss: 700, p50: 1500,
			want: []string{"latency p50: campfire 1500 µs (goal ≤ 1000 µs): NOT met, 500 µs over"},
		},
		{
			name: "p99 goal missed", cpu: 8, rss: 700, p99: 10000,
			want: []string{"latency p99: campfire 10000 µs, conventional 5000 µs (goal ≤ the conventional server's): NOT met, 2.00× its p99"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := fullReport()
			ours.Server.CPUPerMsg, ours.Server.RSSPerConn = tt.cpu, tt.rss
			if tt.p50 != 0 {
				ours.Latency.P50 = tt.p50
			}
			if tt.p99 != 0 {
				ours.Latency.P99 = tt.p99
			}
			var b bytes.Buffer
			met, err := Compare(&b, []Series{{"campfire", []*Report{ours}}, {"conventional", []*Report{theirs}}})
			if err != nil {
				t.Fatal(err)
			}
			if met != tt.wantMet {
				t.Errorf("Compare met = %v, want %v", met, tt.wantMet)
			}
			out := b.String()
			for _, w := range append(tt.want, "server CPU µs / delivered msg", "server RSS / conn bytes", "latency p99 µs", "nproc ") {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestCompareFiles runs "campfire bench -compare" on two saved reports.
func TestCompareFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, name := range []string{a, b} {
		if err := writeJSONFile(name, fullReport()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		give []string
		want int
	}{
		{"equal reports miss the CPU goal", []string{"-compare", "ours=" + a + ",theirs=" + b}, 3},
		{"missing file", []string{"-compare", "ours=" + a + ",theirs=" + filepath.Join(dir, "nope.json")}, 1},
		{"bad spec", []string{"-compare", a}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if got := Main(tt.give, &out, &errs); got != tt.want {
				t.Errorf("Main(%q) = %d, want %d; stderr: %s", tt.give, got, tt.want, errs.String())
			}
		})
	}
}

// TestCompareRepeats compares three servers, two of them against the
// last, with repeated runs: medians, ranges, ratios and a line per run.
func TestCompareRepeats(t *testing.T) {
	run := func(p99 int64, cpu, steal float64) *Report {
		r := fullReport()
		r.Latency.P99 = p99
		r.Server.CPUPerMsg = cpu
		r.Server.RSSPerConn = 700
		r.Steal = steal
		return r
	}
	ss := []Series{
		{"campfire -loops 1", []*Report{run(100, 4, 0.01), run(300, 6, 0.02), run(200, 5, 0.5)}},
		{"campfire -loops 2", []*Report{run(50, 12, 0)}},
		{"conventional", []*Report{run(400, 10, 0), run(400, 10, 0)}},
	}
	var b bytes.Buffer
	met, err := Compare(&b, ss)
	if err != nil {
		t.Fatal(err)
	}
	if met {
		t.Errorf("Compare met = true, want false: -loops 2 uses 1.2× the CPU")
	}
	out := b.String()
	for _, w := range []string{
		"campfire -loops 1, 3 runs", "campfire -loops 2, 1 run", "conventional, 2 runs",
		"200 (100–300) ×0.50", "50 ×0.12", // p99 medians, ranges and ratios
		"5.00 (4.00–6.00) ×0.50", // CPU per message
		"busiest thread on CPU %", "60.0 ×1.00", "busiest thread waiting for CPU %", "40.0 ×1.00",
		"campfire -loops 1 uses 0.50× the conventional server's (goal ≤ 0.85×): met",
		"campfire -loops 2 uses 1.20× the conventional server's (goal ≤ 0.85×): NOT met",
		"campfire -loops 2 700 bytes, conventional 700 bytes (goal < 1024): met",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// Steal varies by machine, not by server: no ratio.
	for line := range strings.Lines(out) {
		if strings.Contains(line, "hypervisor steal %") && (!strings.Contains(line, "2.0 (1.0–50.0)") || strings.Contains(line, "×")) {
			t.Errorf("steal row = %q, want the median 2.0, range 1.0–50.0 and no ratio", line)
		}
	}
	// Every run has its own line, with its steal.
	runs := runsTable(ss)
	if len(runs.rows) != 6 {
		t.Fatalf("runs table has %d rows, want 6", len(runs.rows))
	}
	if got := runs.rows[2]; got[0] != "campfire -loops 1" || got[1] != "3" || got[4] != "200" || got[10] != "50.0" {
		t.Errorf("third run's row = %q, want campfire -loops 1, run 3, p99 200, steal 50.0", got)
	}
}

func TestParseCompare(t *testing.T) {
	tests := []struct {
		give    string
		want    []compareSpec
		wantErr bool
	}{
		{give: "ours=a.json,theirs=b.json", want: []compareSpec{{"ours", "a.json"}, {"theirs", "b.json"}}},
		{
			give: "campfire -loops 1=a1,campfire -loops 2=b1,conventional=c1,campfire -loops 1=a2",
			want: []compareSpec{{"campfire -loops 1", "a1"}, {"campfire -loops 2", "b1"}, {"conventional", "c1"}, {"campfire -loops 1", "a2"}},
		},
		{give: "a.json", wantErr: true},
		{give: "ours=a.json", wantErr: true},
		{give: "ours=a.json,ours=b.json", wantErr: true},
		{give: "ours=a.json,=b.json", wantErr: true},
		{give: "ours=a.json,theirs=", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseCompare(tt.give)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCompare(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLoadSeries(t *testing.T) {
	dir := t.TempDir()
	var specs []compareSpec
	for i, name := range []string{"b", "a", "b", "a", "b"} {
		file := filepath.Join(dir, fmt.Sprintf("%d.json", i))
		r := fullReport()
		r.Sent = int64(i)
		if err := writeJSONFile(file, r); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, compareSpec{name, file})
	}
	ss, err := loadSeries(specs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		for _, r := range s.Runs {
			got = append(got, fmt.Sprintf("%s%d", s.Name, r.Sent))
		}
	}
	if want := []string{"b0", "b2", "b4", "a1", "a3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("series = %v, want %v (in order of first appearance)", got, want)
	}
}
