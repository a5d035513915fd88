package bench

import (
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
	conn  *net.TCPConn
	rd    *protocol.Reader
	rec   *Recorder
	group int  // from the checkin response; 0 if check-in failed
	lead  bool // starts its group's peer session
	// Written by the camper's goroutine, read for progress and the report.
	delivered atomic.Int64 // MESSAGE events sent inside the window
	responses atomic.Int64 // responses to messages
}

// peers runs the peers scenario: connect, check in, start one session per
// group, send timestamped messages at the paced rate, measure deliveries.
func (r *run) peers(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	srv := &sampler{pid: cfg.ServerPID}
	before := srv.sample()

	conns, connectTime := r.connect(ctx, cfg.Conns)
	defer r.closeAll(conns)
	r.lat = NewLatencies(16)
	var campers []*camper
	for i, c := range conns {
		if c != nil {
			campers = append(campers, &camper{idx: i, conn: c, rd: protocol.NewReader(c, 0), rec: r.lat.Recorder(i)})
		}
	}

	// Check in everyone at once; each camper's goroutine then waits for
	// the go-ahead to start sessions, and finally reads until closed.
	var checkedIn, leadsReady, readers sync.WaitGroup
	goAhead := make(chan struct{})
	checkinBegin := time.Now()
	for _, c := range campers {
		checkedIn.Add(1)
		leadsReady.Add(1)
		readers.Go(func() { r.camperLoop(c, &checkedIn, goAhead, &leadsReady) })
	}
	checkedIn.Wait()
	checkinTime := time.Since(checkinBegin)
	afterCheckin := srv.sample()

	// The first camper of each group (by index) leads its session.
	leads := map[int]*camper{}
	nCheckedIn := 0
	for _, c := range campers {
		if c.group == 0 {
			continue
		}
		nCheckedIn++
		if _, ok := leads[c.group]; !ok {
			leads[c.group] = c
			c.lead = true
		}
	}
	close(goAhead)
	leadsReady.Wait()

	// Everyone in a group whose session started sends.
	var senders []*camper
	for _, c := range campers {
		if lead, ok := leads[c.group]; ok && lead.lead {
			senders = append(senders, c)
		}
	}
	rep := &Report{
		Scenario: cfg.Scenario.String(), Addr: cfg.Addr, Conns: cfg.Conns, Sources: len(cfg.Sources),
		Size: cfg.Size, Depth: cfg.Depth, Warmup: cfg.Warmup.Seconds(), Window: cfg.Duration.Seconds(),
		Connected: len(campers), ConnectTime: connectTime.Seconds(), ConnectRate: rate(int64(len(campers)), connectTime),
		CheckedIn: nCheckedIn, CheckinTime: checkinTime.Seconds(), CheckinRate: rate(int64(nCheckedIn), checkinTime),
		RequestedRate: cfg.Rate,
	}

	winStartSample, stats := r.send(ctx, senders, campers, srv)
	end := srv.sample()
	r.closeAll(conns)
	readers.Wait()
	for _, c := range campers {
		c.rec.Flush()
		rep.Delivered += c.delivered.Load()
	}
	rep.Sent = stats.windowSent
	rep.OfferedRate = rate(stats.windowSent, cfg.Duration)
	rep.DeliveredRate = rate(rep.Delivered, cfg.Duration)
	rep.Bytes = rep.Delivered * int64(cfg.Size)
	rep.BytesRate = rate(rep.Bytes, cfg.Duration)
	rep.Latency = Summarize(r.lat.Merged())
	rep.Server = srv.figures(before, afterCheckin, winStartSample, end, nCheckedIn, rep.Delivered)
	rep.Notes = offeredNote(rep.OfferedRate, cfg.Rate)
	if stats.missed > 0 {
		rep.Notes = append(rep.Notes, "senders fell behind and skipped "+strconv.FormatInt(stats.missed, 10)+" sends")
	}
	if len(senders) == 0 {
		rep.Notes = append(rep.Notes, "no peer session started: nothing was sent")
	}
	if srv.err != nil {
		return nil, srv.err
	}
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
	checkin := protocol.AppendRequest(nil, protocol.MethodCheckin, r.cfg.IDs.Append(nil, r.cfg.IDs.Min+protocol.CampID(c.idx)))
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
		if _, ok := r.request(c, session, ErrSession); !ok {
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
		code, ok := f.Status()
		if !ok {
			continue // JOINED, PEERSESSION and the like
		}
		if code != protocol.StatusOK {
			r.errs.add(kind)
			return nil, false
		}
		return f, true
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
			c.rec.Record((r.now() - t) / int64(time.Microsecond))
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
	sent       int64 // every message written, warmup included
	windowSent int64 // messages stamped inside the window
	missed     int64 // sends the pacers skipped
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
}

// newSender pre-encodes the message frame its goroutine patches and writes.
func newSender(campers []*camper, size int, rate float64, start time.Duration) *sender {
	frame := protocol.AppendRequest(nil, protocol.MethodMessage, nil)
	frame = protocol.AppendBody(frame, payload(size))
	burst := 64
	if rate > 0 {
		burst = max(16, int(rate/10)) // 100 ms of tokens
	}
	return &sender{campers: campers, frame: frame, stamp: len(frame) - 2 - size, pacer: NewPacer(rate, burst, start)}
}

// send runs the senders through warmup and window, then waits for the
// server to answer every message. It returns the server sample taken as
// the window opened.
func (r *run) send(ctx context.Context, senders, campers []*camper, srv *sampler) (ProcSample, sendStats) {
	var stats sendStats
	n := min(len(senders), 8)
	if n == 0 {
		return srv.sample(), stats
	}
	winStart, sendEnd := r.setWindow()
	ss := make([]*sender, n)
	for i := range ss {
		var mine []*camper
		for j := i; j < len(senders); j += n {
			mine = append(mine, senders[j])
		}
		ss[i] = newSender(mine, r.cfg.Size, r.cfg.Rate/float64(n), time.Duration(r.now()))
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

	// Sample the server as the window opens.
	r.awaitWindow(ctx, winStart)
	startSample := srv.sample()

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
	}
	r.drain(ctx, senders, stats.sent)
	return startSample, stats
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
	}
	return true
}

// drain waits, polling with a deadline, until every message has been
// answered and deliveries have stopped arriving.
func (r *run) drain(ctx context.Context, senders []*camper, sent int64) {
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
		if answered >= sent && delivered == last {
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
