package bench

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"campfire/protocol"
)

// camper is one connection of the peers scenario. Its goroutine owns the
// Reader and the Recorder; after setup only its sender writes to conn.
type camper struct {
	idx   int
	addr  int // index of its server address
	conn  net.Conn
	rd    *protocol.Reader
	rec   *Recorder
	group int  // from the checkin response; 0 if check-in failed
	lead  bool // starts its group's peer session
	// Written by the camper's goroutine, read for progress and the report.
	delivered atomic.Int64 // MESSAGE events sent inside the window
	responses atomic.Int64 // responses to messages
	// In a closed-loop run (-rate 0), the messages a sender owes for the
	// responses it read, and Depth copies of its message to send them
	// from; both only for its reader's goroutine. frame is nil otherwise.
	r     *run
	owed  int
	frame []byte
}

// Read reads the camper's connection for its Reader. In a closed-loop run
// it first sends the messages owed for the responses read so far, in one
// write: the Reader reads only once it has handled every whole frame
// buffered, so a sender answers a batch of responses as a batch, the way a
// pipelining client does.
func (c *camper) Read(p []byte) (int, error) {
	if c.owed > 0 {
		c.r.sendOwed(c)
	}
	return c.conn.Read(p)
}

// peers runs the peers scenario: connect, check in, start one session per
// group, send timestamped messages at the paced rate, measure deliveries.
func (r *run) peers(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	conns, connectTime := r.connect(ctx, cfg.Conns)
	defer r.closeAll(conns)
	var campers []*camper
	for i, c := range conns {
		if c != nil {
			cp := &camper{r: r, idx: i, addr: (r.cfg.first + i) % len(r.addrs), conn: c, rec: r.lat.Recorder(i)}
			cp.rd = protocol.NewReader(cp, 0)
			campers = append(campers, cp)
		}
	}
	if err := r.coord.reach(ctx, stageConnected); err != nil {
		return nil, err
	}

	// Check in everyone at once; each camper's goroutine then waits for
	// the go-ahead to start sessions, and finally reads until closed.
	var checkedIn, leadsReady, readers sync.WaitGroup
	goAhead := make(chan struct{})
	goAheadOnce := sync.OnceFunc(func() { close(goAhead) })
	// abort ends the camper goroutines when the run stops before its end.
	abort := func(err error) (*Report, error) {
		goAheadOnce()
		r.closeAll(conns)
		readers.Wait()
		return nil, err
	}
	checkinBegin := time.Now()
	for _, c := range campers {
		checkedIn.Add(1)
		leadsReady.Add(1)
		readers.Go(func() { r.camperLoop(c, &checkedIn, goAhead, &leadsReady) })
	}
	checkedIn.Wait()
	checkinTime := time.Since(checkinBegin)
	if err := r.coord.reach(ctx, stageCheckedIn); err != nil {
		return abort(err)
	}

	// The first camper of each group (by index) leads its session. Group
	// numbers are per server, so with several addresses a group is known
	// by its address too; if those are nodes of one camp, two leads may
	// meet in one group, and the second hears that a session runs.
	type groupKey struct{ addr, group int }
	leads := map[groupKey]*camper{}
	nCheckedIn := 0
	for _, c := range campers {
		if c.group == 0 {
			continue
		}
		nCheckedIn++
		if _, ok := leads[groupKey{c.addr, c.group}]; !ok {
			leads[groupKey{c.addr, c.group}] = c
			c.lead = true
		}
	}
	goAheadOnce()
	leadsReady.Wait()

	// Everyone in a group whose session started sends.
	var senders []*camper
	for _, c := range campers {
		if lead, ok := leads[groupKey{c.addr, c.group}]; ok && lead.lead {
			senders = append(senders, c)
		}
	}
	rep := &Report{
		Scenario: cfg.Scenario.String(), Addr: cfg.Addr, Conns: cfg.Conns, Sources: len(cfg.Sources),
		Size: cfg.Size, Depth: cfg.Depth, Warmup: cfg.Warmup.Seconds(), Window: cfg.Duration.Seconds(),
		Connected: len(campers), ConnectTime: connectTime.Seconds(),
		CheckedIn: nCheckedIn, CheckinTime: checkinTime.Seconds(),
		RequestedRate: cfg.Rate, Senders: len(senders),
	}

	winStart, err := r.coord.windowStart(ctx)
	if err != nil {
		return abort(err)
	}
	stats := r.send(ctx, senders, campers, winStart)
	// From here on the connections are torn down, and in a split run
	// another worker's may close first: its LEFT and COMPLETE are no errors.
	r.stopping.Store(true)
	if err := r.coord.reach(ctx, stageDrained); err != nil {
		return abort(err)
	}
	r.closeAll(conns)
	readers.Wait()
	for _, c := range campers {
		c.rec.Flush()
		rep.Delivered += c.delivered.Load()
	}
	rep.Sent = stats.windowSent
	rep.Missed = stats.missed
	rep.Bytes = rep.Delivered * int64(cfg.Size)
	rep.Timeline = &Timeline{Sent: stats.perSlot}
	return rep, nil
}

