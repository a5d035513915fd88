package groups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
)

// tc is the tests' connection: its number (shown as cN) and the seat a
// camp keeps in it.
type tc struct {
	n    int
	seat Seat
}

func (p *tc) Seat() *Seat { return &p.seat }

// testCamp is a Camp under test with its connections by number. Each
// camp has connections of its own, since a connection sits in one camp
// at a time: a twin restored from a snapshot gets its own cN.
type testCamp struct {
	*Camp[*tc]
	conns map[int]*tc
}

// newTestCamp returns an empty camp made with cfg.
func newTestCamp(cfg Config) *testCamp {
	return &testCamp{Camp: New[*tc](cfg), conns: map[int]*tc{}}
}

// conn returns c's connection number n, made on first use.
func (c *testCamp) conn(n int) *tc {
	p := c.conns[n]
	if p == nil {
		p = &tc{n: n}
		c.conns[n] = p
	}
	return p
}

// restoreTestCamp restores snap, whose keys appendIntKey wrote, into a
// camp with connections of its own. It returns what Restore returns: a
// camp, or nil and the error.
func restoreTestCamp(cfg Config, snap []byte) (*testCamp, error) {
	c := &testCamp{conns: map[int]*tc{}}
	camp, err := Restore(cfg, snap, func(b []byte) (*tc, error) {
		n, err := parseIntKey(b)
		if err != nil {
			return nil, err
		}
		return c.conn(n), nil
	})
	if camp == nil {
		return nil, err
	}
	c.Camp = camp
	return c, err
}

// camper returns the id checked in on connection number n, or 0.
func (c *testCamp) camper(n int) protocol.CampID {
	num, i, ok := c.find(c.conn(n))
	if !ok {
		return 0
	}
	return c.groups.at(num).ids[i]
}

// t0 is the time the tests start their camps at.
func t0() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) }

// parseRequest parses raw, one request in short form (without its line
// end) or whole full form, as the server would. The request's slices point
// into a copy of raw.
func parseRequest(tb testing.TB, raw string) *protocol.Request {
	tb.Helper()
	buf := []byte(raw)
	if !strings.Contains(raw, "\n") {
		buf = append(buf, '\n')
	}
	var p protocol.Parser
	var f protocol.Frame
	n, ok, err := p.Parse(buf, &f)
	if err != nil || !ok || n != len(buf) {
		tb.Fatalf("parse %q: n=%d ok=%v err=%v", raw, n, ok, err)
	}
	req := f.Request()
	return &req
}

// render decodes b, which must be exactly one response or event frame, into
// one line: "200 Group: 1" or "MESSAGE J001 Group: 1 \"hi\"". Content-Length
// is left out (the decoder checked it) and so is the Content-Type of
// errors, which TestErrorBody checks.
func render(tb testing.TB, b []byte) string {
	tb.Helper()
	r := protocol.NewReader(bytes.NewReader(b), 0)
	f, err := r.Next()
	if err != nil {
		tb.Fatalf("decode %q: %v", b, err)
	}
	var sb strings.Builder
	if code, ok := f.Status(); ok {
		fmt.Fprintf(&sb, "%d", code)
	} else if name, arg, ok := f.Event(); ok {
		fmt.Fprintf(&sb, "%s %s", name, arg)
	} else {
		tb.Fatalf("neither a response nor an event: %q", f.Start)
	}
	for name, value := range f.Headers() {
		switch string(name) {
		case protocol.HeaderContentLength, protocol.HeaderContentType:
			continue
		}
		fmt.Fprintf(&sb, " %s: %s", name, value)
	}
	if f.Body != nil {
		fmt.Fprintf(&sb, " %q", f.Body)
	}
	if _, err := r.Next(); err != io.EOF {
		tb.Fatalf("more than one frame in %q: %v", b, err)
	}
	return sb.String()
}

// renderResult renders the reply (if any) and then every delivery as
// "cN: frame".
func renderResult(tb testing.TB, res Result[*tc]) []string {
	tb.Helper()
	var out []string
	if res.Reply != nil {
		out = append(out, render(tb, res.Reply))
	}
	for _, d := range res.Deliveries {
		out = append(out, fmt.Sprintf("c%d: %s", d.To.n, render(tb, d.Frame)))
	}
	return out
}

