package groups

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"campfire/protocol"
)

// fuzzConns is how many connections the fuzz test plays with.
const fuzzConns = 6

// garbage returns requests that must each be refused, one way or another.
func garbage() []string {
	return []string{
		"dance",
		"checkin",
		"checkin J10",
		"peersession x",
		"peersession 0",
		"message",
		"direct J1",
		"direct to",
		"checkout now",
		"mission day",
		"complete please",
		"PING CAMP/1.0\r\nId: a b\r\n\r\n",
		"CHECKIN J1 CAMP/1.0\r\nId: \x7f\r\n\r\n",
		"MESSAGE hi CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi",
		"CAMP/1.0",
	}
}

// FuzzCamp decodes its input into a sequence of operations (two bytes
// each) on a camp of ids J1-J9 and a few connections, and checks the
// camp's invariants after every one. One operation snapshots the camp and
// restores the snapshot into a twin, which from then on gets every
// operation the camp gets: both must give the same results, byte for byte,
// and keep the same digest.
func FuzzCamp(f *testing.F) {
	f.Add([]byte{0, 0, 0, 6, 0, 12, 0, 18, 0, 24, 3, 1, 5, 7, 5, 13, 1, 6, 2, 0})
	f.Add([]byte{2, 0, 1, 0, 7, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 3, 0, 4, 1, 4, 0, 5, 0, 2, 0, 0, 6, 5, 1})
	f.Add([]byte{10, 0, 0, 1, 10, 1, 0, 1, 6, 0, 6, 13, 8, 3, 8, 11, 9, 0, 9, 1})
	f.Add([]byte{0, 0, 0, 6, 0, 13, 3, 6, 5, 0, 11, 0, 5, 1, 2, 0, 0, 20, 11, 1, 0, 27, 5, 6, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var maxCampers int
		if len(data)%2 == 1 {
			maxCampers, data = int(data[0]%8), data[1:]
		}
		// A small id range, J1-J9, makes random operations collide.
		ids := protocol.IDRange{Letter: 'J', Digits: 1, Min: 1, Max: 9}
		cfg := Config{IDs: ids, MaxCampers: maxCampers}
		c := newTestCamp(cfg)
		var twin *testCamp
		now := t0()
		for i := 0; i+1 < len(data); i += 2 {
			op, a := int(data[i]%12), data[i+1]
			p := int(a % fuzzConns)
			arg := int(a / fuzzConns)
			now = now.Add(time.Duration(a) * time.Millisecond)
			if op == 11 {
				twin = fuzzTwin(t, cfg, c, twin, arg)
				continue
			}
			res, what := fuzzStep(t, c, op, p, arg, now)
			if twin == nil {
				continue
			}
			twinRes, _ := fuzzStep(t, twin, op, p, arg, now)
			checkSameResult(t, what, res, twinRes)
			if c.Digest() != twin.Digest() {
				t.Fatalf("%s: digest %016x, restored twin's %016x", what, c.Digest(), twin.Digest())
			}
		}
	})
}

// fuzzStep applies operation op with argument arg to c, as connection p,
// and checks the result and c's invariants.
func fuzzStep(t *testing.T, c *testCamp, op, p, arg int, now time.Time) (Result[*tc], string) {
	t.Helper()
	before := sizes(c)
	conn := c.conn(p)
	wasIn := c.In(conn)

	var res Result[*tc]
	var what string
	switch op {
	case 2:
		what = fmt.Sprintf("c%d leave", p)
		res = c.Leave(conn, now)
		if res.Reply != nil || res.Close {
			t.Fatalf("%s: Leave replied %q", what, res.Reply)
		}
		if !wasIn && (res.Deliveries != nil || res.Change != (Change{})) {
			t.Fatalf("%s: Leave of a stranger = %+v", what, res)
		}
	case 10:
		what = fmt.Sprintf("draining %v", arg%2 == 0)
		c.SetDraining(arg%2 == 0)
	default:
		raw := fuzzRequest(op, arg)
		what = fmt.Sprintf("c%d %q", p, raw)
		res = c.Handle(conn, parseRequest(t, raw), now)
		code := mustStatus(t, res.Reply)
		checkOneFrame(t, what, res.Reply)
		var wantKind ChangeKind
		switch {
		case code != protocol.StatusOK:
		case op == 0:
			wantKind = ChangeCheckin
		case op == 1:
			wantKind = ChangeCheckout
		}
		if res.Change.Kind != wantKind {
			t.Fatalf("%s: status %d with Change %+v", what, code, res.Change)
		}
		if res.Close != (op == 1 && code == protocol.StatusOK) {
			t.Fatalf("%s: Close = %v with status %d", what, res.Close, code)
		}
	}
	for _, d := range res.Deliveries {
		if c.conns[d.To.n] != d.To || !c.In(d.To) {
			t.Fatalf("%s: delivery to c%d, which is not checked in", what, d.To.n)
		}
		checkOneFrame(t, what, d.Frame)
	}
	if res.Change.Kind == ChangeCheckin {
		checkSeat(t, what, before, res.Change.Group)
	}
	checkInvariants(t, what, c)
	return res, what
}