// camperLoop is one camper's goroutine: check in, lead a session if told
// to, then read responses and events until the connection closes.
func (r *run) camperLoop(c *camper, checkedIn *sync.WaitGroup, goAhead <-chan struct{}, leadsReady *sync.WaitGroup) {
	checkinDone, leadDone := false, false
	defer func() {
		if !checkinDone {
			checkedIn.Done()
		}
		if !leadDone {
			leadsReady.Done()
		}
	}()
	c.conn.SetDeadline(time.Now().Add(setupTimeout))
	checkin := protocol.AppendRequest(nil, protocol.MethodCheckin, r.cfg.IDs.Append(nil, r.cfg.IDs.Min+protocol.CampID(r.cfg.first+c.idx)))
	checkin = protocol.AppendBody(checkin, nil)
	if f, ok := r.request(c, checkin, ErrCheckin); ok {
		if g, err := strconv.Atoi(string(f.Header(protocol.HeaderGroup))); err == nil && g > 0 {
			c.group = g
		} else {
			r.errs.add(ErrUnexpected)
		}
	}
	checkinDone = true
	checkedIn.Done()
	if c.group == 0 {
		return
	}
	<-goAhead
	if c.lead {
		session := protocol.AppendRequest(nil, protocol.MethodPeerSession, strconv.AppendInt(nil, sessionCap, 10))
		session = protocol.AppendBody(session, nil)
		if !r.startSession(c, session) {
			c.lead = false
		}
	}
	leadDone = true
	leadsReady.Done()
	c.conn.SetDeadline(time.Time{})
	r.receive(c)
}

// request writes one setup request and reads up to its response, skipping
// events. It reports the 200 response, or counts kind and fails.
func (r *run) request(c *camper, req []byte, kind ErrKind) (*protocol.Frame, bool) {
	f, ok := r.exchange(c, req)
	if !ok {
		return nil, false
	}
	if code, _ := f.Status(); code != protocol.StatusOK {
		r.errs.add(kind)
		return nil, false
	}
	return f, true
}

// startSession asks for a peer session and reports whether one runs in
// the camper's group. In a split run a 409 means another lead of the same
// group, on another node or in another worker, started it first: not an
// error, and the group sends all the same.
func (r *run) startSession(c *camper, req []byte) bool {
	f, ok := r.exchange(c, req)
	if !ok {
		return false
	}
	switch code, _ := f.Status(); {
	case code == protocol.StatusOK:
		return true
	case code == protocol.StatusConflict && r.split():
		return true
	default:
		r.errs.add(ErrSession)
		return false
	}
}

// exchange writes one setup request and reads up to its response, skipping
// events; false means the connection failed (and was counted).
func (r *run) exchange(c *camper, req []byte) (*protocol.Frame, bool) {
	if _, err := c.conn.Write(req); err != nil {
		r.errs.add(ErrWrite)
		return nil, false
	}
	for {
		f, err := c.rd.Next()
		if err != nil {
			r.readErr(err)
			return nil, false
		}
		if _, ok := f.Status(); ok {
			return f, true
		}
		// JOINED, PEERSESSION and the like.
	}
}

// receive reads until the connection closes, timing every MESSAGE event.
// It allocates nothing per frame.
func (r *run) receive(c *camper) {
	for {
		f, err := c.rd.Next()
		if err != nil {
			r.readErr(err)
			return
		}
		r.handleFrame(c, f)
	}
}

// handleFrame accounts for one frame received during the run.
func (r *run) handleFrame(c *camper, f *protocol.Frame) {
	if code, ok := f.Status(); ok {
		c.responses.Add(1)
		if code != protocol.StatusOK {
			r.errs.add(ErrStatus)
		}
		if cl := r.closed.Load(); cl != nil && c.frame != nil {
			r.sendNext(cl, c)
		}
		return
	}
	name, _, ok := f.Event()
	if !ok {
		r.errs.add(ErrUnexpected)
		return
	}
	switch string(name) {
	case protocol.EventMessage:
		t, ok := readStamp(f.Body)
		if !ok {
			r.errs.add(ErrUnexpected)
			return
		}
		if r.inWindow(t) {
			c.delivered.Add(1)
			r.record(c.rec, t)
		}
	case protocol.EventJoined, protocol.EventPeerSession:
		// Late events from setup.
	default:
		// Teardown closes connections one by one, so the last ones hear
		// COMPLETE and LEFT from the first: only mid-run are they errors.
		if r.stopping.Load() {
			return
		}
		switch string(name) {
		case protocol.EventComplete:
			r.errs.add(ErrEnded)
		case protocol.EventShutdown:
			r.errs.add(ErrClosed)
		default:
			r.errs.add(ErrUnexpected)
		}
	}
}

