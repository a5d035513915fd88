package bench

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	theirs := fullReport()
	theirs.Server.CPUPerMsg, theirs.Server.RSSPerConn = 20, 16000
	tests := []struct {
		name     string
		cpu, rss float64
		wantMet  bool
		want     []string
	}{
		{
			name: "both goals met", cpu: 8, rss: 700, wantMet: true,
			want: []string{"0.40× the conventional server's (goal ≤ 0.50×): met", "campfire 700 bytes, conventional 16000 bytes (goal < 1024): met"},
		},
		{
			name: "CPU goal missed", cpu: 15, rss: 700,
			want: []string{"0.75× the conventional server's (goal ≤ 0.50×): NOT met, 1.50× over the goal"},
		},
		{
			name: "RSS goal missed", cpu: 8, rss: 1500,
			want: []string{"(goal < 1024): NOT met, 476 bytes over"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := fullReport()
			ours.Server.CPUPerMsg, ours.Server.RSSPerConn = tt.cpu, tt.rss
			var b bytes.Buffer
			met, err := Compare(&b, "campfire", ours, "conventional", theirs)
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
