package bench

import (
	"reflect"
	"sync"
	"testing"
)

func TestLatenciesMerge(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		give   [][]int64 // samples per recording goroutine
		want   Summary
	}{
		{
			name:   "empty",
			shards: 4,
			give:   [][]int64{{}, {}},
			want:   Summary{},
		},
		{
			name:   "one value per worker, spread over shards",
			shards: 3,
			give:   [][]int64{{100}, {200}, {300}, {400}},
			want:   Summary{Samples: 4, Mean: 250, P50: 200, P90: 400, P99: 400, P999: 400, Max: 400},
		},
		{
			name:   "1..1000 split across workers, more than one batch each",
			shards: 2,
			give:   [][]int64{seq(1, 250), seq(251, 600), seq(601, 1000)},
			want:   Summary{Samples: 1000, Mean: 500.5, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000},
		},
		{
			name:   "out-of-range values are clamped, not lost",
			shards: 1,
			give:   [][]int64{{-5, histMax * 2}},
			want:   Summary{Samples: 2, Mean: histMax / 2, P50: 0, P90: histMax, P99: histMax, P999: histMax, Max: histMax},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLatencies(tt.shards, 0)
			var wg sync.WaitGroup
			for i, samples := range tt.give {
				wg.Go(func() {
					rec := l.Recorder(i)
					for _, v := range samples {
						rec.Record(0, v)
					}
					rec.Flush()
				})
			}
			wg.Wait()
			got := Summarize(l.Merged())
			// HdrHistogram with 3 digits reports values within 0.1%; the
			// mean it computes from bucket midpoints.
			if got.Samples != tt.want.Samples || !near(got.P50, tt.want.P50) || !near(got.P90, tt.want.P90) ||
				!near(got.P99, tt.want.P99) || !near(got.P999, tt.want.P999) || !near(got.Max, tt.want.Max) ||
				!near(int64(got.Mean), int64(tt.want.Mean)) {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStamp(t *testing.T) {
	tests := []struct {
		name string
		give int64
	}{
		{"zero", 0},
		{"one second", 1e9},
		{"a long run", 3600e9 + 12345},
		{"largest", 1<<63 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := payload(20)
			putStamp(b, tt.give)
			got, ok := readStamp(b)
			if !ok || got != tt.give {
				t.Errorf("readStamp(putStamp(%d)) = %d, %v", tt.give, got, ok)
			}
			if string(b[StampSize:]) != string(payload(20)[StampSize:]) {
				t.Errorf("putStamp wrote past the stamp: %q", b)
			}
		})
	}
	for _, bad := range []string{"", "0123", "0123456789abcdeX", "0123456789ABCDEF"} {
		if _, ok := readStamp([]byte(bad)); ok {
			t.Errorf("readStamp(%q) accepted", bad)
		}
	}
}

func seq(lo, hi int64) []int64 {
	var s []int64
	for v := lo; v <= hi; v++ {
		s = append(s, v)
	}
	return s
}

// near reports whether got is within HdrHistogram's 3-digit precision of want.
func near(got, want int64) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/1000+1
}

func TestTimeline(t *testing.T) {
	tests := []struct {
		name  string
		slots int
		give  []struct{ slot, us int64 }
		want  []int64 // count per slot
	}{
		{"no timeline", 0, []struct{ slot, us int64 }{{0, 5}, {3, 7}}, nil},
		{"samples land in their slots", 3, []struct{ slot, us int64 }{{0, 5}, {2, 7}, {2, 9}, {1, histMax * 3}}, []int64{1, 1, 2}},
		{"slots out of range count in the nearest", 2, []struct{ slot, us int64 }{{-1, 5}, {2, 7}, {1 << 20, 9}}, []int64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLatencies(2, tt.slots)
			rec := l.Recorder(0)
			for _, s := range tt.give {
				rec.Record(int(s.slot), s.us)
			}
			rec.Flush()
			if got := l.Merged().TotalCount(); got != int64(len(tt.give)) {
				t.Errorf("merged count = %d, want %d", got, len(tt.give))
			}
			var got []int64
			for _, h := range l.Timeline() {
				got = append(got, h.TotalCount())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("slot counts = %v, want %v", got, tt.want)
			}
		})
	}
	// A value in a slot keeps its magnitude (the slot is not mixed into it).
	l := NewLatencies(1, 3)
	rec := l.Recorder(0)
	rec.Record(2, 1234)
	rec.Flush()
	if got := l.Timeline()[2].Max(); !nearDigits(got, 1234, 100) {
		t.Errorf("slot 2 max = %d, want about 1234", got)
	}
	if got := l.Merged().Max(); !near(got, 1234) {
		t.Errorf("merged max = %d, want 1234", got)
	}
}

// nearDigits reports whether got is within want/div of want.
func nearDigits(got, want, div int64) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/div+1
}
