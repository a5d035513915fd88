package server

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"campfire/groups"
	"campfire/protocol"
	"campfire/server/metrics"
)

// campState is the camp service's share of a connection. The fields up
// to checkedIn belong to the connection's own loop; gone and seat belong to
// the loop that holds the camp.
type campState struct {
	parser protocol.Parser
	// inflight bounds the replies to the requests handed to the camp and
	// not answered yet, in bytes (replyBound each).
	inflight int32
	camper   protocol.CampID // with checkedIn: the id it checked in with, for the close log
	// halted: the connection's last reply is on its way (or it ended); its
	// input is thrown away and its end needs no checkout.
	halted bool
	// checkedIn: it checked in (camper is its id, and 0 is an id too).
	checkedIn bool
	// gone is the camp's own record that the connection has left: what
	// arrives for it after that is ignored.
	gone bool
	// seat is where the connection's camper sits, kept by the camp (see
	// campMember); camper above is the connection loop's own copy of the
	// id, for its close log.
	seat groups.Seat
}

// campConn is a connection of the camp service.
type campConn = conn[campState]

// campMember is a connection as the camp holds it: the connection, and
// the seat in it that the camp keeps, so that the camp needs no map from
// connections to campers. (A method cannot be declared on campConn, an
// instance of the reactor's generic conn; this wrapper costs nothing.)
type campMember struct{ *campConn }

// Seat is the connection's seat in the camp, for groups.Camp.
func (m campMember) Seat() *groups.Seat { return &m.x.seat }

// campLoop is an event loop of the camp service.
type campLoop = loop[campState]

// campService serves CAMP/1.0. On the loop that reads a connection it cuts
// frames out of gnet's inbound buffer and turns them into commands for the
// camp; a carrier takes each command to the loop that holds the camp,
// where campCore applies it, and brings the results (connection, bytes,
// last?) back to the loops of the connections involved, where receive
// queues them. It is the only part of the server that knows CAMP.
type campService struct {
	r       *reactor[campState]
	core    *campCore
	carrier carrier
	log     *zap.Logger
	frames  [maxLoops]*protocol.Frame // per-loop scratch for the frame being read
	cmds    [maxLoops]*command        // per-loop scratch for the command being handed on
	telnet  [maxLoops][]byte          // per-loop scratch for telnet answers
	bye     []byte                    // SHUTDOWN
	full    []byte                    // 503 to a connection over a cap
	busy    []byte                    // 503 to a connection while shutting down
	timeout []byte                    // explanation of a 408
	maxBody int
	cluster *clusterCamp // nil unless in cluster mode
	// maxReply bounds the reply to one request, so that the output limit
	// can count the replies still in flight.
	maxReply int
}

func newCampService(cfg Config, log *zap.Logger) *campService {
	s := &campService{
		bye:     protocol.AppendBody(protocol.AppendEvent(nil, protocol.EventShutdown, nil), nil),
		full:    protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server full: too many connections, try again later"),
		busy:    protocol.AppendError(nil, protocol.StatusServiceUnavailable, nil, "server shutting down"),
		timeout: []byte("frame not complete within " + cfg.FrameTimeout.String()),
		maxBody: cfg.MaxBody,
	}
	s.maxReply = maxReplySize()
	s.r = newReactor("camp", cfg, log, service[campState](s))
	s.log = s.r.quiet
	s.core = newCampCore(cfg, s.r.quiet)
	if cfg.Loops > 1 {
		s.carrier = newLoopsCarrier(s, &cfg)
	} else {
		s.carrier = &directCarrier{s: s}
	}
	// Draining is one transition: the camp refuses check-ins from the
	// moment the shutdown begins, before anyone is told.
	s.r.beforeDrain = func(ctx context.Context) {
		_ = s.r.onLoop0(ctx, func(*campLoop) {
			if s.cluster != nil {
				// The replicas must stay equal: this node refuses its own
				// check-ins instead of marking the shared camp.
				s.cluster.draining = true
				return
			}
			s.core.camp.SetDraining(true)
		})
	}
	s.r.onLoop = func(l *campLoop) {
		s.frames[l.idx] = new(protocol.Frame)
		s.cmds[l.idx] = new(command)
		s.carrier.addLoop(l)
	}
	return s
}

