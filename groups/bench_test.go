package groups

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"campfire/protocol"
)

// benchConn stands in for the server's connection: Camps are keyed by a
// pointer that holds its seat, as in the gnet server.
type benchConn struct {
	n    int
	seat Seat
}

func (p *benchConn) Seat() *Seat { return &p.seat }

// spareConns returns n connections for a camp restored from a snapshot
// of another: a connection sits in one camp at a time.
func spareConns(n int) []*benchConn {
	conns := make([]*benchConn, n)
	for i := range conns {
		conns[i] = &benchConn{n: i}
	}
	return conns
}

// fanout is a group of four in a peer session, one of whom sends messages.
type fanout struct {
	c     *Camp[*benchConn]
	conns []*benchConn
	start *protocol.Request // peersession, sent by conns[0]
	msg   *protocol.Request // message, sent by conns[1]
	now   time.Time
}

func newFanout(tb testing.TB) *fanout {
	tb.Helper()
	f := &fanout{
		c:     New[*benchConn](Config{}),
		start: parseRequest(tb, fmt.Sprintf("peersession %d", protocol.MaxPeerSession)),
		msg:   parseRequest(tb, "message hello, campers"),
		now:   t0(),
	}
	for i := range GroupSize {
		p := &benchConn{n: i}
		f.conns = append(f.conns, p)
		f.c.Handle(p, parseRequest(tb, fmt.Sprintf("checkin J%03d", i+1)), f.now)
	}
	f.c.Handle(f.conns[0], f.start, f.now)
	return f
}

// send sends one message and restarts the session when the message ended
// it; it reports the number of deliveries of the message itself.
func (f *fanout) send() int {
	res := f.c.Handle(f.conns[1], f.msg, f.now)
	n := len(res.Deliveries)
	if n != GroupSize-1 {
		f.c.Handle(f.conns[0], f.start, f.now)
	}
	return n
}

func TestMessageFanoutAllocs(t *testing.T) {
	f := newFanout(t)
	f.send() // the scratch buffers grow on first use
	allocs := testing.AllocsPerRun(1000, func() {
		if n := f.send(); n != GroupSize-1 {
			t.Fatalf("message made %d deliveries, want %d", n, GroupSize-1)
		}
	})
	if allocs != 0 {
		t.Errorf("message fan-out to a group of %d: %v allocs per message, want 0", GroupSize, allocs)
	}
}

// TestBroadcastSharesFrame checks that every recipient of one broadcast
// gets the same bytes, and that the slices handed out are capped so that
// appending to one cannot overwrite the next.
func TestBroadcastSharesFrame(t *testing.T) {
	f := newFanout(t)
	res := f.c.Handle(f.conns[1], f.msg, f.now)
	if len(res.Deliveries) != GroupSize-1 {
		t.Fatalf("got %d deliveries, want %d", len(res.Deliveries), GroupSize-1)
	}
	first := res.Deliveries[0].Frame
	for i, d := range res.Deliveries {
		if &d.Frame[0] != &first[0] || len(d.Frame) != len(first) {
			t.Errorf("delivery %d has its own copy of the frame", i)
		}
		if cap(d.Frame) != len(d.Frame) {
			t.Errorf("delivery %d: cap %d, len %d", i, cap(d.Frame), len(d.Frame))
		}
	}
	if cap(res.Reply) != len(res.Reply) {
		t.Errorf("reply: cap %d, len %d", cap(res.Reply), len(res.Reply))
	}
}

// TestFramesSurviveGrowth sends a message large enough to move the scratch
// buffer while the call encodes its later frames: the reply and every
// delivery must still hold the right bytes.
func TestFramesSurviveGrowth(t *testing.T) {
	body := make([]byte, 20000)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	raw := fmt.Sprintf("MESSAGE CAMP/1.0\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	want := []string{
		"200 Remaining: 0",
		fmt.Sprintf("c1: MESSAGE J002 Group: 1 %q", body),
		fmt.Sprintf("c3: MESSAGE J002 Group: 1 %q", body),
		"c1: COMPLETE J001 Group: 1 Reason: limit",
		"c2: COMPLETE J001 Group: 1 Reason: limit",
		"c3: COMPLETE J001 Group: 1 Reason: limit",
	}
	run(t, Config{}, with(checkins(3),
		step{conn: 1, send: "peersession 1"},
		step{conn: 2, send: raw, want: want},
	))
}

func BenchmarkMessageFanout(b *testing.B) {
	f := newFanout(b)
	b.ReportAllocs()
	for b.Loop() {
		f.send()
	}
}

