package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// scriptedCamp is five campers in two groups, a session in group 1, on a
// clock that moves a second per check-in.
func scriptedCamp() (*fakeCamp, *steppedClock) {
	clock := &steppedClock{t: t0}
	f := newFakeCamp(clock.now)
	for _, id := range []string{"J001", "J002", "J003", "J004", "J005"} {
		clock.add(time.Second)
		f.checkin(id, "192.0.2.7:4"+id[1:])
	}
	f.session(1, "J001", 3, 1)
	clock.add(5 * time.Second)
	return f, clock
}

// compact is want, written readably, as the server sends it.
func compact(t *testing.T, want string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(want)); err != nil {
		t.Fatalf("bad JSON in the test: %v", err)
	}
	return b.String()
}

const group1 = `{"number":1,"campers":[
	{"id":"J001","remote":"192.0.2.7:4001","since":"2026-01-02T03:04:06Z"},
	{"id":"J002","remote":"192.0.2.7:4002","since":"2026-01-02T03:04:07Z"},
	{"id":"J003","remote":"192.0.2.7:4003","since":"2026-01-02T03:04:08Z"},
	{"id":"J004","remote":"192.0.2.7:4004","since":"2026-01-02T03:04:09Z"}],
	"session":{"host":"J001","max":3,"used":1}}`

const group2 = `{"number":2,"campers":[
	{"id":"J005","remote":"192.0.2.7:4005","since":"2026-01-02T03:04:10Z"}],
	"session":null}`

const head = `"time":"2026-01-02T03:04:15Z","started":"2026-01-02T03:04:05Z","draining":false,"version":"campfire test",
	"totals":{"connections":5,"campers":5,"groups":2,"sessions":1,"messages":1},`