// replyBound bounds the reply to the request in f: the longest reply any
// request can get is a 501 quoting its start line (4 bytes a byte at
// worst) or help; an Id is echoed.
func (s *campService) replyBound(f *protocol.Frame) int32 {
	n := replySlack + 4*len(f.Start)
	if len(f.Head) > 0 {
		n += protocol.MaxIDHeader
	}
	return int32(min(n, s.maxReply))
}

// replySlack is what every reply may take besides the quoted line: status
// line, headers, the fixed words of an error, or the help text.
const replySlack = 256 + len(protocol.Help)

// maxReplySize is the longest reply one request can get: a 501 quoting a
// start line of MaxLine bytes, or help with the longest Id.
func maxReplySize() int {
	id := []byte(strings.Repeat("x", protocol.MaxIDHeader))
	help := protocol.AppendBody(protocol.AppendHeader(protocol.AppendStatus(nil, protocol.StatusOK), protocol.HeaderID, id), []byte(protocol.Help))
	unknown := protocol.AppendError(nil, protocol.StatusNotImplemented, id,
		"unknown request "+strings.Repeat(`\x00`, protocol.MaxLine)+"; known requests: "+protocol.Known)
	return max(len(help), len(unknown))
}

func (s *campService) open(c *campConn) { c.x.parser.MaxBody = s.maxBody }

// input parses every whole frame gnet has buffered and hands each to the
// carrier in order, until the output is over its limit; a partial frame
// stays buffered (the parser remembers how far it got).
func (s *campService) input(l *campLoop, c *campConn, now time.Time) {
	buf, _ := c.gc.Peek(-1)
	if c.x.halted {
		l.consume(c, len(buf))
		return
	}
	frame := s.frames[l.idx]
	used := 0
	fresh, waiting := false, false
	for used < len(buf) {
		if l.full(c, int(c.x.inflight)) {
			l.pause(c, now)
			break
		}
		n, ok, err := c.x.parser.Parse(buf[used:], frame)
		if err != nil {
			s.fail(l, c, protocol.StatusOf(err), err.Error(), closeBadFrame, now)
			break
		}
		if n == 0 {
			waiting = true
			break
		}
		used += n
		if !ok {
			// Empty lines, or a telnet command, which may want an answer.
			if s.telnet[l.idx] = c.x.parser.AppendTelnetReply(s.telnet[l.idx][:0]); len(s.telnet[l.idx]) > 0 {
				l.queue(c, s.telnet[l.idx])
			}
			continue
		}
		fresh = true
		bound := s.replyBound(frame)
		c.x.inflight += bound
		s.submit(l, command{kind: cmdRequest, c: c, req: frame.Request(), parsed: now.UnixNano(), bound: bound}, now)
		if c.state != stateOpen || c.x.halted {
			break
		}
	}
	if c.state != stateOpen || c.x.halted {
		used = len(buf) // nothing after the last reply is read
	}
	l.consume(c, used)
	// A frame that has begun (not telnet negotiation, not empty lines) runs
	// against the frame timeout; a paused connection waits on its output.
	l.partial(c, waiting && c.state == stateOpen && !c.x.halted && c.x.parser.Begun(), fresh, now)
}

// submit hands cmd to the carrier through l's scratch command, so that
// handing on a request allocates nothing. The carrier applies or copies it
// before it returns, and nothing submits again meanwhile on the same loop.
func (s *campService) submit(l *campLoop, cmd command, now time.Time) {
	p := s.cmds[l.idx]
	*p = cmd
	s.carrier.submit(l, p, now)
	*p = command{}
}

// resumeIfRoom goes on reading a paused connection once its output and
// the replies still in flight fit the limit again.
func (s *campService) resumeIfRoom(l *campLoop, c *campConn, now time.Time) {
	if c.paused && c.state == stateOpen && !l.full(c, int(c.x.inflight)) {
		l.resume(c)
		s.input(l, c, now)
	}
}

