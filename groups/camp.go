package groups

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"campfire/protocol"
)

// GroupSize is the most campers one group holds.
const GroupSize = 4

// Config is what a Camp needs to know about the server it runs in.
type Config struct {
	IDs        protocol.IDRange // valid camp ids (protocol.DefaultIDs() if zero)
	MaxCampers int              // 0 = no limit; past it checkin answers 503 "server full"
}

// ChangeKind says which way a camper went.
type ChangeKind uint8

// The changes a call can report; the zero ChangeKind means none.
const (
	ChangeCheckin ChangeKind = iota + 1
	ChangeCheckout
)

// String returns "checkin", "checkout" or "none".
func (k ChangeKind) String() string {
	switch k {
	case ChangeCheckin:
		return "checkin"
	case ChangeCheckout:
		return "checkout"
	}
	return "none"
}

// Change is a check-in or checkout that a call made, for the server's log.
type Change struct {
	Kind  ChangeKind // ChangeCheckin or ChangeCheckout (enums start at 1; 0 = none)
	ID    protocol.CampID
	Group int
}

// Seat is where the camper of a connection sits in a Camp, kept in the
// connection itself so that the camp finds it without a map from
// connections. Only the Camp reads or writes it; the zero Seat, which a
// new connection starts with, is none.
type Seat struct {
	num int32 // the camper's 1-based group number; 0: none
}

// Conn is what a Camp needs of a connection: it tells connections apart,
// and it holds a Seat for the camp. Seat must return the same pointer
// every time, so P is a pointer type in practice (the server's *conn,
// the tests' own). A connection sits in at most one Camp at a time,
// since it has one seat; a Camp finds a seat that another camp left in
// it stale and counts it as none.
type Conn interface {
	comparable
	Seat() *Seat
}

// Delivery is one event frame for one connection.
type Delivery[P comparable] struct {
	To P
	// Frame is a whole encoded event frame. Every recipient of one
	// broadcast gets the same slice (the same backing bytes), so the server
	// encodes nothing per recipient.
	Frame []byte
}

// Result is what a call to Handle or Leave decided. Reply, Deliveries and
// every Frame are borrowed from the Camp's scratch buffers: they are valid
// only until the next call to Handle or Leave, so the caller writes (or
// copies) them before calling again. Each slice is capped at its own end, so
// appending to one cannot overwrite another.
type Result[P comparable] struct {
	Reply      []byte        // the whole encoded response frame for p (Handle always sets it; Leave: nil)
	Close      bool          // close p once Reply is written (successful checkout)
	Deliveries []Delivery[P] // events, in the order they must be written
	Change     Change        // check-in/checkout that happened, for the server's log (zero if none)
}

// group is one group of campers. A group with n == 0 does not exist.
type group[P comparable] struct {
	ids   [GroupSize]protocol.CampID // the first n, in check-in order
	since [GroupSize]int64           // since[i] is when ids[i] checked in, unix nanoseconds
	conns [GroupSize]P               // conns[i] is the connection of ids[i]
	n     int

	// session reports a running peer session, started by host with a cap
	// of max messages; remaining is how many more it accepts (always > 0
	// while it runs).
	session   bool
	host      protocol.CampID
	remaining int32
	max       int32
}

// A session's cap must fit the int32 that group keeps it in.
const _ int32 = protocol.MaxPeerSession

// span is a frame's place in the scratch buffer. Frames are sliced out only
// when a call ends, because an append that grows the buffer moves it.
type span struct{ start, end int }

// Camp is all the state of one server: who is checked in, on which
// connection, in which group, and which peer sessions run. P is a
// connection (the gnet server uses a *conn pointer), which carries its
// camper's Seat.
//
// A Camp is not safe for concurrent use: the gnet server calls it from its
// one event-loop goroutine, a conventional server under a mutex. It starts
// no goroutines, does no I/O and reads no clock.
type Camp[P Conn] struct {
	ids        protocol.IDRange
	maxCampers int
	draining   bool

	// byID is where each camper sits: its 1-based group number. Its
	// connection and the rest are kept in the group, so that walking the
	// groups (Each, AppendSnapshot, Digest) reads one slice and no map,
	// and so that this map, one entry per connection, stays small. The
	// way back, from a connection to its camper, is the connection's
	// Seat: no map at all.
	byID   map[protocol.CampID]int32
	groups groupTable[P]
	live   int     // groups with at least one camper
	runs   int     // groups with a peer session running
	seats  numHeap // groups with 1 to GroupSize-1 campers
	free   numHeap // numbers up to groups.len() of groups that do not exist

	help []byte // protocol.Help, converted once

	view [GroupSize]Member[P] // Each's copy of the group it is visiting

	// Scratch for the call in progress; Result borrows from it.
	reqID  []byte // the request's Id, echoed in its response
	out    []byte // every frame of the call, back to back
	reply  span
	spans  []span // spans[i] is the frame of dels[i]
	dels   []Delivery[P]
	close  bool
	change Change
}

