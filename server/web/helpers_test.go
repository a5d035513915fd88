package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeCamp is a Source with a scripted camp. It seats campers by the
// contract's rule (the lowest group with a free seat, else a new group with
// the lowest free number), so what the page shows looks like a real camp.
type fakeCamp struct {
	mu          sync.Mutex
	clock       func() time.Time
	started     time.Time
	draining    bool
	healthy     bool
	why         string
	err         error
	groups      map[int]*Group
	messages    uint64
	connections int
	gate        chan struct{} // if not nil, Snapshot waits for it (or ctx)
	msgRate     float64       // messages per second added on the clock since started

	calls atomic.Int64 // Snapshot calls
}

func newFakeCamp(clock func() time.Time) *fakeCamp {
	return &fakeCamp{clock: clock, started: clock(), healthy: true, groups: map[int]*Group{}}
}

// checkin seats id and returns its group.
func (f *fakeCamp) checkin(id, remote string) int {
	return f.checkinSince(id, remote, f.clock())
}

// checkinSince seats id as checked in at since.
func (f *fakeCamp) checkinSince(id, remote string, since time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	num := 0
	for n := range f.groups {
		if len(f.groups[n].Campers) < 4 && (num == 0 || n < num) {
			num = n // the lowest group with a free seat
		}
	}
	for n := 1; num == 0; n++ {
		if _, ok := f.groups[n]; !ok {
			num = n // else a new group with the lowest free number
		}
	}
	g, ok := f.groups[num]
	if !ok {
		g = &Group{Number: num}
		f.groups[num] = g
	}
	g.Campers = append(g.Campers, Camper{ID: id, Remote: remote, Since: since})
	f.connections++
	return num
}

// leave checks id out; a host who leaves ends its session.
func (f *fakeCamp) leave(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for num, g := range f.groups {
		i := slices.IndexFunc(g.Campers, func(c Camper) bool { return c.ID == id })
		if i < 0 {
			continue
		}
		g.Campers = slices.Delete(g.Campers, i, i+1)
		if g.Session != nil && g.Session.Host == id {
			g.Session = nil
		}
		if len(g.Campers) == 0 {
			delete(f.groups, num)
		}
		f.connections--
		return
	}
	panic("leave: no camper " + id)
}

func (f *fakeCamp) session(group int, host string, max, used int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[group].Session = &Session{Host: host, Max: max, Used: used}
	f.messages += uint64(used)
}

func (f *fakeCamp) addMessages(n uint64) {
	f.mu.Lock()
	f.messages += n
	f.mu.Unlock()
}

func (f *fakeCamp) setHealth(ok bool, why string, draining bool) {
	f.mu.Lock()
	f.healthy, f.why, f.draining = ok, why, draining
	f.mu.Unlock()
}

func (f *fakeCamp) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeCamp) Health() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.healthy, f.why
}

// Snapshot copies the camp, as the server's loop does.
func (f *fakeCamp) Snapshot(ctx context.Context) (*Snapshot, error) {
	f.calls.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	s := &Snapshot{Time: f.clock(), Started: f.started, Draining: f.draining}
	nums := make([]int, 0, len(f.groups))
	for n := range f.groups {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for _, n := range nums {
		g := *f.groups[n]
		g.Campers = slices.Clone(g.Campers)
		if g.Session != nil {
			sess := *g.Session
			g.Session = &sess
			s.Totals.Sessions++
		}
		s.Groups = append(s.Groups, g)
		s.Totals.Campers += len(g.Campers)
	}
	s.Totals.Groups = len(s.Groups)
	s.Totals.Connections = f.connections
	s.Totals.Messages = f.messages + uint64(f.msgRate*s.Time.Sub(f.started).Seconds())
	return s, nil
}

// testServer is a side port on a random loopback port.
type testServer struct {
	*Server
	url    string
	client *http.Client
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = zaptest.NewLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1:0", true, cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	tr := &http.Transport{}
	ts := &testServer{Server: s, url: "http://" + l.Addr().String(), client: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return ts
}

// get fetches path and returns the status, the Content-Type and the body.
func (ts *testServer) get(t *testing.T, path string) (int, string, string) {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
}

// stream is a client of /api/events.
type stream struct {
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens /api/events?query; the stream ends at the latest after
// a generous deadline, so a test that waits for a frame that never comes
// fails instead of hanging.
func (ts *testServer) openStream(t *testing.T, query string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+"/api/events?"+query, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// frame is one Server-Sent Event.
type frame struct {
	event, data, retry string
}

// next reads the next event (a block of lines ending with an empty line).
func (s *stream) next() (frame, error) {
	var f frame
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if f != (frame{}) {
				return f, nil
			}
			continue
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			return f, fmt.Errorf("bad event line %q", line)
		}
		switch name {
		case "event":
			f.event = value
		case "data":
			if f.data != "" {
				return f, errors.New("data in two lines: the JSON must be compact")
			}
			f.data = value
		case "retry":
			f.retry = value
		default:
			return f, fmt.Errorf("unknown field in %q", line)
		}
	}
}

// nextCamp reads frames until a camp event for which ok returns true.
func (s *stream) nextCamp(t *testing.T, ok func(data string) bool) string {
	t.Helper()
	for {
		f, err := s.next()
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if f.event == "camp" && ok(f.data) {
			return f.data
		}
	}
}

// steppedClock is a clock that moves only when told to.
type steppedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppedClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
