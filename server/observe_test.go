package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap/zaptest"

	"campfire/protocol"
	"campfire/server"
	"campfire/server/web"
)

// TestSidePort runs a scripted camp against a server with its side port
// and checks what an operator sees: exact counters in /metrics (parsed as
// Prometheus text), /api/camp equal to the camp, and /healthz turning 503
// when the shutdown begins.
func TestSidePort(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.HTTPExplicit = true
	cfg.Grace = 3 * time.Second
	cfg.Loops = *loops
	s, err := server.Start(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.HTTPAddr()

	// The script: five check in (four in group 1, one in group 2), J001
	// runs a session of 5 with 3 messages, J004 checks out, and one more
	// connection sends a bad frame.
	cs := make([]*client, 5)
	for i := range cs {
		cs[i] = dial(t, s.Addr())
		cs[i].checkin(id(i + 1))
	}
	cs[0].send("peersession 5\r\n")
	cs[0].skipToStatus(protocol.StatusOK)
	for _, c := range cs[:4] {
		c.skipToEvent("PEERSESSION")
	}
	for i := range 3 {
		cs[i].send(fmt.Sprintf("message hello %d\r\n", i))
		cs[i].skipToStatus(protocol.StatusOK)
	}
	cs[3].send("checkout\r\n")
	cs[3].skipToStatus(protocol.StatusOK)
	cs[3].expectEOF()
	bad := dial(t, s.Addr())
	bad.send("MESSAGE CAMP/1.0\r\nContent-Length: x\r\n\r\n")
	bad.expectStatus(protocol.StatusBadRequest)
	bad.expectEOF()
	// Every camper still in has read all it was sent.
	for _, c := range []*client{cs[0], cs[1], cs[2], cs[4]} {
		c.send("ping\r\n")
		c.skipToStatus(protocol.StatusOK)
	}

	counter := func(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
		f := families[name]
		if f == nil {
			return -1
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		return 0
	}
	// Counters move on the loops a moment after the replies went out:
	// poll until they settle, with a deadline.
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"campfire_connections_accepted_total", nil, 6},
		{"campfire_connections", nil, 4},
		{"campfire_connections_closed_total", []string{"reason", "checkout"}, 1},
		{"campfire_connections_closed_total", []string{"reason", "bad frame"}, 1},
		{"campfire_campers", nil, 4},
		{"campfire_groups", nil, 2},
		{"campfire_sessions", nil, 1},
		{"campfire_requests_total", []string{"method", "checkin", "code", "200"}, 5},
		{"campfire_requests_total", []string{"method", "peersession", "code", "200"}, 1},
		{"campfire_requests_total", []string{"method", "message", "code", "200"}, 3},
		{"campfire_requests_total", []string{"method", "checkout", "code", "200"}, 1},
		{"campfire_requests_total", []string{"method", "ping", "code", "200"}, 4},
		{"campfire_requests_total", []string{"method", "unknown", "code", "400"}, 1},
		{"campfire_request_seconds", nil, 15},
		// JOINED: 1+2+3 in group 1; PEERSESSION to the four; MESSAGE to the
		// three others each; LEFT J004 to J001-J003.
		{"campfire_events_total", []string{"event", "joined"}, 6},
		{"campfire_events_total", []string{"event", "peersession"}, 4},
		{"campfire_events_total", []string{"event", "message"}, 9},
		{"campfire_events_total", []string{"event", "left"}, 3},
		{"campfire_slow_consumers_total", nil, 0},
	}
	deadline := time.Now().Add(waitFor)
	for {
		families := scrape(t, base+"/metrics")
		var wrong []string
		for _, tt := range tests {
			if got := counter(families, tt.name, tt.labels...); got != tt.want {
				wrong = append(wrong, fmt.Sprintf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want))
			}
		}
		if sent := counter(families, "campfire_sent_bytes_total"); sent <= 0 {
			wrong = append(wrong, "no bytes sent")
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range wrong {
				t.Error(w)
			}
			break
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}

	// /api/camp is the camp.
	var view web.View
	getJSON(t, base+"/api/camp", &view)
	if got, want := view.Totals, (web.Totals{Connections: 4, Campers: 4, Groups: 2, Sessions: 1, Messages: 3}); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	if len(view.Groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(view.Groups), view.Groups)
	}
	g1, g2 := view.Groups[0], view.Groups[1]
	var ids []string
	for _, c := range g1.Campers {
		ids = append(ids, c.ID)
	}
	if fmt.Sprint(ids) != "[J001 J002 J003]" || g1.Session == nil || *g1.Session != (web.Session{Host: "J001", Max: 5, Used: 3}) {
		t.Errorf("group 1: %v, session %+v", ids, g1.Session)
	}
	if len(g2.Campers) != 1 || g2.Campers[0].ID != "J005" || g2.Campers[0].Remote != cs[4].conn.LocalAddr().String() {
		t.Errorf("group 2: %+v, want J005 from %s", g2.Campers, cs[4].conn.LocalAddr())
	}

	// /healthz: 200 while serving, 503 from the moment the shutdown begins
	// (a camper that does not leave keeps the drain going meanwhile).
	if code := getStatus(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d while serving", code)
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	cs[0].skipToEvent("SHUTDOWN")
	if code := getStatus(t, base+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz %d while draining, want 503", code)
	}
	for _, c := range cs {
		_ = c.conn.Close()
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return families
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// skipToEvent reads frames until the event name arrives.
func (c *client) skipToEvent(name string) frame {
	c.t.Helper()
	for {
		if f := c.next(); func() bool { n, _ := f.event(); return n == name }() {
			return f
		}
	}
}

// TestSidePortTaken: a side port address that is taken is an error when
// the operator chose it, and only a warning (the camp serves without a
// side port) when it is the default.
func TestSidePortTaken(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, explicit := range []bool{false, true} {
		cfg := server.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.HTTPAddr = busy.Addr().String()
		cfg.HTTPExplicit = explicit
		s, err := server.Start(cfg, zaptest.NewLogger(t))
		switch {
		case explicit && err == nil:
			shutdown(t, s)
			t.Error("an explicit side port that is taken did not fail the start")
		case !explicit && err != nil:
			t.Errorf("the default side port taken failed the start: %v", err)
		case !explicit:
			if got := s.HTTPAddr(); got != "" {
				t.Errorf("side port %q, want none", got)
			}
			shutdown(t, s)
		}
	}
}
