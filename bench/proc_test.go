package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseRSS(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    int64
		wantErr bool
	}{
		{name: "status", give: "Name:\tcampfire\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t5\n", want: 1234 << 10},
		{name: "no VmRSS (a kernel thread)", give: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "bad unit", give: "VmRSS:\t 12 MB\n", wantErr: true},
		{name: "bad number", give: "VmRSS:\t 1x2 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRSS([]byte(tt.give))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseRSS = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    [2]time.Duration // user, system
		wantErr bool
	}{
		{
			name: "plain",
			give: "4242 (campfire) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 25 0 0 20 0 9 0 1000 1000000 300 18446744073709551615",
			want: [2]time.Duration{150 * clockTick, 25 * clockTick},
		},
		{
			name: "a command with spaces and parentheses",
			give: "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 6 7",
			want: [2]time.Duration{3 * clockTick, 4 * clockTick},
		},
		{name: "truncated", give: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command", give: "7 x R", wantErr: true},
		{name: "bad times", give: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 a b 0 0 20", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, sys, err := parseCPU([]byte(tt.give))
			if got := [2]time.Duration{user, sys}; (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSampleProcSelf(t *testing.T) {
	p, err := SampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS < 1<<20 {
		t.Errorf("RSS of the test process = %d bytes, want at least 1 MiB", p.RSS)
	}
	if _, err := SampleProc(-1); err == nil {
		t.Errorf("SampleProc(-1) did not fail")
	}
}
