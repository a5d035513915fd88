package bench

import (
	"reflect"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// workerReport is a worker's report of a peers run whose latencies are
// the given values, all in slot slot of a timeline of n slots.
func workerReport(t *testing.T, slot, n int, values ...int64) *Report {
	t.Helper()
	l := NewLatencies(1, n)
	rec := l.Recorder(0)
	for _, v := range values {
		rec.Record(slot, v)
	}
	rec.Flush()
	r := &Report{
		Scenario: "peers", Conns: 8, Sources: 4, Size: 64, Depth: 1, Warmup: 1, Window: 2,
		Connected: 8, ConnectTime: 0.5, CheckedIn: 8, CheckinTime: 0.25,
		Sent: int64(len(values)) / 3, Senders: 8, Delivered: int64(len(values)), Bytes: 64 * int64(len(values)),
		Errors: map[string]int64{"closed": 1},
	}
	if err := r.setLatencies(l, time.Second); err != nil {
		t.Fatal(err)
	}
	r.Timeline.Sent = make([]int64, n)
	r.Timeline.Sent[slot] = r.Sent
	return r
}

func TestMergeReports(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:1,127.0.0.1:2", Scenario: ScenarioPeers, Conns: 16, Rate: 10, Duration: 2 * time.Second, Procs: 2}
	a := workerReport(t, 0, 2, 100, 200, 300)
	b := workerReport(t, 1, 2, 1000, 2000, 3000, 4000, 5000, 6000)
	b.ConnectTime, b.CheckinTime = 0.75, 0.125
	b.Errors = map[string]int64{"closed": 2, "read": 1}
	b.Missed = 5
	got, err := mergeReports(cfg, []*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}

	// The merged histogram is exactly one recorded with every value.
	want := hdrhistogram.New(histMin, histMax, histDigits)
	for _, v := range []int64{100, 200, 300, 1000, 2000, 3000, 4000, 5000, 6000} {
		want.RecordValue(v)
	}
	h, err := decodeHist(got.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Equals(want) {
		t.Errorf("merged histogram differs from one recorded with every value")
	}
	if got.Latency != Summarize(want) {
		t.Errorf("latency = %+v, want %+v", got.Latency, Summarize(want))
	}
	var counts []int64
	for _, e := range got.Timeline.Histograms {
		h, err := decodeHist(e)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, h.TotalCount())
	}
	if !reflect.DeepEqual(counts, []int64{3, 6}) || !reflect.DeepEqual(got.Timeline.Sent, []int64{1, 2}) {
		t.Errorf("timeline counts %v sent %v, want [3 6] and [1 2]", counts, got.Timeline.Sent)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", got.Addr, cfg.Addr},
		{"procs", got.Procs, 2},
		{"connected", got.Connected, 16},
		{"connect time is the slowest worker's", got.ConnectTime, 0.75},
		{"connect rate", got.ConnectRate, 16 / 0.75},
		{"checkin time", got.CheckinTime, 0.25},
		{"sent", got.Sent, int64(3)},
		{"delivered", got.Delivered, int64(9)},
		{"delivered rate over the window", got.DeliveredRate, 4.5},
		{"bytes", got.Bytes, int64(9 * 64)},
		{"errors summed", got.Errors, map[string]int64{"closed": 3, "read": 1}},
		{"notes from the merged counts", got.Notes, []string{"offered 2/s of requested 10/s", "senders fell behind and skipped 5 sends"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestMergeErrors(t *testing.T) {
	cfg := Config{Scenario: ScenarioPeers, Conns: 8, Duration: time.Second}
	bad := workerReport(t, 0, 1, 5)
	bad.Histogram = "not base64!"
	otherSlot := workerReport(t, 0, 1, 5)
	otherSlot.Timeline.Slot = 2
	tests := []struct {
		name  string
		parts []*Report
	}{
		{"no reports", nil},
		{"a bad histogram", []*Report{workerReport(t, 0, 1, 5), bad}},
		{"timelines of different slots", []*Report{workerReport(t, 0, 1, 5), otherSlot}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mergeReports(cfg, tt.parts); err == nil {
				t.Errorf("mergeReports accepted %s", tt.name)
			}
		})
	}
}

func TestTimelineSlots(t *testing.T) {
	tests := []struct {
		give  time.Duration
		width time.Duration
		n     int
	}{
		{time.Second, time.Second, 1},
		{1500 * time.Millisecond, time.Second, 2},
		{20 * time.Second, time.Second, 20},
		{maxSlots * time.Second, time.Second, maxSlots},
		{maxSlots*time.Second + 1, 2 * time.Second, maxSlots/2 + 1},
		{time.Hour, 12 * time.Second, maxSlots},
	}
	for _, tt := range tests {
		width, n := timelineSlots(tt.give)
		if width != tt.width || n != tt.n {
			t.Errorf("timelineSlots(%v) = %v, %d; want %v, %d", tt.give, width, n, tt.width, tt.n)
		}
	}
}

func TestShares(t *testing.T) {
	tests := []struct {
		n, procs int
		want     []int
	}{
		{8, 2, []int{4, 4}},
		{10, 4, []int{3, 3, 2, 2}},
		{3, 3, []int{1, 1, 1}},
		{20000, 3, []int{6667, 6667, 6666}},
	}
	for _, tt := range tests {
		if got := shares(tt.n, tt.procs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shares(%d, %d) = %v, want %v", tt.n, tt.procs, got, tt.want)
		}
	}
}
