package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"campfire/protocol"
	"campfire/server/cluster"
)

// Hooks for the cluster tests in package server_test.

// LogEntry is a log entry as a replica applies it, with the server's
// record decoded (Kind data) and its bytes copied.
type LogEntry struct {
	Seq   uint64
	Time  time.Time // when the log took it
	Kind  cluster.Kind
	Node  string
	Epoch uint64
	// A data entry's record.
	Conn    uint64 // the connection's id on its node
	Cmd     string // "request", "fail", "leave" or "forget"
	Req     protocol.Request
	Origin  time.Time
	Refused bool // a check-in the origin refused while draining
	Bad     bool // the record could not be decoded
}

// TraceLog hands every log entry this node applies from now on to fn, on
// the camp's loop, before the entry is applied. It is an error outside
// cluster mode.
func (s *Server) TraceLog(fn func(LogEntry)) error {
	cc := s.clusterCamp()
	if cc == nil {
		return errors.New("not in cluster mode")
	}
	return cc.s.r.onLoop0(context.Background(), func(*campLoop) {
		cc.trace = func(e *cluster.Entry) { fn(traced(e)) }
	})
}

func traced(e *cluster.Entry) LogEntry {
	le := LogEntry{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Node: e.Node, Epoch: e.Epoch}
	if e.Kind != cluster.KindData {
		return le
	}
	r, err := decodeRecord(e.Data)
	if err != nil {
		le.Bad = true
		return le
	}
	le.Conn, le.Origin, le.Refused = r.connID, r.origin, r.flags&recRefused != 0
	switch r.kind {
	case cmdRequest:
		le.Cmd = "request"
	case cmdFail:
		le.Cmd = "fail"
	case cmdLeave:
		le.Cmd = "leave"
	case recForget:
		le.Cmd = "forget"
	}
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return append([]byte{}, b...)
	}
	le.Req = protocol.Request{Method: r.method, Name: clone(r.name), Args: clone(r.args), Full: r.flags&recFull != 0,
		ID: clone(r.id), BadID: r.flags&recBadID != 0, Body: clone(r.body)}
	return le
}

// Kill stops a cluster node as a crash would: its cluster node stops
// without appending anything more (no checkouts, no node-down), then its
// engines stop, which closes every connection. Shutdown afterwards does
// nothing.
func (s *Server) Kill() {
	s.beginStop()
	if cc := s.clusterCamp(); cc != nil {
		cc.node.Kill()
	}
	for _, e := range []*engine{s.main, s.echo} {
		if e != nil {
			_ = e.stop(context.Background())
		}
	}
	<-s.done
	if s.side != nil {
		_ = s.side.Shutdown(context.Background())
		<-s.sideDone
	}
}

// PeakPending is the most unsent output any connection of s's camp
// service had after a flush, for tests of the output limit.
func PeakPending(s *Server) (int, error) {
	peak := 0
	err := s.camp.r.forEachLoop(context.Background(), true, func(l *campLoop) { peak = max(peak, l.peak) })
	return peak, err
}

// MaxReplySize is the longest reply one request can get.
func MaxReplySize() int { return maxReplySize() }

// HoldAlways makes a server of several loops keep a batch open whenever
// its receiver has anything waiting, as it does only while the receiver
// is 16 batches behind.
func HoldAlways(cfg *Config) { cfg.holdAlways = true }

// RareSweeps makes the loops sweep their connections once an hour, not
// every second, so that a sweep's round does not hand on what a test
// expects something else to.
func RareSweeps(cfg *Config) { cfg.tick = time.Hour }

// BlockCampLoop stops the camp's loop (loop 0) in a task until release
// is called, so that work piles up for it. A connection must have opened
// on loop 0 first: loops are registered as they get their first.
func BlockCampLoop(s *Server) (release func(), err error) {
	started, done := make(chan struct{}), make(chan struct{})
	err = s.camp.r.loop(0).el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		close(started)
		<-done
		return nil
	}))
	if err != nil {
		return nil, err
	}
	<-started
	return sync.OnceFunc(func() { close(done) }), nil
}

// LoopOf returns the loop of the connection whose remote address is addr,
// or -1 if there is none.
func LoopOf(s *Server, addr string) (int, error) {
	idx := -1
	var mu sync.Mutex
	err := s.camp.r.forEachLoop(context.Background(), true, func(l *campLoop) {
		for c := l.active.head; c != nil; c = c.next {
			if c.remote != nil && c.remote.String() == addr {
				mu.Lock()
				idx = int(l.idx)
				mu.Unlock()
			}
		}
	})
	return idx, err
}

// CampInbox says how many batches wait in the camp loop's inbox, and which
// loops keep a batch open for it (a bit per loop).
func CampInbox(s *Server) (queued int, holders uint64) {
	ln := s.camp.carrier.(*loopsCarrier).lanes[0].Load()
	return int(ln.queued.Load()), ln.holders.Load()
}

// Writes is how many Writes the camp's loops have handed gnet so far.
func Writes(s *Server) (int, error) {
	var mu sync.Mutex
	n := 0
	err := s.camp.r.forEachLoop(context.Background(), true, func(l *campLoop) {
		mu.Lock()
		n += l.writes
		mu.Unlock()
	})
	return n, err
}
