package server

import (
	"time"

	"go.uber.org/zap"

	"campfire/groups"
	"campfire/protocol"
)

// challenge serves CAMP/1.0: it cuts frames out of gnet's inbound buffer and
// hands them to the group state machine, whose replies and events it queues
// on the connections involved. It runs on the event loop only, so the camp
// needs no lock.
type challenge struct {
	r        *reactor
	log      *zap.Logger
	camp     *groups.Camp[*conn]
	ids      protocol.IDRange
	maxBody  int
	frame    protocol.Frame // scratch, borrowed slices only
	goodbye  []byte         // the SHUTDOWN event
	errFrame []byte         // scratch for frame-error replies
}

func newChallenge(cfg Config, log *zap.Logger) *challenge {
	h := &challenge{
		log:     log,
		camp:    groups.New[*conn](groups.Config{IDs: cfg.IDs, MaxCampers: cfg.MaxCampers}),
		ids:     cfg.IDs,
		maxBody: cfg.MaxBody,
	}
	h.goodbye = protocol.AppendBody(protocol.AppendEvent(nil, protocol.EventShutdown, nil), nil)
	h.r = newReactor("challenge", cfg, log, h)
	return h
}

// traffic parses every whole frame gnet has buffered, answers each in order,
// and discards what it used. A partial frame stays buffered; the parser
// remembers how far it got.
func (h *challenge) traffic(c *conn, now time.Time) {
	if c.parser.MaxBody == 0 {
		c.parser.MaxBody = h.maxBody
	}
	buf, _ := c.gc.Peek(-1)
	used := 0
	for c.state == stateOpen && used < len(buf) {
		n, ok, err := c.parser.Parse(buf[used:], &h.frame)
		if err != nil {
			h.badFrame(c, err, now)
			used = len(buf)
			break
		}
		used += n
		if !ok {
			if n == 0 {
				break
			}
			continue
		}
		req := h.frame.Request()
		res := h.camp.Handle(c, &req, now)
		h.deliver(c, res)
		if res.Close {
			h.r.finish(c, now)
			used = len(buf) // nothing after checkout is read
		}
	}
	// gnet's Discard(0) discards everything buffered, so a partial frame
	// must not be discarded at all.
	if used > 0 {
		_, _ = c.gc.Discard(used)
	}
}

// deliver queues a result's reply and events, and logs what changed.
func (h *challenge) deliver(c *conn, res groups.Result[*conn]) {
	if c != nil && res.Reply != nil {
		h.r.queue(c, res.Reply)
	}
	for _, d := range res.Deliveries {
		h.r.queue(d.To, d.Frame)
	}
	switch res.Change.Kind {
	case groups.ChangeCheckin:
		h.log.Info("checked in", zap.String("camper", h.ids.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	case groups.ChangeCheckout:
		h.log.Info("checked out", zap.String("camper", h.ids.Format(res.Change.ID)), zap.Int("group", res.Change.Group))
	}
}

// badFrame answers a frame that cannot be delimited (400, 413 or 431), checks
// the camper out and lets the connection linger so the reply arrives.
func (h *challenge) badFrame(c *conn, err error, now time.Time) {
	h.log.Info("bad frame, closing", zap.Stringer("remote", c.gc.RemoteAddr()), zap.Error(err))
	h.errFrame = protocol.AppendError(h.errFrame[:0], protocol.StatusOf(err), nil, err.Error())
	h.r.queue(c, h.errFrame)
	h.gone(c, now)
	h.r.finish(c, now)
}

func (h *challenge) gone(c *conn, now time.Time) {
	h.deliver(nil, h.camp.Leave(c, now))
}

func (h *challenge) shutdown(c *conn) {
	h.camp.SetDraining(true)
	h.r.queue(c, h.goodbye)
}