// fail answers input that ends the connection (a bad frame, a frame
// timeout): the camp checks the camper out and sends the error as its
// last reply, behind the replies to the requests before it.
func (s *campService) fail(l *campLoop, c *campConn, status int, msg string, why closeReason, now time.Time) {
	s.log.Info("closing on bad input", zap.Stringer("remote", remoteAddr(c)), zap.Int("status", status), zap.String("error", msg))
	c.x.halted = true
	l.partial(c, false, false, now)
	s.submit(l, command{kind: cmdFail, c: c, status: status, text: []byte(msg), why: why, parsed: now.UnixNano()}, now)
}

// receive queues one result on its connection's loop.
func (s *campService) receive(l *campLoop, r *result, now time.Time) {
	c := r.c
	if r.answer {
		c.x.inflight -= r.bound
	}
	if r.checkin {
		c.x.camper, c.x.checkedIn = r.camper, true
	}
	if m := s.r.m; m != nil && c.state == stateOpen {
		if r.reply {
			m.Request(r.method, replyStatus(r.frame), time.Duration(now.UnixNano()-r.parsed))
		} else {
			m.Event(eventKind(r.frame), 1)
		}
	}
	l.queue(c, r.frame)
	if r.last != 0 {
		c.x.halted = true
		l.finish(c, r.last, now)
	}
}

// ended checks a camper out when its connection ended for any reason the
// camp did not give itself.
func (s *campService) ended(l *campLoop, c *campConn, why closeReason, now time.Time) {
	if c.x.halted {
		return
	}
	c.x.halted = true
	s.submit(l, command{kind: cmdLeave, c: c, why: why}, now)
}

func (s *campService) frameTimeout(l *campLoop, c *campConn, now time.Time) {
	s.fail(l, c, protocol.StatusRequestTimeout, string(s.timeout), closeFrameTimeout, now)
}

func (s *campService) goodbye() []byte { return s.bye }

func (s *campService) refusal(busy bool) []byte {
	if busy {
		return s.busy
	}
	return s.full
}

func (s *campService) endRound(l *campLoop) {
	s.carrier.endRound(l)
	if s.cluster != nil && l.idx == 0 {
		// After the carrier: what other loops sent is in the log too.
		s.cluster.flush()
	}
}

// sequence is the step every carrier takes on the camp's loop: apply the
// command, or in cluster mode hand it to the log.
func (s *campService) sequence(cmd *command, now time.Time, out router) {
	if s.cluster != nil {
		s.cluster.order(cmd, now, out)
		return
	}
	s.core.apply(cmd, now, out)
}

func (s *campService) describe(c *campConn) zap.Field {
	if !c.x.checkedIn {
		return zap.Skip()
	}
	return zap.String("camper", s.core.ids.Format(c.x.camper))
}

// campCore holds the camp and applies commands to it. It runs only on the
// loop that holds the camp (loop 0), whichever carrier brought the command.
type campCore struct {
	camp     *groups.Camp[campMember]
	ids      protocol.IDRange
	log      *zap.Logger
	errFrame []byte
	res      result // scratch
	m        *metrics.Metrics
	messages uint64 // message and direct requests answered 200
}

func newCampCore(cfg Config, log *zap.Logger) *campCore {
	return &campCore{
		camp: groups.New[campMember](groups.Config{IDs: cfg.IDs, MaxCampers: cfg.MaxCampers}),
		ids:  cfg.IDs,
		log:  log,
		m:    cfg.Metrics,
	}
}