// fuzzTwin snapshots c, after a prefix of arg%3 bytes that the snapshot
// must leave alone, and returns the camp restored from it. If an earlier
// twin has been kept in step with c, it must give the very same snapshot.
func fuzzTwin(t *testing.T, cfg Config, c, twin *testCamp, arg int) *testCamp {
	t.Helper()
	prefix := []byte("xx")[:arg%3]
	snap := c.AppendSnapshot(prefix, appendIntKey)
	if string(snap[:len(prefix)]) != string(prefix) {
		t.Fatalf("snapshot overwrote the %d bytes before it", len(prefix))
	}
	snap = snap[len(prefix):]
	if twin != nil {
		if got := twin.AppendSnapshot(nil, appendIntKey); !bytes.Equal(got, snap) {
			t.Fatalf("twin's snapshot differs:\n%x\nwant\n%x", got, snap)
		}
	}
	restored, err := restoreTestCamp(cfg, snap)
	if err != nil {
		t.Fatalf("restore %x: %v", snap, err)
	}
	checkInvariants(t, "restored", restored)
	if restored.Digest() != c.Digest() {
		t.Fatalf("restored digest %016x, want %016x", restored.Digest(), c.Digest())
	}
	if !slices.Equal(sizes(restored), sizes(c)) || restored.Draining() != c.Draining() {
		t.Fatalf("restored groups %v draining %v, want %v %v", sizes(restored), restored.Draining(), sizes(c), c.Draining())
	}
	return restored
}

// checkSameResult checks that a camp and its twin gave the same result.
func checkSameResult(t *testing.T, what string, got, want Result[*tc]) {
	t.Helper()
	same := bytes.Equal(got.Reply, want.Reply) && got.Close == want.Close &&
		got.Change == want.Change && len(got.Deliveries) == len(want.Deliveries)
	for i := 0; same && i < len(got.Deliveries); i++ {
		same = got.Deliveries[i].To.n == want.Deliveries[i].To.n && bytes.Equal(got.Deliveries[i].Frame, want.Deliveries[i].Frame)
	}
	if !same {
		t.Fatalf("%s: restored twin gave\n%q\nwant\n%q", what, renderResult(t, got), renderResult(t, want))
	}
}

// fuzzRequest builds the request of operation op with argument arg.
func fuzzRequest(op, arg int) string {
	switch op {
	case 0:
		return fmt.Sprintf("checkin j%d", arg%10) // J0 is out of range
	case 1:
		return "checkout"
	case 3:
		return fmt.Sprintf("peersession %d", arg%4)
	case 4:
		return "complete"
	case 5:
		return "message m"
	case 6:
		return fmt.Sprintf("direct J%d d", arg%10)
	case 7:
		return fmt.Sprintf("mission %d", arg%23-1)
	case 8:
		g := garbage()
		return g[arg%len(g)]
	default:
		if arg%2 == 0 {
			return "ping"
		}
		return "help"
	}
}

// sizes returns how many campers each group number has.
func sizes(c *testCamp) []int {
	s := make([]int, 0, c.groups.len())
	for _, g := range c.groups.all {
		s = append(s, g.n)
	}
	return s
}

// checkSeat checks that a camper seated in group num went to the lowest
// group with a free seat or, if there was none, opened the group with the
// lowest free number.
func checkSeat(t *testing.T, what string, before []int, num int) {
	t.Helper()
	lowestFree, lowestSeat := len(before)+1, 0
	for i := len(before) - 1; i >= 0; i-- {
		switch {
		case before[i] == 0:
			lowestFree = i + 1
		case before[i] < GroupSize:
			lowestSeat = i + 1
		}
	}
	want := lowestSeat
	if want == 0 {
		want = lowestFree
	}
	if num != want {
		t.Fatalf("%s: seated in group %d, want %d (groups before: %v)", what, num, want, before)
	}
}