func TestCampJSON(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f, Version: "campfire test"})
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"whole camp", "", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":2,"filter":""},"groups":[` + group1 + `,` + group2 + `]}`},
		{"first page of one", "?size=1", `{` + head + `"page":{"number":1,"pages":2,"size":1,"matched":2,"filter":""},"groups":[` + group1 + `]}`},
		{"second page of one", "?size=1&page=2", `{` + head + `"page":{"number":2,"pages":2,"size":1,"matched":2,"filter":""},"groups":[` + group2 + `]}`},
		{"past the last page", "?size=1&page=9", `{` + head + `"page":{"number":2,"pages":2,"size":1,"matched":2,"filter":""},"groups":[` + group2 + `]}`},
		{"page of everything", "?page=3", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":2,"filter":""},"groups":[` + group1 + `,` + group2 + `]}`},
		{"camper id, any case", "?q=j005", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":1,"filter":"j005"},"groups":[` + group2 + `]}`},
		{"part of an id", "?q=J00", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":2,"filter":"J00"},"groups":[` + group1 + `,` + group2 + `]}`},
		{"a port", "?q=:4003", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":1,"filter":":4003"},"groups":[` + group1 + `]}`},
		{"a group number", "?q=2", `{` + head + `"page":{"number":1,"pages":1,"size":0,"matched":1,"filter":"2"},"groups":[` + group2 + `]}`},
		{"no match", "?q=J999&size=10", `{` + head + `"page":{"number":1,"pages":1,"size":10,"matched":0,"filter":"J999"},"groups":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ctype, body := ts.get(t, "/api/camp"+tt.query)
			if code != http.StatusOK || ctype != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", code, ctype, body)
			}
			if want := compact(t, tt.want) + "\n"; body != want {
				t.Errorf("body\n%s\nwant\n%s", body, want)
			}
		})
	}
}

func TestCampBadQuery(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f})
	tests := []struct{ query, want string }{
		{"page=0", `bad query: page "0": want an integer from 1`},
		{"page=two", `bad query: page "two": want an integer from 1`},
		{"size=-1", `bad query: size "-1": want an integer from 0 to 1000`},
		{"size=1001", `bad query: size "1001": want an integer from 0 to 1000`},
		{"q=" + strings.Repeat("x", 65), `bad query: q longer than 64 bytes`},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/camp?", "/api/events?"} {
			code, _, body := ts.get(t, path+tt.query)
			if code != http.StatusBadRequest || body != tt.want+"\n" {
				t.Errorf("%s%s: %d %q, want 400 %q", path, tt.query, code, body, tt.want)
			}
		}
	}
}

func TestCampUnavailable(t *testing.T) {
	f, _ := scriptedCamp()
	f.setErr(errors.New("camp loop stopped"))
	ts := startServer(t, Config{Source: f})
	code, _, body := ts.get(t, "/api/camp")
	if code != http.StatusServiceUnavailable || body != "camp snapshot: camp loop stopped\n" {
		t.Errorf("%d %q, want 503 and the reason", code, body)
	}
}

func TestHealth(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f})
	tests := []struct {
		name     string
		ok       bool
		why      string
		wantCode int
		wantBody string
	}{
		{"serving", true, "", 200, "ok\n"},
		{"draining", false, "draining", 503, "draining\n"},
		{"back", true, "", 200, "ok\n"},
		{"not caught up", false, "catching up with the log", 503, "catching up with the log\n"},
		{"no reason", false, "", 503, "unavailable\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.setHealth(tt.ok, tt.why, !tt.ok)
			for _, path := range []string{"/healthz", "/readyz"} {
				code, ctype, body := ts.get(t, path)
				if code != tt.wantCode || body != tt.wantBody || ctype != "text/plain; charset=utf-8" {
					t.Errorf("%s: %d %q %q, want %d %q", path, code, ctype, body, tt.wantCode, tt.wantBody)
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", 200},
		{http.MethodHead, "/", 200},
		{http.MethodGet, "/index.html", 404},
		{http.MethodGet, "/metrics", 404}, // no Gatherer
		{http.MethodPost, "/healthz", 405},
		{http.MethodPost, "/api/camp", 405},
		{http.MethodGet, "/api/nothing", 404},
		{http.MethodGet, "/debug/pprof/heap", 404}, // no Pprof
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, ts.url+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestPprof(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f, Pprof: true})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
		code, _, body := ts.get(t, path)
		if code != 200 || body == "" {
			t.Errorf("GET %s: %d, %d bytes; want 200 and a profile", path, code, len(body))
		}
	}
	if code, _, body := ts.get(t, "/debug/pprof/heap?debug=1"); !strings.Contains(body, "# runtime.MemStats") {
		t.Errorf("GET /debug/pprof/heap?debug=1: %d, no MemStats in %.200q", code, body)
	}
}

func TestPageSelfContained(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f})
	resp, err := ts.client.Get(ts.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != pagePolicy {
		t.Errorf("Content-Security-Policy %q, want %q", got, pagePolicy)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.Equal(body.Bytes(), campPage) {
		t.Error("GET / is not the embedded page")
	}
	// Nothing is fetched from elsewhere: every reference is the page's own
	// origin, a fragment or inline data.
	refs := regexp.MustCompile(`(?i)\b(src|href|action|url)\s*[=(]\s*["']?([^"')\s>]+)`).FindAllStringSubmatch(body.String(), -1)
	for _, m := range refs {
		if ref := m[2]; !strings.HasPrefix(ref, "data:") && !strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "#") {
			t.Errorf("the page refers to %q (%s): it must be self-contained", ref, m[0])
		}
	}
	for _, bad := range []string{"@import", "<iframe", "//cdn", "fonts.googleapis"} {
		if strings.Contains(body.String(), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "campfire_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(7)
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f, Gatherer: reg})
	resp, err := ts.client.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := mfs["campfire_test_total"].GetMetric()[0].GetCounter().GetValue(); got != 7 {
		t.Errorf("campfire_test_total = %v, want 7", got)
	}
}

func TestEventsStream(t *testing.T) {
	f, _ := scriptedCamp()
	f.clock = time.Now // Time moves; the camp changes only when the test says
	ts := startServer(t, Config{Source: f, Version: "campfire test", MinInterval: 10 * time.Millisecond, Heartbeat: time.Hour})
	s := ts.openStream(t, "size=1")
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	first, err := s.next()
	if err != nil || first != (frame{retry: "1000"}) {
		t.Fatalf("first frame %+v, %v: want the retry interval", first, err)
	}
	var v View
	decode := func(data string) View {
		t.Helper()
		var v View
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("frame data: %v", err)
		}
		return v
	}
	v = decode(s.nextCamp(t, func(string) bool { return true }))
	if v.Totals.Campers != 5 || v.Page != (Page{Number: 1, Pages: 2, Size: 1, Matched: 2}) || len(v.Groups) != 1 || v.Groups[0].Number != 1 || v.Version != "campfire test" {
		t.Fatalf("first camp frame: %+v", v)
	}

	// With the heartbeat an hour away, every frame that follows is a change.
	f.checkin("J006", "192.0.2.7:4006")
	v = decode(s.nextCamp(t, func(string) bool { return true }))
	if v.Totals.Campers != 6 || v.Groups[0].Campers[0].ID != "J001" || len(v.Groups[0].Campers) != 4 {
		t.Errorf("after a check-in: %+v", v)
	}
	f.leave("J001")
	v = decode(s.nextCamp(t, func(string) bool { return true }))
	if v.Totals.Campers != 5 || v.Groups[0].Campers[0].ID != "J002" || v.Groups[0].Session != nil {
		t.Errorf("after the host left: %+v", v)
	}

	f.setErr(errors.New("camp loop stopped"))
	ev, err := s.next()
	if err != nil || ev.event != "unavailable" || ev.data != `{"error":"camp loop stopped"}` {
		t.Errorf("while the source fails: %+v, %v", ev, err)
	}
	f.setErr(nil)
	f.addMessages(3)
	v = decode(s.nextCamp(t, func(string) bool { return true }))
	if v.Totals.Messages != 4 {
		t.Errorf("after the source is back: %+v", v.Totals)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	f, _ := scriptedCamp()
	f.clock = time.Now
	ts := startServer(t, Config{Source: f, MinInterval: 5 * time.Millisecond, Heartbeat: 20 * time.Millisecond})
	s := ts.openStream(t, "")
	var last time.Time
	for i := range 3 {
		var v View
		if err := json.Unmarshal([]byte(s.nextCamp(t, func(string) bool { return true })), &v); err != nil {
			t.Fatal(err)
		}
		if v.Totals.Campers != 5 {
			t.Errorf("frame %d: %+v", i, v.Totals)
		}
		if !v.Time.After(last) {
			t.Errorf("frame %d: time %v did not move on from %v", i, v.Time, last)
		}
		last = v.Time
	}
}

func TestMaxViewers(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f, MaxViewers: 1})
	s := ts.openStream(t, "")
	s.nextCamp(t, func(string) bool { return true })
	code, _, body := ts.get(t, "/api/events")
	if code != http.StatusServiceUnavailable || body != "too many viewers\n" {
		t.Errorf("second viewer: %d %q, want 503", code, body)
	}
	s.close()
	// The first viewer's goroutine notices it left; then a new one fits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts.mu.Lock()
		n := ts.viewers
		ts.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the viewer that left is still counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.openStream(t, "").nextCamp(t, func(string) bool { return true })
}

// TestShutdownEndsStreams checks that Shutdown ends every event stream at
// once (an SSE connection is never idle, so http.Server.Shutdown alone
// would wait for its deadline) and that Serve returns; goleak checks that
// no goroutine is left.
func TestShutdownEndsStreams(t *testing.T) {
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f})
	var streams []*stream
	for range 3 {
		s := ts.openStream(t, "")
		s.nextCamp(t, func(string) bool { return true })
		streams = append(streams, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with open streams: %v", err)
	}
	for _, s := range streams {
		for {
			if _, err := s.next(); err != nil {
				break // the server ended the stream
			}
		}
	}
	if _, err := ts.client.Get(ts.url + "/healthz"); err == nil {
		t.Error("the side port still answers after Shutdown")
	}
}

func TestListen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().String()
	tests := []struct {
		name     string
		addr     string
		explicit bool
		wantL    bool
		wantErr  string
		wantWarn bool
	}{
		{name: "off", addr: "", explicit: true},
		{name: "free default", addr: "127.0.0.1:0", wantL: true},
		{name: "free explicit", addr: "127.0.0.1:0", explicit: true, wantL: true},
		{name: "default taken", addr: taken, wantWarn: true},
		{name: "explicit taken", addr: taken, explicit: true, wantErr: "http side port -http-addr " + taken + ": listen tcp " + taken + ": bind: address already in use"},
		{name: "explicit bad", addr: "127.0.0.1:notaport", explicit: true, wantErr: "http side port -http-addr 127.0.0.1:notaport: listen tcp: lookup tcp/notaport: unknown port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			l, err := Listen(tt.addr, tt.explicit, zap.New(core))
			if l != nil {
				l.Close()
			}
			if (l != nil) != tt.wantL {
				t.Errorf("listener %v, want one: %v", l, tt.wantL)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
			if tt.wantWarn != (len(warns) == 1) {
				t.Errorf("warnings %v, want one: %v", warns, tt.wantWarn)
			}
			if tt.wantWarn && warns[0].ContextMap()["addr"] != taken {
				t.Errorf("warning %+v does not name the address", warns[0])
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	f, _ := scriptedCamp()
	if _, err := New(Config{Log: zaptest.NewLogger(t)}); err == nil {
		t.Error("New without a Source")
	}
	if _, err := New(Config{Source: f}); err == nil {
		t.Error("New without a logger")
	}
}

// TestCacheShares checks the snapshot cache on a clock that moves only when
// told to: callers within MinInterval share one snapshot, however many and
// however concurrent, and the version moves only when the camp changes.
func TestCacheShares(t *testing.T) {
	clock := &steppedClock{t: t0}
	f := newFakeCamp(clock.now)
	f.checkin("J001", "192.0.2.7:1")
	gate := make(chan struct{})
	f.gate = gate
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &cache{src: f, min: time.Second, timeout: time.Minute, base: base, now: clock.now}

	var wg sync.WaitGroup
	entries := make([]*entry, 20)
	for i := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := c.get(context.Background())
			if err != nil {
				t.Error(err)
			}
			entries[i] = e
		}()
	}
	// A caller that gives up while the fetch is held up gets its context's
	// error, and the fetch goes on for the others.
	deadline := time.Now().Add(10 * time.Second)
	for f.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	gone, stop := context.WithCancel(context.Background())
	stop()
	if _, err := c.get(gone); !errors.Is(err, context.Canceled) {
		t.Errorf("get with a cancelled context during a fetch: %v", err)
	}
	close(gate)
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d snapshots for 20 concurrent viewers, want 1", n)
	}
	for _, e := range entries {
		if e != entries[0] || e.version != 1 || e.snap.Totals.Campers != 1 {
			t.Fatalf("viewers got different entries: %+v, %+v", e, entries[0])
		}
	}

	steps := []struct {
		name        string
		do          func()
		wantCalls   int64
		wantVersion uint64
		wantErr     bool
	}{
		{"within the interval", func() { clock.add(999 * time.Millisecond) }, 1, 1, false},
		{"after it, same camp", func() { clock.add(time.Millisecond) }, 2, 1, false},
		{"a check-in", func() { clock.add(time.Second); f.checkin("J002", "192.0.2.7:2") }, 3, 2, false},
		{"a check-in not yet seen", func() { f.checkin("J003", "192.0.2.7:3") }, 3, 2, false},
		{"seen", func() { clock.add(time.Second) }, 4, 3, false},
		{"the source fails", func() { clock.add(time.Second); f.setErr(errors.New("stopped")) }, 5, 3, true},
		{"the failure is kept for the interval", func() { f.setErr(nil) }, 5, 3, true},
		{"back, same camp", func() { clock.add(time.Second) }, 6, 3, false},
	}
	for _, st := range steps {
		st.do()
		e, err := c.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if f.calls.Load() != st.wantCalls || e.version != st.wantVersion || (e.err != nil) != st.wantErr {
			t.Errorf("%s: calls %d version %d err %v; want %d, %d, error %v", st.name, f.calls.Load(), e.version, e.err, st.wantCalls, st.wantVersion, st.wantErr)
		}
	}
}

func TestSameCamp(t *testing.T) {
	f, clock := scriptedCamp()
	a, _ := f.Snapshot(context.Background())
	clock.add(time.Minute)
	b, _ := f.Snapshot(context.Background())
	if !sameCamp(a, b) {
		t.Error("two snapshots of one camp, a minute apart, differ")
	}
	changes := []struct {
		name string
		do   func(s *Snapshot)
	}{
		{"draining", func(s *Snapshot) { s.Draining = true }},
		{"totals", func(s *Snapshot) { s.Totals.Messages++ }},
		{"a group less", func(s *Snapshot) { s.Groups = s.Groups[:1] }},
		{"group number", func(s *Snapshot) { s.Groups[1].Number = 3 }},
		{"camper id", func(s *Snapshot) { s.Groups[0].Campers[2].ID = "J009" }},
		{"camper remote", func(s *Snapshot) { s.Groups[0].Campers[2].Remote = "x" }},
		{"camper since", func(s *Snapshot) { s.Groups[0].Campers[2].Since = t0 }},
		{"session ended", func(s *Snapshot) { s.Groups[0].Session = nil }},
		{"session used", func(s *Snapshot) { s.Groups[0].Session.Used++ }},
	}
	for _, ch := range changes {
		c, _ := f.Snapshot(context.Background())
		ch.do(c)
		if sameCamp(a, c) || sameCamp(c, a) {
			t.Errorf("%s: not seen as a change", ch.name)
		}
	}
}