// apply runs one command against the camp and hands every frame it
// produced to out, in the order they must be written: the reply first,
// then the events.
func (k *campCore) apply(cmd *command, now time.Time, out router) {
	c := cmd.c
	if c.x.gone {
		return // its last reply is on its way; what it sent after is ignored
	}
	switch cmd.kind {
	case cmdRequest:
		res := k.camp.Handle(campMember{c}, &cmd.req, now)
		k.res = result{c: c, frame: res.Reply, answer: true, reply: true, method: cmd.req.Method, parsed: cmd.parsed, bound: cmd.bound}
		if (cmd.req.Method == protocol.MethodMessage || cmd.req.Method == protocol.MethodDirect) && replyStatus(res.Reply) == protocol.StatusOK {
			k.messages++
		}
		if res.Close {
			k.res.last = closeCheckout
			c.x.gone = true
		}
		if res.Change.Kind == groups.ChangeCheckin {
			k.res.camper, k.res.checkin = res.Change.ID, true
		}
		out.route(&k.res)
		k.deliver(res, c, out)
	case cmdFail:
		k.errFrame = protocol.AppendError(k.errFrame[:0], cmd.status, nil, string(cmd.text))
		k.res = result{c: c, frame: k.errFrame, last: cmd.why, reply: true, parsed: cmd.parsed}
		out.route(&k.res)
		k.leave(c, now, out)
	case cmdLeave:
		k.leave(c, now, out)
	}
}

// refuse answers a request with 503 without touching the camp.
func (k *campCore) refuse(c *campConn, id []byte, msg string, parsed int64, bound int32, out router) {
	k.errFrame = protocol.AppendError(k.errFrame[:0], protocol.StatusServiceUnavailable, id, msg)
	k.res = result{c: c, frame: k.errFrame, answer: true, reply: true, parsed: parsed, bound: bound}
	out.route(&k.res)
}

// lastError sends c an error as its last reply without touching the camp.
func (k *campCore) lastError(c *campConn, status int, msg string, why closeReason, parsed int64, out router) {
	k.errFrame = protocol.AppendError(k.errFrame[:0], status, nil, msg)
	k.res = result{c: c, frame: k.errFrame, last: why, reply: true, parsed: parsed}
	out.route(&k.res)
}

// leave checks c out, if it had checked in.
func (k *campCore) leave(c *campConn, now time.Time, out router) {
	c.x.gone = true
	k.deliver(k.camp.Leave(campMember{c}, now), c, out)
}

// deliver routes a result's events and logs what changed for c.
func (k *campCore) deliver(res groups.Result[campMember], c *campConn, out router) {
	for _, d := range res.Deliveries {
		k.res = result{c: d.To.campConn, frame: d.Frame}
		out.route(&k.res)
	}
	if res.Change.Kind != 0 || len(res.Deliveries) > 0 {
		k.gauges()
	}
	msg := ""
	switch res.Change.Kind {
	case groups.ChangeCheckin:
		msg = "checked in"
	case groups.ChangeCheckout:
		msg = "checked out"
	default:
		return
	}
	// Check first: the sampler drops most of these lines, and building the
	// fields would allocate for each of them.
	if ce := k.log.Check(zap.InfoLevel, msg); ce != nil {
		ce.Write(zap.String("camper", k.ids.Format(res.Change.ID)), zap.Int("group", res.Change.Group),
			zap.Stringer("remote", remoteAddr(c)))
	}
}

// gauges publishes the camp's counts.
func (k *campCore) gauges() {
	k.m.SetCampers(k.camp.Len())
	k.m.SetGroups(k.camp.Groups())
	k.m.SetSessions(k.camp.Sessions())
}

// replyStatus reads the status code of a response frame.
func replyStatus(f []byte) int {
	const at = len(protocol.Version) + 1
	if len(f) < at+3 {
		return 0
	}
	return int(f[at]-'0')*100 + int(f[at+1]-'0')*10 + int(f[at+2]-'0')
}

// eventKind tells an event frame's kind by its first letter, which differs
// for every event the server sends.
func eventKind(f []byte) metrics.EventKind {
	if len(f) == 0 {
		return 0
	}
	switch f[0] {
	case 'J':
		return metrics.EventJoined
	case 'L':
		return metrics.EventLeft
	case 'P':
		return metrics.EventPeerSession
	case 'C':
		return metrics.EventComplete
	case 'M':
		return metrics.EventMessage
	case 'D':
		return metrics.EventDirect
	case 'S':
		return metrics.EventShutdown
	}
	return 0
}