// New returns an empty Camp.
func New[P Conn](cfg Config) *Camp[P] {
	if cfg.IDs == (protocol.IDRange{}) {
		cfg.IDs = protocol.DefaultIDs()
	}
	return &Camp[P]{
		ids:        cfg.IDs,
		maxCampers: cfg.MaxCampers,
		byID:       make(map[protocol.CampID]int32),
		help:       []byte(protocol.Help),
	}
}

// SetDraining makes every later checkin answer 503 (server shutting down),
// or, with on false, accepts check-ins again. Campers already checked in
// carry on as before.
func (c *Camp[P]) SetDraining(on bool) { c.draining = on }

// Len is the number of checked-in campers.
func (c *Camp[P]) Len() int { return len(c.byID) }

// In reports whether a camper is checked in on connection p.
func (c *Camp[P]) In(p P) bool {
	_, _, ok := c.find(p)
	return ok
}

// find returns the group number and the index in it of p's camper; ok
// is false if p has none. It trusts p's seat only as far as the group
// it names holds p, so a seat another camp left behind counts as none.
func (c *Camp[P]) find(p P) (num, i int, ok bool) {
	num = int(p.Seat().num)
	if num < 1 || num > c.groups.len() {
		return 0, 0, false
	}
	g := c.groups.at(num)
	for i := range g.n {
		if g.conns[i] == p {
			return num, i, true
		}
	}
	return 0, 0, false
}

// Groups is the number of non-empty groups.
func (c *Camp[P]) Groups() int { return c.live }

// Sessions is the number of peer sessions running.
func (c *Camp[P]) Sessions() int { return c.runs }

// Draining reports whether check-ins are refused (see SetDraining).
func (c *Camp[P]) Draining() bool { return c.draining }

// Handle applies one request from connection p at time now and returns the
// reply and deliveries. See Result for how long they live.
func (c *Camp[P]) Handle(p P, req *protocol.Request, now time.Time) Result[P] {
	c.begin(req.ID)
	c.handle(p, req, now)
	return c.result()
}

// Leave checks out the camper on p because its connection closed
// (disconnect, idle timeout, slow consumer, shutdown): its group hears
// about it as for a checkout, and p gets no reply. It is safe to call for a
// p that never checked in, or already checked out; the Result is then empty.
func (c *Camp[P]) Leave(p P, now time.Time) Result[P] {
	num, i, ok := c.find(p)
	if !ok {
		return Result[P]{}
	}
	c.begin(nil)
	c.checkout(num, i)
	return c.result()
}

func (c *Camp[P]) handle(p P, req *protocol.Request, now time.Time) {
	if req.BadID {
		c.fail(protocol.StatusBadRequest, "bad Id header: want 1 to 64 visible ASCII characters")
		return
	}
	if req.Method == 0 {
		c.fail(protocol.StatusNotImplemented, "unknown request "+strconv.Quote(string(req.Name))+"; known requests: "+protocol.Known)
		return
	}
	num, i, in := c.find(p)
	switch req.Method {
	case protocol.MethodCheckin, protocol.MethodPing, protocol.MethodHelp:
	default:
		if !in {
			c.fail(protocol.StatusUnauthorized, "check in first, e.g. checkin "+c.ids.Format(c.ids.Min))
			return
		}
	}
	cmd, err := protocol.ParseArgs(req, c.ids)
	if err != nil {
		c.fail(protocol.StatusBadRequest, err.Error())
		return
	}
	switch req.Method {
	case protocol.MethodCheckin:
		c.checkin(p, cmd.ID, now)
	case protocol.MethodCheckout:
		c.status(protocol.StatusOK)
		c.out = appendActive(c.out, time.Duration(now.UnixNano()-c.groups.at(num).since[i]))
		c.endReply(nil)
		c.close = true
		c.checkout(num, i)
	case protocol.MethodMission:
		c.mission(cmd.Day, req.Args)
	case protocol.MethodPeerSession:
		c.peerSession(num, i, cmd.Max)
	case protocol.MethodComplete:
		c.complete(num, i)
	case protocol.MethodMessage:
		c.message(num, i, cmd.Text)
	case protocol.MethodDirect:
		c.direct(c.groups.at(num).ids[i], cmd.ID, cmd.Text)
	case protocol.MethodPing:
		c.status(protocol.StatusOK)
		c.endReply(nil)
	case protocol.MethodHelp:
		c.status(protocol.StatusOK)
		c.endReply(c.help)
	}
}