// step is one call in a scripted test.
type step struct {
	conn  int
	send  string        // the request; ignored with leave
	leave bool          // call Leave instead of Handle
	at    time.Duration // time since t0; 0 keeps the previous step's time
	// want is the reply, then "cN: frame" for each delivery; nil means the
	// step only sets up and its result is not checked.
	want   []string
	close  bool
	change string // "checkin J001 1" or "checkout J001 1"; "" for none
	// do, if set, is called instead of sending anything (e.g. to drain).
	do func(*testCamp)
}

// run plays steps against a fresh camp made with cfg and returns it.
func run(t *testing.T, cfg Config, steps []step) *testCamp {
	t.Helper()
	c := newTestCamp(cfg)
	play(t, c, steps)
	return c
}

// play plays steps against c, starting at t0.
func play(t testing.TB, c *testCamp, steps []step) {
	t.Helper()
	now := t0()
	for i, s := range steps {
		if s.at != 0 {
			now = t0().Add(s.at)
		}
		if s.do != nil {
			s.do(c)
			continue
		}
		var res Result[*tc]
		what := fmt.Sprintf("step %d: c%d leave", i, s.conn)
		if s.leave {
			res = c.Leave(c.conn(s.conn), now)
		} else {
			what = fmt.Sprintf("step %d: c%d %q", i, s.conn, s.send)
			res = c.Handle(c.conn(s.conn), parseRequest(t, s.send), now)
			if res.Reply == nil {
				t.Fatalf("%s: no reply", what)
			}
		}
		if s.want == nil {
			continue
		}
		got := renderResult(t, res)
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(s.want, "\n  "))
		}
		if res.Close != s.close {
			t.Errorf("%s: Close = %v, want %v", what, res.Close, s.close)
		}
		var change string
		if res.Change.Kind != 0 {
			change = fmt.Sprintf("%s %s %d", res.Change.Kind, c.ids.Format(res.Change.ID), res.Change.Group)
		}
		if change != s.change {
			t.Errorf("%s: Change = %q, want %q", what, change, s.change)
		}
	}
}

// checkins returns setup steps that check in ids J001.. on connections
// 1.. in order, one per connection.
func checkins(n int) []step {
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{conn: i + 1, send: fmt.Sprintf("checkin J%03d", i+1)}
	}
	return steps
}

// with returns setup followed by more, without sharing setup's array.
func with(setup []step, more ...step) []step {
	return append(append([]step(nil), setup...), more...)
}

// appendIntKey is the snapshot key of the tests' connections: the number.
func appendIntKey(dst []byte, p *tc) []byte { return binary.AppendVarint(dst, int64(p.n)) }

// parseIntKey reads back what appendIntKey wrote, in its shortest form
// only, so that Restore followed by AppendSnapshot gives the same bytes.
func parseIntKey(b []byte) (int, error) {
	v, n := binary.Varint(b)
	if n <= 0 || n != len(b) || (n > 1 && b[n-1] == 0) {
		return 0, fmt.Errorf("connection key %x: want one varint in its shortest form", b)
	}
	return int(v), nil
}

// checkEach checks that Each shows exactly the non-empty groups of c, in
// ascending order, as they are.
func checkEach(tb testing.TB, what string, c *testCamp) {
	tb.Helper()
	next := 0 // index in c.groups of the next group Each must show
	for v := range c.Each {
		for next < c.groups.len() && c.groups.at(next+1).n == 0 {
			next++
		}
		if next == c.groups.len() || v.Number != next+1 {
			tb.Fatalf("%s: Each shows group %d, want %d of %d", what, v.Number, next+1, c.groups.len())
		}
		g := c.groups.at(next + 1)
		next++
		if len(v.Members) != g.n {
			tb.Fatalf("%s: Each shows %d campers in group %d, want %d", what, len(v.Members), v.Number, g.n)
		}
		for j, m := range v.Members {
			want := Member[*tc]{ID: g.ids[j], Conn: g.conns[j], Since: time.Unix(0, g.since[j]).UTC()}
			if m != want {
				tb.Fatalf("%s: Each shows seat %d of group %d as %+v, want %+v", what, j, v.Number, m, want)
			}
		}
		want := Session{}
		if g.session {
			want = Session{Host: g.host, Max: int(g.max), Remaining: int(g.remaining)}
		}
		if v.Session != want || v.Session.Running() != g.session {
			tb.Fatalf("%s: Each shows the session of group %d as %+v, want %+v", what, v.Number, v.Session, want)
		}
	}
	for next < c.groups.len() && c.groups.at(next+1).n == 0 {
		next++
	}
	if next != c.groups.len() {
		tb.Fatalf("%s: Each stopped before group %d", what, next+1)
	}
}
