package bench

import (
	"os"
	"reflect"
	"runtime"
	"syscall"
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

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    ThreadSample
		wantErr bool
	}{
		{name: "a thread", give: "62000000 40000000 1234\n", want: ThreadSample{Run: 62 * time.Millisecond, Wait: 40 * time.Millisecond, Slices: 1234}},
		{name: "idle thread", give: "0 0 0\n", want: ThreadSample{}},
		{name: "two fields", give: "1 2\n", wantErr: true},
		{name: "not a number", give: "1 x 3\n", wantErr: true},
		{name: "negative", give: "1 -2 3\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSchedstat([]byte(tt.give))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseSchedstat = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseCPUStat(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    CPUStat
		wantErr bool
	}{
		{
			name: "with steal and guest",
			give: "cpu  100 5 50 800 20 1 4 30 7 0\ncpu0 50 2 25 400 10 0 2 15 3 0\nintr 1 2 3\n",
			// Guest time is inside user already: 100+5+50+800+20+1+4+30.
			want: CPUStat{Total: 1010 * clockTick, Idle: 820 * clockTick, Steal: 30 * clockTick},
		},
		{
			name: "an old kernel without steal",
			give: "cpu  100 0 50 800 20 1 4\n",
			want: CPUStat{Total: 975 * clockTick, Idle: 820 * clockTick},
		},
		{name: "no cpu line", give: "cpu0 1 2 3 4\nintr 5\n", wantErr: true},
		{name: "short cpu line", give: "cpu  1 2 3\n", wantErr: true},
		{name: "bad number", give: "cpu  1 2 x 4 5 6 7 8\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUStat([]byte(tt.give))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseCPUStat = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestSampleThreadsSelf reads this process's threads: a thread that burns
// CPU while it is sampled comes out busiest.
func TestSampleThreadsSelf(t *testing.T) {
	before, err := SampleThreads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before[os.Getpid()]; !ok {
		t.Errorf("no main thread %d among %d threads", os.Getpid(), len(before))
	}
	// Spin on one locked OS thread until it has run 50ms more than any
	// other, polling with a deadline.
	done := make(chan int)
	stop := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- syscall.Gettid()
		for {
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	tid := <-done
	defer close(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, err := SampleThreads(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		top := busiest(before, after, 2)
		if len(top) > 0 && top[0].TID == tid && top[0].Run >= 0.05 {
			if top[0].Slices <= 0 || top[0].Name == "" {
				t.Errorf("busiest thread %+v: want timeslices and a name", top[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spinning thread %d not the busiest: %+v", tid, top)
		}
		time.Sleep(10 * time.Millisecond) // let the spinner run; the loop polls with a deadline
	}
}

func TestBusiest(t *testing.T) {
	from := map[int]ThreadSample{
		1: {Name: "a", Run: time.Second, Wait: time.Second, Slices: 10},
		2: {Name: "b", Run: 5 * time.Second},
		3: {Name: "gone", Run: 9 * time.Second},
	}
	to := map[int]ThreadSample{
		1: {Name: "a", Run: 4 * time.Second, Wait: 3 * time.Second, Slices: 40},
		2: {Name: "b", Run: 6 * time.Second, Slices: 1},
		4: {Name: "born", Run: 2 * time.Second, Wait: time.Second, Slices: 5},
	}
	got := busiest(from, to, 2)
	want := []ThreadFigures{
		{TID: 1, Name: "a", Run: 3, Wait: 2, Slices: 30},
		{TID: 4, Name: "born", Run: 2, Wait: 1, Slices: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("busiest = %+v, want %+v", got, want)
	}
}

func TestSampleCPUStat(t *testing.T) {
	s, err := SampleCPUStat()
	if err != nil {
		t.Fatal(err)
	}
	if s.Total <= 0 || s.Idle > s.Total || s.Steal > s.Total {
		t.Errorf("SampleCPUStat = %+v, want idle and steal within a positive total", s)
	}
}
