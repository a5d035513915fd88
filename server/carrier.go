package server

import (
	"time"

	"campfire/protocol"
)

// The one path to the camp: a loop turns what it reads into commands and
// hands each to the carrier (submit); the carrier brings it to the loop
// that holds the camp, where campCore.apply runs it; apply hands every
// frame it produced to a router as a result (connection, bytes, last?);
// the carrier brings each result to its connection's loop, where
// campService.receive queues it. Carriers differ only in how commands and
// results travel:
//
//   - directCarrier (one loop): the camp is on the loop that read the
//     request, so submit applies the command at once and the results are
//     queued straight away. Nothing is copied.
//   - loopsCarrier (several loops, the default with several CPUs): commands
//     from other loops travel to loop 0 in batches, and results back to
//     their loops the same way (loops.go).

// cmdKind says what a command asks of the camp.
type cmdKind uint8

const (
	// cmdRequest: a whole request frame to answer.
	cmdRequest cmdKind = iota + 1
	// cmdFail: input that ends the connection (bad frame, frame timeout):
	// answer it with an error as the last reply and check the camper out.
	cmdFail
	// cmdLeave: the connection ended; check the camper out.
	cmdLeave
)

// command is one thing a connection asks of the camp. For cmdRequest, req
// borrows the bytes of the buffer it was parsed from: a carrier that does
// not apply it at once copies it.
type command struct {
	kind   cmdKind
	c      *campConn
	req    protocol.Request // cmdRequest
	status int              // cmdFail: the status of the error reply
	text   []byte           // cmdFail: its explanation
	why    closeReason      // cmdFail, cmdLeave: why the connection ends
	parsed int64            // cmdRequest, cmdFail: unix nanoseconds the frame was read
	bound  int32            // cmdRequest: what its reply may take (campState.inflight)
}

// result is one frame the camp produced for one connection. frame borrows
// the camp's scratch: a carrier that does not queue it at once copies it.
type result struct {
	c      *campConn
	frame  []byte
	last   closeReason     // non-zero: c's last frame; c ends for this reason
	camper protocol.CampID // with checkin: the id c checked in with
	answer bool            // the reply to a request c submitted
	// checkin: c checked in (as camper; which may be 0, J000 in a range
	// like J000-J999).
	checkin bool
	// For the reply to a request or a bad frame: what it answered and when
	// that was read, for the metrics.
	method protocol.Method
	parsed int64
	reply  bool
	bound  int32 // with answer: the request's reply bound, given back
}

// router takes the results of one apply, on the camp's loop.
type router interface {
	route(r *result)
}

// carrier takes commands to the camp and results back.
type carrier interface {
	// addLoop prepares a newly registered loop, on that loop.
	addLoop(l *campLoop)
	// submit hands a command from the loop that read it.
	submit(l *campLoop, cmd *command, now time.Time)
	// endRound passes on what l gathered during a round of its loop.
	endRound(l *campLoop)
	// router returns the router of results on loop 0, the camp's, for
	// results that come from elsewhere than a submit (the cluster's log).
	router(l0 *campLoop, now time.Time) router
}

// directCarrier is the carrier of one loop: the camp is right here.
type directCarrier struct {
	s     *campService
	local localRouter
}

func (d *directCarrier) addLoop(*campLoop) {}

func (d *directCarrier) submit(l *campLoop, cmd *command, now time.Time) {
	d.s.sequence(cmd, now, d.router(l, now))
}

func (d *directCarrier) router(l *campLoop, now time.Time) router {
	d.local = localRouter{s: d.s, l: l, now: now}
	return &d.local
}

func (d *directCarrier) endRound(*campLoop) {}

// localRouter queues results on the loop the camp runs on, whose
// connections they all are.
type localRouter struct {
	s   *campService
	l   *campLoop
	now time.Time
}

func (r *localRouter) route(res *result) { r.s.receive(r.l, res, r.now) }