func BenchmarkCheckinCheckout(b *testing.B) {
	ids, err := protocol.ParseIDRange("J00001-J50000")
	if err != nil {
		b.Fatal(err)
	}
	// spread churns campers all over the camp; local churns only the first
	// 1000 of them, so that the working set, and with it the cache misses,
	// is the same at every size and only the algorithm's cost remains.
	for _, tt := range []struct {
		name    string
		campers int
		window  int
	}{
		{"spread", 1000, 1000},
		{"spread", 19000, 19000},
		{"local", 1000, 1000},
		{"local", 19000, 1000},
	} {
		n := tt.campers
		b.Run(fmt.Sprintf("%s/campers=%d", tt.name, n), func(b *testing.B) {
			c := New[*benchConn](Config{IDs: ids})
			now := t0()
			conns := make([]*benchConn, n)
			checkin := make([]*protocol.Request, n)
			for i := range n {
				conns[i] = &benchConn{n: i}
				checkin[i] = parseRequest(b, "checkin "+ids.Format(protocol.CampID(i+1)))
				if res := c.Handle(conns[i], checkin[i], now); res.Change.Kind != ChangeCheckin {
					b.Fatalf("checkin %d: %s", i, res.Reply)
				}
			}
			checkout := parseRequest(b, "checkout")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A stride that is prime to the window visits every camper
				// in it, so the freed seat is in a different group each time.
				k := i * 7919 % tt.window
				i++
				if res := c.Handle(conns[k], checkout, now); !res.Close {
					b.Fatalf("checkout %d: %s", k, res.Reply)
				}
				if res := c.Handle(conns[k], checkin[k], now); res.Change.Kind != ChangeCheckin {
					b.Fatalf("checkin %d: %s", k, res.Reply)
				}
			}
			if c.Len() != n || c.Groups() != n/GroupSize {
				b.Fatalf("Len, Groups = %d, %d; want %d, %d", c.Len(), c.Groups(), n, n/GroupSize)
			}
		})
	}
}

// campOf19000 returns a camp of 19,000 campers, as one node holds at most,
// checked in a millisecond apart, with a session in every other group,
// and its connections. Connection keys are encoded as the cluster's would
// be: node, node epoch, connection id.
func campOf19000(tb testing.TB) (*Camp[*benchConn], []*benchConn) {
	tb.Helper()
	ids, err := protocol.ParseIDRange("J00001-J50000")
	if err != nil {
		tb.Fatal(err)
	}
	const n = 19000
	c := New[*benchConn](Config{IDs: ids})
	conns := make([]*benchConn, n)
	now := t0()
	start := parseRequest(tb, "peersession 1000")
	for i := range n {
		now = now.Add(time.Millisecond)
		conns[i] = &benchConn{n: i}
		if res := c.Handle(conns[i], parseRequest(tb, "checkin "+ids.Format(protocol.CampID(i+1))), now); res.Change.Kind != ChangeCheckin {
			tb.Fatalf("checkin %d: %s", i, res.Reply)
		}
		if i%(2*GroupSize) == 0 {
			c.Handle(conns[i], start, now)
		}
	}
	return c, conns
}

// Connection keys of the benchmarks: node 3, epoch 1740819600, the
// connection's number.
func appendBenchKey(dst []byte, p *benchConn) []byte {
	dst = binary.AppendUvarint(dst, 3)
	dst = binary.AppendUvarint(dst, 1740819600)
	return binary.AppendUvarint(dst, uint64(p.n))
}

func benchKeyParser(conns []*benchConn) func([]byte) (*benchConn, error) {
	return func(b []byte) (*benchConn, error) {
		_, n1 := binary.Uvarint(b)
		_, n2 := binary.Uvarint(b[max(n1, 0):])
		id, n3 := binary.Uvarint(b[max(n1, 0)+max(n2, 0):])
		if n1 <= 0 || n2 <= 0 || n3 <= 0 || id >= uint64(len(conns)) {
			return nil, fmt.Errorf("connection key %x: no such connection", b)
		}
		return conns[id], nil
	}
}

func TestSnapshotAllocs(t *testing.T) {
	c, conns := campOf19000(t)
	conns = spareConns(len(conns))
	buf := c.AppendSnapshot(nil, appendBenchKey)
	var digest uint64
	allocs := testing.AllocsPerRun(10, func() {
		buf = c.AppendSnapshot(buf[:0], appendBenchKey)
		digest = c.Digest()
	})
	if allocs != 0 {
		t.Errorf("AppendSnapshot into a buffer with room, and Digest: %v allocs, want 0", allocs)
	}
	r, err := Restore(Config{IDs: c.ids}, buf, benchKeyParser(conns))
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if r.Digest() != digest || r.Len() != 19000 || r.Sessions() != c.Sessions() {
		t.Errorf("restored: digest %016x, %d campers, %d sessions; want %016x, 19000, %d", r.Digest(), r.Len(), r.Sessions(), digest, c.Sessions())
	}
}

func BenchmarkSnapshot(b *testing.B) {
	c, _ := campOf19000(b)
	buf := c.AppendSnapshot(nil, appendBenchKey)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.AppendSnapshot(buf[:0], appendBenchKey)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
	b.ReportMetric(float64(len(buf))/float64(c.Len()), "bytes/camper")
}

func BenchmarkRestore(b *testing.B) {
	c, conns := campOf19000(b)
	snap := c.AppendSnapshot(nil, appendBenchKey)
	key := benchKeyParser(spareConns(len(conns))) // each restore takes their seats over from the last
	cfg := Config{IDs: c.ids}
	b.SetBytes(int64(len(snap)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Restore(cfg, snap, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDigest(b *testing.B) {
	c, _ := campOf19000(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Digest()
	}
}

func BenchmarkEach(b *testing.B) {
	c, _ := campOf19000(b)
	b.ReportAllocs()
	for b.Loop() {
		campers := 0
		for g := range c.Each {
			campers += len(g.Members)
		}
		if campers != c.Len() {
			b.Fatalf("Each showed %d campers, want %d", campers, c.Len())
		}
	}
}
