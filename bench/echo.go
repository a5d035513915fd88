package bench

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// echoConn is one connection of the echo scenario; its goroutine both
// reads and writes.
type echoConn struct {
	conn net.Conn
	rec  *Recorder
	in   []byte // read buffer
	out  []byte // Depth pre-filled payloads, restamped before each write
	// Stamp bytes of the payload being received (it may arrive in pieces).
	stamp [StampSize]byte
	pos   int // bytes of the current payload received so far
	// Written by the goroutine, read for progress and the report.
	trips atomic.Int64 // round trips of payloads sent inside the window
}

// echo runs the echo scenario: every connection keeps Depth payloads in
// flight against an echo service that keeps connections open.
func (r *run) echo(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	conns, connectTime := r.connect(ctx, cfg.Conns)
	defer r.closeAll(conns)
	var ecs []*echoConn
	for i, c := range conns {
		if c != nil {
			ecs = append(ecs, &echoConn{
				conn: c, rec: r.lat.Recorder(i),
				in: make([]byte, 4096), out: repeat(payload(cfg.Size), cfg.Depth),
			})
		}
	}
	// An echo connection is held as soon as it is open: nothing to check in.
	for _, s := range []stage{stageConnected, stageCheckedIn} {
		if err := r.coord.reach(ctx, s); err != nil {
			return nil, err
		}
	}
	winStart, err := r.coord.windowStart(ctx)
	if err != nil {
		return nil, err
	}
	sendEnd := r.openWindow(winStart)
	var wg sync.WaitGroup
	for _, ec := range ecs {
		wg.Go(func() { r.echoLoop(ec, sendEnd) })
	}
	stopProgress := r.startProgress(func() string {
		var n int64
		for _, ec := range ecs {
			n += ec.trips.Load()
		}
		return "round-trips=" + strconv.FormatInt(n, 10)
	})

	r.coord.windowOpen(ctx)
	ended := whenDone(&wg)
	// Every loop ends by itself once its payloads are back after sendEnd;
	// a server that stops echoing is cut off by closing the connections.
	limit := time.NewTimer(time.Duration(sendEnd-r.now()) + drainTimeout)
	defer limit.Stop()
	select {
	case <-ended:
	case <-ctx.Done():
	case <-limit.C:
	}
	reachErr := r.coord.reach(ctx, stageDrained)
	r.closeAll(conns)
	<-ended
	stopProgress()
	if reachErr != nil {
		return nil, reachErr
	}

	rep := &Report{
		Scenario: cfg.Scenario.String(), Addr: cfg.Addr, Conns: cfg.Conns, Sources: len(cfg.Sources),
		Size: cfg.Size, Depth: cfg.Depth, Warmup: cfg.Warmup.Seconds(), Window: cfg.Duration.Seconds(),
		Connected: len(ecs), ConnectTime: connectTime.Seconds(),
	}
	for _, ec := range ecs {
		ec.rec.Flush()
		rep.Delivered += ec.trips.Load()
	}
	rep.Sent = rep.Delivered
	rep.Bytes = rep.Delivered * int64(cfg.Size)
	return rep, nil
}

func repeat(b []byte, n int) []byte {
	out := make([]byte, 0, len(b)*n)
	for range n {
		out = append(out, b...)
	}
	return out
}

// echoLoop writes Depth payloads, then for every payload that comes back
// writes a new one until sendEnd, and returns when the last is back.
func (r *run) echoLoop(ec *echoConn, sendEnd int64) {
	inFlight := r.writePayloads(ec, r.cfg.Depth)
	for inFlight > 0 {
		n, err := ec.conn.Read(ec.in)
		if err != nil {
			r.readErr(err)
			return
		}
		back, ok := r.consumeEcho(ec, ec.in[:n])
		if !ok {
			r.errs.add(ErrUnexpected)
			return
		}
		inFlight -= back
		if back > 0 && r.now() < sendEnd {
			if inFlight += r.writePayloads(ec, back); inFlight == 0 {
				return
			}
		}
	}
}

// writePayloads stamps and writes n payloads in one write and returns how
// many are in flight (0 if the write failed).
func (r *run) writePayloads(ec *echoConn, n int) int {
	size := r.cfg.Size
	t := r.now()
	for k := range n {
		putStamp(ec.out[k*size:], t)
	}
	if _, err := ec.conn.Write(ec.out[:n*size]); err != nil {
		if !r.stopping.Load() {
			r.errs.add(ErrWrite)
		}
		return 0
	}
	return n
}

// consumeEcho accounts for echoed bytes, which may split payloads
// anywhere, and returns how many payloads they completed; ok is false if
// a payload came back without a valid timestamp.
func (r *run) consumeEcho(ec *echoConn, b []byte) (done int, ok bool) {
	size := r.cfg.Size
	for len(b) > 0 {
		take := min(size-ec.pos, len(b))
		if ec.pos < StampSize {
			copy(ec.stamp[ec.pos:], b[:take])
		}
		ec.pos += take
		b = b[take:]
		if ec.pos < size {
			break
		}
		ec.pos = 0
		t, valid := readStamp(ec.stamp[:])
		if !valid {
			return done, false
		}
		done++
		if r.inWindow(t) {
			ec.trips.Add(1)
			r.record(ec.rec, t)
		}
	}
	return done, true
}
