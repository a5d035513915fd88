package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fullReport has a distinct value in every field, so that a figure missing
// from the output shows.
func fullReport() *Report {
	return &Report{
		Scenario: "peers", Addr: "127.0.0.1:2022", Conns: 10000, Sources: 39, Size: 64, Depth: 3, TLS: true,
		Warmup: 1.5, Window: 20,
		Connected: 9999, ConnectTime: 1.234, ConnectRate: 8103,
		CheckedIn: 9998, CheckinTime: 0.567, CheckinRate: 17633,
		RequestedRate: 20000, OfferedRate: 19876, Sent: 397520, Senders: 9996, Missed: 12,
		Delivered: 1192560, DeliveredRate: 59628, Bytes: 76323840, BytesRate: 3816192,
		Latency:   Summary{Samples: 1192559, Mean: 123.5, P50: 101, P90: 202, P99: 303, P999: 404, Max: 505},
		Errors:    map[string]int64{"dial": 1, "closed": 2},
		Histogram: "HISTFAKE", Timeline: &Timeline{Slot: 1, Histograms: []string{"SLOT0", "SLOT1"}, Sent: []int64{19000, 19500}},
		Procs: 3, Steal: 0.031, Busy: 0.874, Others: 0.052, HarnessCPU: 4.5,
		Server: &ServerFigures{
			PID: 4242, PIDs: []int{4242, 4244}, RSSBefore: 7000000, RSSCheckedIn: 15000000, RSSEnd: 16000000,
			RSSPerConn: 800.7, CPU: 12.75, CPUUser: 2.5, CPUPerMsg: 10.69, Wall: 20.5, NumThreads: 9,
			Threads: []ThreadFigures{{TID: 4243, Name: "campfire", Run: 12.3, Wait: 8.2, Slices: 5555}, {TID: 4250, Name: "gc", Run: 1.1, Wait: 0.4, Slices: 77}},
		},
		Nodes: []*ServerFigures{{PID: 4244, RSSBefore: 5000000, RSSCheckedIn: 6000000, RSSEnd: 6500000, RSSPerConn: 300.2, CPU: 1.5, CPUPerMsg: 1.25}},
		Notes: []string{"offered 19876/s of requested 20000/s"},
	}
}

func TestReportTable(t *testing.T) {
	var b bytes.Buffer
	if err := fullReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, want := range []string{
		"peers against 127.0.0.1:2022", "10000 from 39 source addresses in 3 processes", "size 64", "depth 3",
		"20.00s measured after 1.50s warmup",
		"9999 in 1.234s = 8103/s", "9998 in 0.567s = 17633/s",
		"19876/s of requested 20000/s (397520 sent)",
		"1192560 = 59628/s", "76323840 = 3816192/s",
		"n=1192559", "mean=123.5µs", "p50=101µs", "p90=202µs", "p99=303µs", "p99.9=404µs", "max=505µs",
		"closed=2 dial=1",
		"pids 4242,4244 summed: 7000000 before", "(mean of the nodes)",
		"pid 4244: rss 5000000 before, 6000000 checked in, 6500000 at end = 300 bytes/conn; cpu 1.50s = 1.25µs per delivered message", "15000000 checked in", "16000000 at end",
		"801 bytes", "12.75s (2.50s user, 10.25s system) = 10.69µs per delivered message",
		"87.4% busy, 3.1% stolen by the hypervisor, 5.2% used by others (harness 4.50s CPU) during the window",
		"9; busiest over 20.50s:", "tid 4243 (campfire): 60.0% on CPU, 40.0% waiting for a CPU, 5555 timeslices",
		"tid 4250 (gc): 5.4% on CPU, 2.0% waiting for a CPU, 77 timeslices",
		"note", "offered 19876/s of requested 20000/s",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestReportJSON(t *testing.T) {
	want := fullReport()
	var b bytes.Buffer
	if err := want.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("JSON round trip = %+v, want %+v", got, *want)
	}
	// Every field, nested ones included, has a non-zero value in
	// fullReport, so each must appear under its own key.
	var keys map[string]any
	if err := json.Unmarshal(b.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, reflect.TypeOf(Report{}), keys, "")
}

// checkKeys checks that every field of type typ has its JSON key in m.
func checkKeys(t *testing.T, typ reflect.Type, m map[string]any, path string) {
	t.Helper()
	for f := range typ.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		v, ok := m[key]
		if !ok {
			t.Errorf("JSON lacks %s%s", path, key)
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			checkKeys(t, ft, v.(map[string]any), path+key+".")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			checkKeys(t, ft.Elem(), v.([]any)[0].(map[string]any), path+key+"[0].")
		}
	}
}

func TestErrorCounts(t *testing.T) {
	var e errorCounts
	e.add(ErrDial)
	e.add(ErrDial)
	e.add(ErrEnded)
	if got, want := e.byName(), map[string]int64{"dial": 2, "session-ended": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("byName() = %v, want %v", got, want)
	}
	if e.total() != 3 {
		t.Errorf("total() = %d, want 3", e.total())
	}
	for k := ErrKind(1); k < numErrKinds; k++ {
		if k.String() == "" || k.String() == "unknown" {
			t.Errorf("ErrKind(%d) has no name", k)
		}
	}
}
