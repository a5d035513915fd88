package bench

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	type take struct {
		now      time.Duration
		wantN    int
		wantWait time.Duration
	}
	ms := time.Millisecond
	tests := []struct {
		name       string
		rate       float64
		burst      int
		start      time.Duration
		takes      []take
		wantMissed int64
	}{
		{
			name: "one per millisecond, on time", rate: 1000, burst: 10,
			takes: []take{
				{0, 1, 0},
				{0, 0, ms},
				{ms / 2, 0, ms / 2},
				{ms, 1, 0},
				{2 * ms, 1, 0},
			},
		},
		{
			name: "a late wake-up catches up", rate: 1000, burst: 10,
			takes: []take{
				{0, 1, 0},
				{5*ms + ms/2, 5, 0}, // tokens due at 1..5 ms
				{5*ms + ms/2, 0, ms / 2},
				{6 * ms, 1, 0},
			},
		},
		{
			name: "beyond the burst, tokens are missed, not flooded", rate: 1000, burst: 3,
			takes: []take{
				{0, 1, 0},
				{10 * ms, 3, 0}, // due at 1..10 ms: 10 tokens, 3 sent
				{10 * ms, 0, ms},
				{11 * ms, 1, 0},
			},
			wantMissed: 7,
		},
		{
			name: "the first token is due at start", rate: 100, burst: 5, start: time.Second,
			takes: []take{
				{900 * ms, 0, 100 * ms},
				{time.Second, 1, 0},
				{time.Second + 10*ms, 1, 0},
				{time.Second + 15*ms, 0, 5 * ms},
			},
		},
		{
			name: "rate 0 is unlimited", rate: 0, burst: 64,
			takes: []take{
				{0, 64, 0},
				{0, 64, 0},
				{time.Hour, 64, 0},
			},
		},
		{
			name: "a fractional rate", rate: 0.5, burst: 1,
			takes: []take{
				{0, 1, 0},
				{time.Second, 0, time.Second},
				{2 * time.Second, 1, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacer(tt.rate, tt.burst, tt.start)
			for i, give := range tt.takes {
				n, wait := p.Take(give.now)
				if n != give.wantN || wait != give.wantWait {
					t.Errorf("take %d at %v = %d, %v; want %d, %v", i, give.now, n, wait, give.wantN, give.wantWait)
				}
			}
			if got := p.Missed(); got != tt.wantMissed {
				t.Errorf("Missed() = %d, want %d", got, tt.wantMissed)
			}
		})
	}
}

// TestPacerRate checks that over a long run, polled on a grid that does not
// divide the interval, a pacer hands out one token per interval elapsed by
// the last poll (plus the one due at the start), and misses none.
func TestPacerRate(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		step  time.Duration
		polls int
		want  int
	}{
		// Last poll at 999,999µs: tokens at 0, 400µs, ..., 999,600µs.
		{"fine polling", 2500, 37 * time.Microsecond, 27028, 2500},
		// Last poll at 999ms: tokens at 0 .. 998.8ms.
		{"coarse polling", 2500, 3 * time.Millisecond, 334, 2498},
		// Last poll at 9.996s: tokens at 0, 0.1s, ..., 9.9s.
		{"slow rate", 10, 7 * time.Millisecond, 1429, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacer(tt.rate, 1000, 0)
			got := 0
			for i := range tt.polls {
				n, _ := p.Take(time.Duration(i) * tt.step)
				got += n
			}
			if got != tt.want || p.Missed() != 0 {
				t.Errorf("tokens = %d (missed %d), want %d", got, p.Missed(), tt.want)
			}
		})
	}
}