// sendStats are the senders' totals.
type sendStats struct {
	sent       int64   // every message written, warmup included
	windowSent int64   // messages stamped inside the window
	missed     int64   // sends the pacers skipped
	perSlot    []int64 // messages stamped in each slot of the timeline
}

// sender is one sending goroutine's state; its counters are read for
// progress while it runs.
type sender struct {
	campers []*camper
	frame   []byte
	stamp   int // offset of the timestamp in frame
	pacer   *Pacer
	sent    atomic.Int64
	inWin   atomic.Int64
	// perSlot counts the sends of each slot of the window; only the
	// sender's goroutine writes it, and it is read once that has ended.
	perSlot []int64
}

// newSender pre-encodes the message frame its goroutine patches and writes.
func newSender(campers []*camper, size int, rate float64, start time.Duration, slots int) *sender {
	frame := protocol.AppendRequest(nil, protocol.MethodMessage, nil)
	frame = protocol.AppendBody(frame, payload(size))
	burst := 64
	if rate > 0 {
		burst = max(16, int(rate/10)) // 100 ms of tokens
	}
	return &sender{campers: campers, frame: frame, stamp: len(frame) - 2 - size, pacer: NewPacer(rate, burst, start), perSlot: make([]int64, slots)}
}

// send runs the senders through warmup and the window that opens at
// winStart, then waits for the server to answer every message.
func (r *run) send(ctx context.Context, senders, campers []*camper, winStart int64) sendStats {
	if r.cfg.Rate == 0 {
		return r.sendClosed(ctx, senders, campers, winStart)
	}
	stats := sendStats{perSlot: make([]int64, len(r.lat.Timeline()))}
	sendEnd := r.openWindow(winStart)
	n := min(len(senders), 8)
	ss := make([]*sender, n)
	for i := range ss {
		var mine []*camper
		for j := i; j < len(senders); j += n {
			mine = append(mine, senders[j])
		}
		ss[i] = newSender(mine, r.cfg.Size, r.cfg.Rate/float64(n), time.Duration(r.now()), len(stats.perSlot))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() { r.runSender(s, sendEnd, stop) })
	}
	defer r.startProgress(func() string {
		var sent, delivered int64
		for _, s := range ss {
			sent += s.sent.Load()
		}
		for _, c := range campers {
			delivered += c.delivered.Load()
		}
		return "sent=" + strconv.FormatInt(sent, 10) + " delivered=" + strconv.FormatInt(delivered, 10)
	})()

	r.coord.windowOpen(ctx)

	// Stop at the end of the window (or on cancel), unblocking writes that
	// a stalled server would hold forever.
	ended := whenDone(&wg)
	select {
	case <-ended:
	case <-ctx.Done():
	}
	close(stop)
	select {
	case <-ended:
	case <-time.After(stopTimeout):
		for _, c := range senders {
			c.conn.SetWriteDeadline(time.Now())
		}
		<-ended
	}
	for _, s := range ss {
		stats.sent += s.sent.Load()
		stats.windowSent += s.inWin.Load()
		stats.missed += s.pacer.Missed()
		for k, v := range s.perSlot {
			stats.perSlot[k] += v
		}
	}
	r.drain(ctx, senders, func() int64 { return stats.sent })
	return stats
}

// runSender paces and writes messages until sendEnd or stop.
func (r *run) runSender(s *sender, sendEnd int64, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := 0
	for len(s.campers) > 0 {
		now := r.now()
		if now >= sendEnd {
			return
		}
		n, wait := s.pacer.Take(time.Duration(now))
		if n == 0 {
			timer.Reset(time.Duration(min(wait, time.Duration(sendEnd-now))))
			select {
			case <-stop:
				return
			case <-timer.C:
			}
			continue
		}
		select {
		case <-stop:
			return
		default:
		}
		for ; n > 0 && len(s.campers) > 0; n-- {
			next %= len(s.campers)
			if !r.sendOne(s, s.campers[next]) {
				s.campers = append(s.campers[:next], s.campers[next+1:]...)
				continue
			}
			next++
		}
	}
}

// sendOne stamps and writes one message; false means the camper is gone.
func (r *run) sendOne(s *sender, c *camper) bool {
	t := r.now()
	putStamp(s.frame[s.stamp:], t)
	if _, err := c.conn.Write(s.frame); err != nil {
		if !r.stopping.Load() {
			r.errs.add(ErrWrite)
		}
		return false
	}
	s.sent.Add(1)
	if r.inWindow(t) {
		s.inWin.Add(1)
		if k := r.slotOf(t); k < len(s.perSlot) {
			s.perSlot[k]++
		}
	}
	return true
}

