package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"campfire/protocol"
)

// dialBackoff keeps a churner whose dials fail at once (connection
// refused) from spinning.
const dialBackoff = 10 * time.Millisecond

// churn runs the checkin scenario: Conns churners each connect, check in,
// check out and wait for the server to close, over and over; the latency
// is that whole cycle.
func (r *run) churn(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	// Churners hold no connection between cycles: nothing to set up.
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
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cycles := make([]atomic.Int64, cfg.Conns)
	dials := make([]atomic.Int64, cfg.Conns)
	for w := range cfg.Conns {
		wg.Go(func() { r.churner(ctx, w, sendEnd, stop, &cycles[w], &dials[w]) })
	}
	stopProgress := r.startProgress(func() string {
		var n int64
		for i := range cycles {
			n += cycles[i].Load()
		}
		return "cycles=" + strconv.FormatInt(n, 10)
	})

	r.coord.windowOpen(ctx)
	ended := whenDone(&wg)
	select {
	case <-ended:
	case <-ctx.Done():
		close(stop)
		<-ended
	}
	stopProgress()
	if err := r.coord.reach(ctx, stageDrained); err != nil {
		return nil, err
	}

	rep := &Report{
		Scenario: cfg.Scenario.String(), Addr: cfg.Addr, Conns: cfg.Conns, Sources: len(cfg.Sources),
		Size: cfg.Size, Depth: cfg.Depth, Warmup: cfg.Warmup.Seconds(), Window: cfg.Duration.Seconds(),
	}
	for i := range cycles {
		rep.Delivered += cycles[i].Load()
		rep.Connected += int(dials[i].Load())
	}
	// A cycle is a connection and a check-in, both paced by the window.
	rep.CheckedIn = int(rep.Delivered)
	rep.ConnectTime = cfg.Duration.Seconds()
	rep.CheckinTime = rep.ConnectTime
	rep.Sent = rep.Delivered
	return rep, nil
}

// churner is one churning goroutine with its own camp id and shard.
func (r *run) churner(ctx context.Context, w int, sendEnd int64, stop <-chan struct{}, cycles, dials *atomic.Int64) {
	rec := r.lat.Recorder(w)
	defer rec.Flush()
	ids := r.cfg.IDs
	checkin := protocol.AppendBody(protocol.AppendRequest(nil, protocol.MethodCheckin, ids.Append(nil, ids.Min+protocol.CampID(r.cfg.first+w))), nil)
	checkout := protocol.AppendBody(protocol.AppendRequest(nil, protocol.MethodCheckout, nil), nil)
	backoff := time.NewTimer(time.Hour)
	defer backoff.Stop()
	for i := 0; ; i++ {
		t0 := r.now()
		if t0 >= sendEnd {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		c, err := r.dial(ctx, w+i*r.cfg.Conns, r.addrFor(w))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.errs.add(ErrDial)
			backoff.Reset(dialBackoff)
			select {
			case <-stop:
				return
			case <-backoff.C:
			}
			continue
		}
		if r.inWindow(t0) {
			dials.Add(1)
		}
		ok := r.cycle(c, checkin, checkout)
		c.Close()
		if ok && r.inWindow(t0) {
			cycles.Add(1)
			r.record(rec, t0)
		}
	}
}

// cycle checks in, checks out and reads until the server closes.
func (r *run) cycle(c net.Conn, checkin, checkout []byte) bool {
	c.SetDeadline(time.Now().Add(setupTimeout))
	rd := protocol.NewReader(c, 0)
	for _, step := range []struct {
		req  []byte
		kind ErrKind
	}{{checkin, ErrCheckin}, {checkout, ErrStatus}} {
		if _, err := c.Write(step.req); err != nil {
			r.errs.add(ErrWrite)
			return false
		}
		if !r.awaitResponse(rd, step.kind) {
			return false
		}
	}
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			r.errs.add(ErrRead)
			return false
		}
	}
}

// awaitResponse reads past events to the next response and checks it is
// a 200.
func (r *run) awaitResponse(rd *protocol.Reader, kind ErrKind) bool {
	for {
		f, err := rd.Next()
		if err != nil {
			r.readErr(err)
			return false
		}
		code, ok := f.Status()
		if !ok {
			continue
		}
		if code != protocol.StatusOK {
			r.errs.add(kind)
			return false
		}
		return true
	}
}
