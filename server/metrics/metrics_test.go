package metrics

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"campfire/internal/version"
	"campfire/protocol"
)

var testReasons = []string{"client closed", "checkout", "bad frame", "idle", "slow consumer", "shutdown"}

var testBuild = version.Info{Module: "campfire", Version: "v1.2.3", Revision: "abc123", Go: "go1.26.8"}

func newTest(t testing.TB) *Metrics {
	t.Helper()
	m, err := New(Config{CloseReasons: testReasons, Build: testBuild})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scrape fetches /metrics over a real socket, as Prometheus would, and
// parses the text format.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("Content-Type %q: want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels are
// exactly labels (name=value pairs), and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, s := range mf.GetMetric() {
		if !sameLabels(s.GetLabel(), labels) {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return s.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return s.GetGauge().GetValue(), true
		case dto.MetricType_UNTYPED:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func sameLabels(got []*dto.LabelPair, want []string) bool {
	if len(got)*2 != len(want) {
		return false
	}
	for _, lp := range got {
		found := false
		for j := 0; j < len(want); j += 2 {
			if want[j] == lp.GetName() && want[j+1] == lp.GetValue() {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestScrapeExactValues(t *testing.T) {
	m := newTest(t)

	// A scripted session: five connections check in, one starts a session
	// of 3 messages, one checks out, one sends a bad frame, one request is
	// unknown, and a slow consumer is closed.
	for range 5 {
		m.Accepted()
	}
	for range 5 {
		m.Request(protocol.MethodCheckin, 200, 3*time.Microsecond)
	}
	m.Event(EventJoined, 0+1+2+3) // the 2nd, 3rd, 4th camper are each announced to those already there
	m.Event(EventJoined, 0)       // the 5th opened group 2: nobody to tell
	m.SetCampers(5)
	m.SetGroups(2)
	m.Request(protocol.MethodPeerSession, 200, 20*time.Microsecond)
	m.Event(EventPeerSession, 4)
	m.SetSessions(1)
	for range 3 {
		m.Request(protocol.MethodMessage, 200, 7*time.Microsecond)
		m.Event(EventMessage, 3)
	}
	m.Event(EventComplete, 4)
	m.SetSessions(0)
	m.Request(protocol.MethodMessage, 409, 2*time.Microsecond)
	m.Request(0, 501, 2*time.Microsecond)
	m.Request(protocol.MethodCheckout, 200, 4*time.Microsecond)
	m.Closed(2) // checkout
	m.Event(EventLeft, 3)
	m.Request(protocol.MethodHelp, 400, 2*time.Second) // a bad frame; 2s lands past the top bucket (+Inf only)
	m.Closed(3)                                        // bad frame
	m.SlowConsumer()
	m.Closed(5) // slow consumer
	m.SetCampers(2)
	m.Received(1234)
	m.Sent(5678)
	m.Sent(0)
	m.Received(-1)
	m.Event(0, 5)         // no such event: ignored
	m.Request(99, 200, 0) // method out of range: counted as unknown
	m.Request(0, 299, 0)  // not a CAMP status: its own label
	m.Closed(0)           // reason out of range
	m.Closed(len(testReasons) + 1)

	mfs := scrape(t, m)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{NameConnections, nil, 5 - 5},
		{NameConnectionsAccepted, nil, 5},
		{NameConnectionsClosed, []string{"reason", "checkout"}, 1},
		{NameConnectionsClosed, []string{"reason", "bad frame"}, 1},
		{NameConnectionsClosed, []string{"reason", "slow consumer"}, 1},
		{NameConnectionsClosed, []string{"reason", "client closed"}, 0},
		{NameConnectionsClosed, []string{"reason", "shutdown"}, 0},
		{NameConnectionsClosed, []string{"reason", UnknownLabel}, 2},
		{NameCampers, nil, 2},
		{NameGroups, nil, 2},
		{NameSessions, nil, 0},
		{NameRequests, []string{"method", "checkin", "code", "200"}, 5},
		{NameRequests, []string{"method", "peersession", "code", "200"}, 1},
		{NameRequests, []string{"method", "message", "code", "200"}, 3},
		{NameRequests, []string{"method", "message", "code", "409"}, 1},
		{NameRequests, []string{"method", "checkout", "code", "200"}, 1},
		{NameRequests, []string{"method", "help", "code", "400"}, 1},
		{NameRequests, []string{"method", "unknown", "code", "501"}, 1},
		{NameRequests, []string{"method", "unknown", "code", "200"}, 1},
		{NameRequests, []string{"method", "unknown", "code", "299"}, 1},
		{NameRequests, []string{"method", "direct", "code", "404"}, 0},
		{NameRequests, []string{"method", "ping", "code", "408"}, 0},
		{NameEvents, []string{"event", "joined"}, 6},
		{NameEvents, []string{"event", "left"}, 3},
		{NameEvents, []string{"event", "peersession"}, 4},
		{NameEvents, []string{"event", "complete"}, 4},
		{NameEvents, []string{"event", "message"}, 9},
		{NameEvents, []string{"event", "direct"}, 0},
		{NameEvents, []string{"event", "shutdown"}, 0},
		{NameReceivedBytes, nil, 1234},
		{NameSentBytes, nil, 5678},
		{NameSlowConsumers, nil, 1},
		{NameBuildInfo, []string{"version", "v1.2.3", "revision", "abc123", "goversion", "go1.26.8"}, 1},
	}
	for _, tt := range tests {
		got, ok := value(mfs, tt.name, tt.labels...)
		if !ok {
			t.Errorf("%s%v: no such sample", tt.name, tt.labels)
			continue
		}
		if got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	// Every method by every CAMP status is there from the start, so a
	// dashboard's rate() sees the first request of each.
	methods := 0
	for meth := protocol.Method(0); meth == 0 || meth.String() != "UNKNOWN"; meth++ {
		methods++
	}
	if got, want := len(mfs[NameRequests].GetMetric()), methods*len(codes)+1; got != want {
		t.Errorf("%s has %d series, want %d (every method by every code, and code 299)", NameRequests, got, want)
	}

	h := mfs[NameRequestSeconds]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s: no histogram", NameRequestSeconds)
	}
	hist := h.GetMetric()[0].GetHistogram()
	if got := hist.GetSampleCount(); got != 15 {
		t.Errorf("%s count = %d, want 15", NameRequestSeconds, got)
	}
	wantSum := (5*3+20+3*7+2+2+4+0+0)*1e-6 + 2
	if got := hist.GetSampleSum(); math.Abs(got-wantSum) > 1e-12 {
		t.Errorf("%s sum = %v, want %v", NameRequestSeconds, got, wantSum)
	}
	wantLE := map[float64]uint64{1e-6: 2, 2.5e-6: 4, 5e-6: 10, 1e-5: 13, 2.5e-5: 14, 1: 14}
	for _, b := range hist.GetBucket() {
		if want, ok := wantLE[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
			t.Errorf("%s{le=%v} = %d, want %d", NameRequestSeconds, b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}

	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("%s missing: the Go and process collectors must be registered", name)
		}
	}
}

func TestNewRejectsBadReasons(t *testing.T) {
	tests := []struct {
		name string
		give []string
		want error
	}{
		{"empty name", []string{"idle", ""}, errEmptyReason},
		{"duplicate", []string{"idle", "checkout", "idle"}, errDuplicateReason},
		{"reserved", []string{"unknown"}, errReservedReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{CloseReasons: tt.give, Build: testBuild})
			if !errors.Is(err, tt.want) {
				t.Errorf("New(%q) = %v, want %v", tt.give, err, tt.want)
			}
		})
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New with no reasons and the running build: %v", err)
	}
}

func TestEventKind(t *testing.T) {
	tests := []struct {
		give string
		want EventKind
		name string
	}{
		{protocol.EventJoined, EventJoined, "joined"},
		{protocol.EventLeft, EventLeft, "left"},
		{protocol.EventPeerSession, EventPeerSession, "peersession"},
		{protocol.EventComplete, EventComplete, "complete"},
		{protocol.EventMessage, EventMessage, "message"},
		{"direct", EventDirect, "direct"},
		{protocol.EventShutdown, EventShutdown, "shutdown"},
		{"PING", 0, "none"},
	}
	for _, tt := range tests {
		got := LookupEvent(tt.give)
		if got != tt.want {
			t.Errorf("LookupEvent(%q) = %d, want %d", tt.give, got, tt.want)
		}
		if got.String() != tt.name {
			t.Errorf("EventKind(%d).String() = %q, want %q", got, got.String(), tt.name)
		}
	}
}

// TestHotPathAllocs asserts that nothing the loops call per message
// allocates.
func TestHotPathAllocs(t *testing.T) {
	m := newTest(t)
	tests := []struct {
		name string
		f    func()
	}{
		{"Accepted", m.Accepted},
		{"Closed", func() { m.Closed(2) }},
		{"SetCampers", func() { m.SetCampers(19000) }},
		{"SetGroups", func() { m.SetGroups(4750) }},
		{"SetSessions", func() { m.SetSessions(12) }},
		{"Request", func() { m.Request(protocol.MethodMessage, protocol.StatusOK, 5*time.Microsecond) }},
		{"Request unknown method", func() { m.Request(0, protocol.StatusNotImplemented, time.Microsecond) }},
		{"Request 408", func() { m.Request(protocol.MethodPing, 408, time.Second) }},
		{"Event", func() { m.Event(EventMessage, 3) }},
		{"Received", func() { m.Received(512) }},
		{"Sent", func() { m.Sent(4096) }},
		{"SlowConsumer", m.SlowConsumer},
		{"nil Metrics", func() { var n *Metrics; n.Request(protocol.MethodPing, 200, 0); n.Event(EventLeft, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if allocs := testing.AllocsPerRun(1000, tt.f); allocs != 0 {
				t.Errorf("%s: %v allocations per call, want 0", tt.name, allocs)
			}
		})
	}
}

// TestConcurrentLoops runs the hot path from several goroutines, as
// several event loops do, and checks that no update is lost.
func TestConcurrentLoops(t *testing.T) {
	m := newTest(t)
	const loops, perLoop = 4, 1000
	var wg sync.WaitGroup
	for range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perLoop {
				m.Accepted()
				m.Request(protocol.MethodMessage, protocol.StatusOK, time.Microsecond)
				m.Event(EventMessage, 3)
				m.Sent(10)
				m.Closed(1)
			}
		}()
	}
	wg.Wait()
	mfs := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{NameConnections, nil, 0},
		{NameConnectionsAccepted, nil, loops * perLoop},
		{NameConnectionsClosed, []string{"reason", "client closed"}, loops * perLoop},
		{NameRequests, []string{"method", "message", "code", "200"}, loops * perLoop},
		{NameEvents, []string{"event", "message"}, 3 * loops * perLoop},
		{NameSentBytes, nil, 10 * loops * perLoop},
	} {
		if got, _ := value(mfs, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

// BenchmarkMessage is what one delivered message costs in metrics: the
// request, its events to three peers, and the bytes in and out.
func BenchmarkMessage(b *testing.B) {
	m := newTest(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Received(40)
		m.Request(protocol.MethodMessage, protocol.StatusOK, 5*time.Microsecond)
		m.Event(EventMessage, 3)
		m.Sent(3 * 50)
	}
}

// BenchmarkMessageParallel is BenchmarkMessage from every core at once, as
// with -loops N: the cost of sharing the counters' cache lines.
func BenchmarkMessageParallel(b *testing.B) {
	m := newTest(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Received(40)
			m.Request(protocol.MethodMessage, protocol.StatusOK, 5*time.Microsecond)
			m.Event(EventMessage, 3)
			m.Sent(3 * 50)
		}
	})
}

func BenchmarkRequest(b *testing.B) {
	m := newTest(b)
	b.ReportAllocs()
	codes := []int{200, 400, 409, 501}
	for i := 0; b.Loop(); i++ {
		m.Request(protocol.Method(i%10), codes[i%len(codes)], time.Duration(i%1000)*time.Microsecond)
	}
}
