package server

import (
	"time"

	"go.uber.org/zap"

	"campfire/groups"
	"campfire/protocol"
)

// challenge serves CAMP/1.0: it cuts frames out of gnet's inbound buffer and
// hands them to the group state machine, whose replies and events it queues
// on the connections involved. The camp is only ever touched on the owner
// loop (loop 0), so it needs no lock; with one loop, everything happens in
// the callback that read the request.
type challenge struct {
	r       *reactor
	log     *zap.Logger
	camp    *groups.Camp[*conn]
	ids     protocol.IDRange
	goodbye []byte // the SHUTDOWN event

	// Owner-loop scratch.
	reparse  protocol.Parser // re-cuts forwarded frames, which are whole
	errFrame []byte
}

func newChallenge(cfg Config, log *zap.Logger) *challenge {
	h := &challenge{
		log:     log,
		camp:    groups.New[*conn](groups.Config{IDs: cfg.IDs, MaxCampers: cfg.MaxCampers}),
		ids:     cfg.IDs,
		reparse: protocol.Parser{MaxBody: cfg.MaxBody},
	}
	h.goodbye = protocol.AppendBody(protocol.AppendEvent(nil, protocol.EventShutdown, nil), nil)
	h.r = newReactor("challenge", cfg, log, h)
	return h
}

func isOwner(l *loop) bool { return l.idx == 0 }

// traffic parses every whole frame gnet has buffered, answers each in order
// (or forwards it to the owner), and discards what it used. A partial frame
// stays buffered; the parser remembers how far it got.
func (h *challenge) traffic(l *loop, c *conn, now time.Time) {
	buf, _ := c.gc.Peek(-1)
	frame := &l.frame
	used := 0
	for c.state == stateOpen && used < len(buf) {
		n, ok, err := c.parser.Parse(buf[used:], frame)
		if err != nil {
			h.badFrame(l, c, err, now)
			used = len(buf)
			break
		}
		if ok {
			if isOwner(l) {
				req := frame.Request()
				h.deliver(l, c, h.camp.Handle(c, &req, now), now)
			} else {
				l.fwd.ownerBatch().add(c, fwdRequest, 0, buf[used:used+n])
			}
		}
		used += n
		if n == 0 {
			break
		}
	}
	if c.state != stateOpen {
		used = len(buf) // nothing after the last reply is read
	}
	// gnet's Discard(0) discards everything buffered, so a partial frame
	// must not be discarded at all.
	if used > 0 {
		_, _ = c.gc.Discard(used)
	}
}

// deliver queues a result's reply and events on the owner, or hands them to
// the loops of their connections, and logs what changed.
func (h *challenge) deliver(owner *loop, c *conn, res groups.Result[*conn], now time.Time) {
	if res.Reply != nil {
		h.send(owner, c, res.Reply, res.Close, now)
		if res.Close {
			c.done = true
		}
	}
	for _, d := range res.Deliveries {
		h.send(owner, d.To, d.Frame, false, now)
	}
	switch res.Change.Kind {
	case groups.ChangeCheckin:
		h.log.Info("checked in", zap.String("camper", h.ids.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	case groups.ChangeCheckout:
		h.log.Info("checked out", zap.String("camper", h.ids.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	}
}

// send queues frame for c, from the owner loop. final makes it c's last.
func (h *challenge) send(owner *loop, c *conn, frame []byte, final bool, now time.Time) {
	if c.loop == owner.idx {
		owner.queue(c, frame)
		if final {
			owner.finish(c, now)
		}
		return
	}
	kind := fwdWrite
	if final {
		kind = fwdFinal
	}
	owner.fwd.loopBatch(c.loop).add(c, kind, 0, frame)
}

// badFrame answers a frame that cannot be delimited (400, 413 or 431): the
// camper is checked out and the connection lingers so the reply arrives. On
// a loop other than the owner, the input stops here and the rest happens
// on the owner, behind the requests already forwarded.
func (h *challenge) badFrame(l *loop, c *conn, err error, now time.Time) {
	h.log.Info("bad frame, closing", zap.Stringer("remote", c.gc.RemoteAddr()), zap.Error(err))
	if isOwner(l) {
		h.fail(l, c, protocol.StatusOf(err), err.Error(), now)
		return
	}
	c.halted = true
	l.fwd.ownerBatch().add(c, fwdBadFrame, protocol.StatusOf(err), []byte(err.Error()))
}

// fail, on the owner, sends c its last reply, an error, and checks it out.
func (h *challenge) fail(owner *loop, c *conn, status int, msg string, now time.Time) {
	h.errFrame = protocol.AppendError(h.errFrame[:0], status, nil, msg)
	h.send(owner, c, h.errFrame, true, now)
	h.leave(owner, c, now)
}

// leave, on the owner, checks c out if it had not left yet.
func (h *challenge) leave(owner *loop, c *conn, now time.Time) {
	c.done = true
	h.deliver(owner, nil, h.camp.Leave(c, now), now)
}

func (h *challenge) gone(l *loop, c *conn, now time.Time) {
	if isOwner(l) {
		if !c.done {
			h.leave(l, c, now)
		}
		return
	}
	l.fwd.ownerBatch().add(c, fwdLeave, 0, nil)
}

func (h *challenge) drain(l *loop, c *conn) {
	if isOwner(l) {
		h.camp.SetDraining(true)
	}
	l.queue(c, h.goodbye)
}

// endEvent hands the records gathered during an event to the loops they are
// for.
func (h *challenge) endEvent(l *loop) {
	if !isOwner(l) {
		if b := l.fwd.toOwner; b != nil {
			l.fwd.toOwner = nil
			handOn(h.r.loops[0].Load(), b, h.fromLoop)
		}
		return
	}
	for i, b := range l.fwd.toLoop {
		if b != nil {
			l.fwd.toLoop[i] = nil
			handOn(h.r.loops[i].Load(), b, h.toLoop)
		}
	}
}

// fromLoop runs on the owner: the camp handles what another loop read.
func (h *challenge) fromLoop(owner *loop, b *batch, now time.Time) {
	for _, rec := range b.recs {
		c := rec.c
		if c.done {
			continue // its last reply is on its way; what it sent after is ignored
		}
		switch rec.kind {
		case fwdRequest:
			if _, ok, err := h.reparse.Parse(b.bytes(rec), &owner.frame); ok && err == nil {
				req := owner.frame.Request()
				h.deliver(owner, c, h.camp.Handle(c, &req, now), now)
			}
		case fwdBadFrame:
			h.fail(owner, c, int(rec.status), string(b.bytes(rec)), now)
		case fwdLeave:
			h.leave(owner, c, now)
		}
	}
}

// toLoop runs on a connection's own loop: it queues what the owner sent.
func (h *challenge) toLoop(l *loop, b *batch, now time.Time) {
	for _, rec := range b.recs {
		l.queue(rec.c, b.bytes(rec))
		if rec.kind == fwdFinal {
			l.finish(rec.c, now)
		}
	}
}