// checkin seats id, on connection p, in the lowest-numbered group with a
// free seat, or else in a new group with the lowest free number.
func (c *Camp[P]) checkin(p P, id protocol.CampID, now time.Time) {
	if num, i, ok := c.find(p); ok {
		c.fail(protocol.StatusConflict, "this connection is already checked in as "+c.ids.Format(c.groups.at(num).ids[i]))
		return
	}
	if _, ok := c.byID[id]; ok {
		c.fail(protocol.StatusConflict, c.ids.Format(id)+" is checked in on another connection")
		return
	}
	if c.draining {
		c.fail(protocol.StatusServiceUnavailable, "server shutting down")
		return
	}
	if c.maxCampers > 0 && len(c.byID) >= c.maxCampers {
		c.fail(protocol.StatusServiceUnavailable, "server full")
		return
	}
	num := c.seat()
	g := c.groups.at(num)
	g.ids[g.n], g.since[g.n], g.conns[g.n] = id, now.UnixNano(), p
	g.n++
	switch g.n {
	case 1:
		c.live++
		c.free.remove(num)
		c.seats.push(num)
	case GroupSize:
		c.seats.remove(num)
	}
	c.byID[id] = int32(num)
	*p.Seat() = Seat{num: int32(num)}

	c.status(protocol.StatusOK)
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderGroup, num)
	c.endReply(nil)

	start := c.startEvent(protocol.EventJoined, id, num)
	c.out = protocol.AppendBody(c.out, nil)
	c.broadcast(g, start, g.n-1)
	c.change = Change{Kind: ChangeCheckin, ID: id, Group: num}
}

// seat returns the number of the group a new camper joins: the lowest with
// a free seat, or else the lowest number not in use, which may be one past
// the highest ever used.
func (c *Camp[P]) seat() int {
	if num, ok := c.seats.min(); ok {
		return num
	}
	if num, ok := c.free.min(); ok {
		return num
	}
	return c.groups.add()
}

// checkout removes the camper at index i of group num from the camp. If
// it hosted a session, the rest of its group gets COMPLETE (Reason:
// host-left), then everyone left gets LEFT.
func (c *Camp[P]) checkout(num, i int) {
	g := c.groups.at(num)
	id := g.ids[i]
	*g.conns[i].Seat() = Seat{}
	copy(g.ids[i:g.n], g.ids[i+1:g.n])
	copy(g.since[i:g.n], g.since[i+1:g.n])
	copy(g.conns[i:g.n], g.conns[i+1:g.n])
	g.n--
	var zero P
	g.ids[g.n], g.since[g.n], g.conns[g.n] = 0, 0, zero // and drop the reference to a closed connection
	delete(c.byID, id)

	if g.session && g.host == id {
		c.endSession(g, num, protocol.ReasonHostLeft)
	}
	start := c.startEvent(protocol.EventLeft, id, num)
	c.out = protocol.AppendBody(c.out, nil)
	c.broadcast(g, start, -1)

	switch g.n {
	case 0:
		c.live--
		c.seats.remove(num)
		c.free.push(num)
	case GroupSize - 1:
		c.seats.push(num)
	}
	c.change = Change{Kind: ChangeCheckout, ID: id, Group: num}
}

// mission answers with the keywords of day; typed is the day as sent.
func (c *Camp[P]) mission(day int, typed []byte) {
	kw := missionKeywords(day)
	if kw == "" {
		n := strconv.Itoa(day)
		if day == math.MaxInt || day == -math.MaxInt {
			// Too large for int: name the number as it was typed.
			n = strings.TrimLeft(strings.TrimPrefix(strings.ToLower(string(typed)), "day"), " \t")
		}
		c.fail(protocol.StatusNotFound, "no mission for day "+n)
		return
	}
	c.status(protocol.StatusOK)
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderDay, day)
	c.endReply([]byte(kw))
}

