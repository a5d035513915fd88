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
	srv := &sampler{pid: cfg.ServerPID}
	before := srv.sample()
	r.lat = NewLatencies(16)
	winStart, sendEnd := r.setWindow()
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

	r.awaitWindow(ctx, winStart)
	startSample := srv.sample()
	ended := whenDone(&wg)
	select {
	case <-ended:
	case <-ctx.Done():
		close(stop)
		<-ended
	}
	end := srv.sample()
	stopProgress()

	rep := &Report{
		Scenario: cfg.Scenario.String(), Addr: cfg.Addr, Conns: cfg.Conns, Sources: len(cfg.Sources),
		Size: cfg.Size, Depth: cfg.Depth, Warmup: cfg.Warmup.Seconds(), Window: cfg.Duration.Seconds(),
	}
	for i := range cycles {
		rep.Delivered += cycles[i].Load()
		rep.Connected += int(dials[i].Load())
	}
	rep.CheckedIn = int(rep.Delivered)
	rep.ConnectTime = cfg.Duration.Seconds()
	rep.CheckinTime = rep.ConnectTime
	rep.ConnectRate = rate(int64(rep.Connected), cfg.Duration)
	rep.CheckinRate = rate(rep.Delivered, cfg.Duration)
	rep.Sent = rep.Delivered
	rep.OfferedRate = rep.CheckinRate
	rep.DeliveredRate = rep.CheckinRate
	rep.Latency = Summarize(r.lat.Merged())
	rep.Server = srv.figures(before, before, startSample, end, 0, rep.Delivered)
	rep.Notes = append(rep.Notes, "checkin: delivered counts connect-checkin-checkout cycles; latency is the whole cycle")
	if srv.err != nil {
		return nil, srv.err
	}
	return rep, nil
}

// churner is one churning goroutine with its own camp id and shard.
func (r *run) churner(ctx context.Context, w int, sendEnd int64, stop <-chan struct{}, cycles, dials *atomic.Int64) {
	rec := r.lat.Recorder(w)
	defer rec.Flush()
	ids := r.cfg.IDs
	checkin := protocol.AppendBody(protocol.AppendRequest(nil, protocol.MethodCheckin, ids.Append(nil, ids.Min+protocol.CampID(w))), nil)
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
		c, err := r.dialers.For(w+i*r.cfg.Conns).DialContext(ctx, "tcp", r.cfg.Addr)
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
			rec.Record((r.now() - t0) / int64(time.Microsecond))
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