// drain waits, polling with a deadline, until every message has been
// answered and deliveries have stopped arriving.
func (r *run) drain(ctx context.Context, senders []*camper, sent func() int64) {
	deadline := time.Now().Add(drainTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last int64 = -1
	for time.Now().Before(deadline) {
		var answered, delivered int64
		for _, c := range senders {
			answered += c.responses.Load()
			delivered += c.delivered.Load()
		}
		if answered >= sent() && delivered == last {
			return
		}
		last = delivered
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// closedLoop is the state of a closed-loop run (-rate 0): every sender
// keeps Depth messages unanswered. The counters are shared by all the
// readers, which send.
type closedLoop struct {
	stamp   int   // offset of the timestamp in a frame
	end     int64 // run time at which sending stops
	stop    atomic.Bool
	sent    atomic.Int64
	inWin   atomic.Int64
	perSlot []atomic.Int64
}

// sendClosed runs the senders closed-loop: each writes Depth messages at
// once, and then, from its reader's goroutine, one more for every response,
// until the window ends. Nothing paces them: the server's answers do.
func (r *run) sendClosed(ctx context.Context, senders, campers []*camper, winStart int64) sendStats {
	sendEnd := r.openWindow(winStart)
	tmpl := protocol.AppendRequest(nil, protocol.MethodMessage, nil)
	tmpl = protocol.AppendBody(tmpl, payload(r.cfg.Size))
	cl := &closedLoop{stamp: len(tmpl) - 2 - r.cfg.Size, end: sendEnd, perSlot: make([]atomic.Int64, len(r.lat.Timeline()))}
	for _, c := range senders {
		c.frame = bytes.Repeat(tmpl, r.cfg.Depth)
	}
	// Publishing cl hands each c.frame to its reader.
	r.closed.Store(cl)
	defer r.startProgress(func() string {
		var delivered int64
		for _, c := range campers {
			delivered += c.delivered.Load()
		}
		return "sent=" + strconv.FormatInt(cl.sent.Load(), 10) + " delivered=" + strconv.FormatInt(delivered, 10)
	})()
	r.coord.windowOpen(ctx)

	// The first Depth messages of each sender, in one write, from a frame
	// of their own (the reader may already be patching c.frame).
	first := bytes.Repeat(tmpl, r.cfg.Depth)
	for _, c := range senders {
		if cl.stop.Load() {
			break
		}
		t := r.now()
		for i := range r.cfg.Depth {
			putStamp(first[i*len(tmpl)+cl.stamp:], t)
		}
		cl.count(r, t, int64(r.cfg.Depth))
		if _, err := c.conn.Write(first); err != nil && !r.stopping.Load() {
			r.errs.add(ErrWrite)
		}
	}
	timer := time.NewTimer(time.Duration(max(sendEnd-r.now(), 0)))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	cl.stop.Store(true)
	r.drain(ctx, senders, cl.sent.Load)
	stats := sendStats{sent: cl.sent.Load(), windowSent: cl.inWin.Load(), perSlot: make([]int64, len(cl.perSlot))}
	for k := range cl.perSlot {
		stats.perSlot[k] = cl.perSlot[k].Load()
	}
	return stats
}

// count records n messages stamped t as sent.
func (cl *closedLoop) count(r *run, t, n int64) {
	cl.sent.Add(n)
	if r.inWindow(t) {
		cl.inWin.Add(n)
		if k := r.slotOf(t); k < len(cl.perSlot) {
			cl.perSlot[k].Add(n)
		}
	}
}

// sendNext owes c's next message, which its reader sends before it reads
// again (camper.Read), unless the window has ended.
func (r *run) sendNext(cl *closedLoop, c *camper) {
	if cl.stop.Load() || r.now() >= cl.end {
		return
	}
	c.owed = min(c.owed+1, r.cfg.Depth)
}

// sendOwed writes the messages c owes in one write, on its reader's
// goroutine.
func (r *run) sendOwed(c *camper) {
	cl := r.closed.Load()
	n := c.owed
	c.owed = 0
	t := r.now()
	if cl.stop.Load() || t >= cl.end {
		return
	}
	size := len(c.frame) / r.cfg.Depth
	for i := range n {
		putStamp(c.frame[i*size+cl.stamp:], t)
	}
	cl.count(r, t, int64(n))
	if _, err := c.conn.Write(c.frame[:n*size]); err != nil && !r.stopping.Load() {
		r.errs.add(ErrWrite)
	}
}