// peerSession starts a session of max messages in group num, started by
// the camper at index i.
func (c *Camp[P]) peerSession(num, i, max int) {
	g := c.groups.at(num)
	me := g.ids[i]
	if g.session {
		c.fail(protocol.StatusConflict, fmt.Sprintf("a peer session started by %s already runs in group %d", c.ids.Format(g.host), num))
		return
	}
	g.session, g.host, g.remaining, g.max = true, me, int32(max), int32(max)
	c.runs++

	c.status(protocol.StatusOK)
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderMaxCount, max)
	c.endReply(nil)

	start := c.startEvent(protocol.EventPeerSession, me, num)
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderMaxCount, max)
	c.out = protocol.AppendBody(c.out, nil)
	c.broadcast(g, start, -1)
}

// complete ends the session in group num, if the camper at index i
// started it.
func (c *Camp[P]) complete(num, i int) {
	g := c.groups.at(num)
	me := g.ids[i]
	if !g.session {
		c.fail(protocol.StatusConflict, fmt.Sprintf("no peer session runs in group %d", num))
		return
	}
	if g.host != me {
		c.fail(protocol.StatusForbidden, "only "+c.ids.Format(g.host)+", who started the peer session, can complete it")
		return
	}
	c.status(protocol.StatusOK)
	c.endReply(nil)
	c.endSession(g, num, protocol.ReasonHost)
}

// message counts one message of the session in group num, from the
// camper at index i, and sends it to the others; the last one the session
// accepts ends it.
func (c *Camp[P]) message(num, i int, text []byte) {
	g := c.groups.at(num)
	me := g.ids[i]
	if !g.session {
		c.fail(protocol.StatusConflict, "no peer session runs in group "+strconv.Itoa(num)+"; the message was not delivered")
		return
	}
	g.remaining--

	c.status(protocol.StatusOK)
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderRemaining, int(g.remaining))
	c.endReply(nil)

	start := c.startEvent(protocol.EventMessage, me, num)
	c.out = protocol.AppendBody(c.out, text)
	c.broadcast(g, start, i)
	if g.remaining == 0 {
		c.endSession(g, num, protocol.ReasonLimit)
	}
}

// direct sends text from me to the camper to, in any group. A camper may
// send to itself.
func (c *Camp[P]) direct(me, to protocol.CampID, text []byte) {
	num, ok := c.byID[to]
	if !ok {
		c.fail(protocol.StatusNotFound, c.ids.Format(to)+" is not checked in")
		return
	}
	c.status(protocol.StatusOK)
	c.endReply(nil)

	start := len(c.out)
	var buf [16]byte
	c.out = protocol.AppendEvent(c.out, protocol.EventDirect, c.ids.Append(buf[:0], me))
	c.out = protocol.AppendBody(c.out, text)
	g := c.groups.at(int(num))
	c.deliver(g.conns[g.seat(to)], start)
}

// endSession ends g's session and tells every member, with reason.
func (c *Camp[P]) endSession(g *group[P], num int, reason string) {
	start := c.startEvent(protocol.EventComplete, g.host, num)
	c.out = protocol.AppendHeaderString(c.out, protocol.HeaderReason, reason)
	c.out = protocol.AppendBody(c.out, nil)
	c.broadcast(g, start, -1)
	g.session, g.host, g.remaining, g.max = false, 0, 0, 0
	c.runs--
}

// begin clears the scratch for a new call.
func (c *Camp[P]) begin(reqID []byte) {
	c.reqID = reqID
	c.out = c.out[:0]
	c.reply = span{}
	c.spans = c.spans[:0]
	c.dels = c.dels[:0]
	c.close = false
	c.change = Change{}
}

// result slices the call's frames out of the scratch buffer, now that it
// will not grow any more.
func (c *Camp[P]) result() Result[P] {
	r := Result[P]{Close: c.close, Change: c.change}
	if c.reply.end > c.reply.start {
		r.Reply = c.out[c.reply.start:c.reply.end:c.reply.end]
	}
	for i, s := range c.spans {
		c.dels[i].Frame = c.out[s.start:s.end:s.end]
	}
	if len(c.dels) > 0 {
		r.Deliveries = c.dels
	}
	return r
}

// status starts the reply with a status line and the request's Id.
func (c *Camp[P]) status(code int) {
	c.reply.start = len(c.out)
	c.out = protocol.AppendStatus(c.out, code)
	if c.reqID != nil {
		c.out = protocol.AppendHeader(c.out, protocol.HeaderID, c.reqID)
	}
}