// checkOneFrame checks that b is exactly one response or event frame.
func checkOneFrame(t *testing.T, what string, b []byte) {
	t.Helper()
	r := protocol.NewReader(bytes.NewReader(b), 0)
	if _, err := r.Next(); err != nil {
		t.Fatalf("%s: bad frame %q: %v", what, b, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("%s: more than one frame in %q", what, b)
	}
}

// checkInvariants checks c's whole state.
func checkInvariants(t *testing.T, what string, c *testCamp) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: "+format, append([]any{what}, args...)...)
	}
	if c.Len() != len(c.byID) {
		fail("%d ids, Len %d", len(c.byID), c.Len())
	}
	// Every connection's seat names the group that holds it, and only a
	// connection that a group holds has a seat: a camper's checkout
	// clears it.
	seated := 0
	for n, p := range c.conns {
		num := int(p.seat.num)
		if num == 0 {
			if c.In(p) {
				fail("c%d has no seat, but In says it is checked in", n)
			}
			continue
		}
		seated++
		if num < 0 || num > c.groups.len() || !slices.Contains(c.groups.at(num).conns[:c.groups.at(num).n], p) {
			fail("c%d has a seat in group %d, which does not hold it", n, num)
		}
		if !c.In(p) {
			fail("c%d has a seat in group %d, but In says it is not checked in", n, num)
		}
	}
	if seated != len(c.byID) {
		fail("%d connections with a seat, %d ids", seated, len(c.byID))
	}
	seen := make(map[protocol.CampID]int)
	seenConn := make(map[*tc]int)
	live, running, walked := 0, 0, 0
	for num, g := range c.groups.all {
		if walked++; num != walked || g != c.groups.at(num) {
			fail("the walk of the groups gives group %d as number %d", walked, num)
		}
		if g.n < 0 || g.n > GroupSize {
			fail("group %d has %d campers", num, g.n)
		}
		for j := range g.n {
			id := g.ids[j]
			if other, ok := seen[id]; ok {
				fail("%d in groups %d and %d", id, other, num)
			}
			seen[id] = num
			p := g.conns[j]
			if p == nil || c.conns[p.n] != p {
				fail("group %d lists %d on a connection not of this camp: %v", num, id, p)
			}
			if other, ok := seenConn[p]; ok {
				fail("c%d in groups %d and %d", p.n, other, num)
			}
			seenConn[p] = num
			if got, ok := c.byID[id]; !ok || int(got) != num || int(p.seat.num) != num {
				fail("group %d lists %d on c%d; byID says group %d, the seat says %d", num, id, p.n, got, p.seat.num)
			}
		}
		wantSeat := g.n > 0 && g.n < GroupSize
		if c.seats.has(num) != wantSeat {
			fail("group %d with %d campers: in seat heap %v", num, g.n, c.seats.has(num))
		}
		if c.free.has(num) != (g.n == 0) {
			fail("group %d with %d campers: in free heap %v", num, g.n, c.free.has(num))
		}
		if g.n > 0 {
			live++
		}
		for j := g.n; j < GroupSize; j++ {
			if g.ids[j] != 0 || g.since[j] != 0 || g.conns[j] != nil {
				fail("group %d of %d keeps seat %d: %d on %v", num, g.n, j, g.ids[j], g.conns[j])
			}
		}
		if !g.session && (g.host != 0 || g.remaining != 0 || g.max != 0) {
			fail("group %d without a session has host %d, %d of %d left", num, g.host, g.remaining, g.max)
		}
		if g.session {
			running++
			if g.remaining <= 0 || g.remaining > g.max || g.max > protocol.MaxPeerSession {
				fail("group %d session has %d of %d messages left", num, g.remaining, g.max)
			}
			if seen[g.host] != num {
				fail("group %d session host %d is not in it", num, g.host)
			}
		}
	}
	if len(seen) != len(c.byID) {
		fail("%d campers in groups, %d checked in", len(seen), len(c.byID))
	}
	if live != c.Groups() {
		fail("%d non-empty groups, Groups %d", live, c.Groups())
	}
	if running != c.Sessions() {
		fail("%d sessions running, Sessions %d", running, c.Sessions())
	}
	if walked != c.groups.len() {
		fail("the walk of the groups gives %d, the table holds %d", walked, c.groups.len())
	}
	checkEach(t, what, c)
	checkHeap(t, what, &c.seats, c.groups.len())
	checkHeap(t, what, &c.free, c.groups.len())
}

// checkHeap checks h's heap order and index, and that it holds no number
// above max.
func checkHeap(t *testing.T, what string, h *numHeap, max int) {
	t.Helper()
	for i, n := range h.nums {
		if n < 1 || n > max {
			t.Fatalf("%s: heap holds %d, outside 1..%d", what, n, max)
		}
		if h.at[n-1] != i {
			t.Fatalf("%s: heap has %d at %d, index says %d", what, n, i, h.at[n-1])
		}
		if i > 0 && h.nums[(i-1)/2] > n {
			t.Fatalf("%s: heap order broken at %d: %v", what, i, h.nums)
		}
	}
	count := 0
	for _, i := range h.at {
		if i >= 0 {
			count++
		}
	}
	if count != len(h.nums) {
		t.Fatalf("%s: heap index has %d entries for %d numbers", what, count, len(h.nums))
	}
}