// endReply ends the reply that status started.
func (c *Camp[P]) endReply(body []byte) {
	c.out = protocol.AppendBody(c.out, body)
	c.reply.end = len(c.out)
}

// fail sets the reply to an error response.
func (c *Camp[P]) fail(code int, msg string) {
	c.reply.start = len(c.out)
	c.out = protocol.AppendError(c.out, code, c.reqID, msg)
	c.reply.end = len(c.out)
}

// startEvent begins a group event "NAME ID CAMP/1.0" with its Group header
// and returns where the frame starts.
func (c *Camp[P]) startEvent(name string, id protocol.CampID, num int) int {
	start := len(c.out)
	var buf [16]byte
	c.out = protocol.AppendEvent(c.out, name, c.ids.Append(buf[:0], id))
	c.out = protocol.AppendHeaderInt(c.out, protocol.HeaderGroup, num)
	return start
}

// broadcast delivers the frame that starts at start, and ends at the end of
// the scratch buffer, to every member of g except the one at index skip.
func (c *Camp[P]) broadcast(g *group[P], start, skip int) {
	s := span{start, len(c.out)}
	for i := range g.n {
		if i != skip {
			c.spans = append(c.spans, s)
			c.dels = append(c.dels, Delivery[P]{To: g.conns[i]})
		}
	}
}

// deliver delivers the frame that starts at start to one connection.
func (c *Camp[P]) deliver(to P, start int) {
	c.spans = append(c.spans, span{start, len(c.out)})
	c.dels = append(c.dels, Delivery[P]{To: to})
}

// appendActive appends the Active header: d in seconds with exactly three
// decimals, truncated to the millisecond. A negative d (a clock that went
// back) counts as zero.
func appendActive(dst []byte, d time.Duration) []byte {
	ms := max(d.Milliseconds(), 0)
	var buf [32]byte
	v := strconv.AppendInt(buf[:0], ms/1000, 10)
	frac := ms % 1000
	v = append(v, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return protocol.AppendHeader(dst, protocol.HeaderActive, v)
}

// missionKeywords returns the keywords of day's mission, or "" if it has
// none.
func missionKeywords(day int) string {
	switch day {
	case 1:
		return "IDE, node"
	case 2:
		return "Linux, Shell"
	case 3:
		return "Crawling, LRU"
	case 4:
		return "Heap, Stack"
	case 6:
		return "XML, XPath"
	case 7:
		return "Object, Class"
	case 8:
		return "CountSet, Closure"
	case 9:
		return "Process, Thread"
	case 11:
		return "Path, UnitTest"
	case 12:
		return "Git, Objects"
	case 13:
		return "OSI, TCP/IP"
	case 14:
		return "HTTP, Request"
	case 16:
		return "Event, Async"
	case 17:
		return "Food, Delivery"
	case 18:
		return "SQL, Report"
	case 19:
		return "Network, Server"
	}
	return ""
}

// groupTable holds the groups in chunks of groupChunk: adding a group never
// copies the others. A slice grown by append left each old array behind as
// garbage, four times the table's size over a burst of check-ins (1.8 MB
// at 19,000 campers, where the table holds 0.5 MB), which the server's
// heap, and so its RSS, had to make room for.
type groupTable[P comparable] struct {
	chunks []*[groupChunk]group[P]
	n      int
}

// groupChunk groups (6.5 KiB with the server's connections) are allocated
// at once.
const groupChunk = 64

func (t *groupTable[P]) len() int { return t.n }

// at returns group num, 1 ≤ num ≤ len().
func (t *groupTable[P]) at(num int) *group[P] {
	i := num - 1
	return &t.chunks[i/groupChunk][i%groupChunk]
}

// add appends an empty group and returns its number.
func (t *groupTable[P]) add() int {
	if t.n%groupChunk == 0 {
		t.chunks = append(t.chunks, new([groupChunk]group[P]))
	}
	t.n++
	return t.n
}

// all yields every group with its number, in number order.
func (t *groupTable[P]) all(yield func(num int, g *group[P]) bool) {
	num := 0
	for _, chunk := range t.chunks {
		for i := range chunk {
			if num++; num > t.n || !yield(num, &chunk[i]) {
				return
			}
		}
	}
}

// reset makes the table n empty groups.
func (t *groupTable[P]) reset(n int) {
	t.chunks = make([]*[groupChunk]group[P], (n+groupChunk-1)/groupChunk)
	for i := range t.chunks {
		t.chunks[i] = new([groupChunk]group[P])
	}
	t.n = n
}
