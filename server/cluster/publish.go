package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// outMsg is one log message being filled, waiting, or in flight.
type outMsg struct {
	data     []byte
	tags     []uint64  // the tags of its data entries, in order
	entries  int       // data and control entries
	deadline time.Time // its first entry's append time plus ClusterTimeout
	nm       *nats.Msg // the message handed to nats.go, reused with the outMsg
	done     bool      // acknowledged or failed
	failed   bool      // failed: nats.go may still hold it, so it is never reused
}

type failure struct {
	tags []uint64
	err  error
}

// publisher packs appended entries into log messages and publishes them
// asynchronously, at most Config.Window unacknowledged at a time, so that
// no entry waits for another's round trip. Entries are taken by Append
// into the open message; Flush closes it; the run goroutine publishes
// closed messages as the window allows. Acknowledgements and errors come
// back on nats.go's goroutines. Every entry is settled within
// ClusterTimeout of its Append: in the log (acknowledged; the node learns
// its outcome by reading the log) or reported to Handler.Failed.
type publisher struct {
	n     *Node
	wakeC chan struct{}

	mu      sync.Mutex
	open    *outMsg
	ready   []*outMsg // closed, not yet published, in order
	flights []*outMsg // published, in order; done ones are dropped from the front
	byMsg   map[*nats.Msg]*outMsg
	failed  []failure // to be reported by run
	free    []*outMsg // acknowledged messages to reuse
	closed  bool
	idle    chan struct{} // closed when nothing is open, ready or in flight; nil if nobody waits

	appended, published, acked, failedEntries uint64
}

func (p *publisher) init(n *Node) {
	p.n = n
	p.wakeC = make(chan struct{}, 1)
	p.byMsg = make(map[*nats.Msg]*outMsg)
}

func (p *publisher) wake() {
	select {
	case p.wakeC <- struct{}{}:
	default:
	}
}

// Append queues an entry for the log; tag is handed back to
// Handler.Failed if it does not get there. The entry is copied, so the
// caller may reuse it at once. Nothing is published before Flush: call it
// once after everything one event produced, so that it travels in as few
// messages as possible. Append and Flush may be called from any
// goroutine.
func (n *Node) Append(tag uint64, entry []byte) {
	p := &n.pub
	p.mu.Lock()
	p.appended++
	switch {
	case p.closed:
		p.failLocked([]uint64{tag}, ErrClosed)
	case !n.active.Load():
		p.failLocked([]uint64{tag}, ErrNotMember)
	default:
		m := p.room(len(entry))
		m.data = appendEntry(m.data, KindData, entry)
		m.tags = append(m.tags, tag)
		m.entries++
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.wake()
}

// Flush publishes what Append has queued.
func (n *Node) Flush() {
	p := &n.pub
	p.mu.Lock()
	p.closeOpen()
	p.mu.Unlock()
	p.wake()
}

// appendControl appends one of the package's own entries and flushes. It
// is taken even when the node is not a member (a node-up must be) and
// after Close has begun (the node's own node-down).
func (p *publisher) appendControl(kind Kind, body []byte) {
	p.mu.Lock()
	m := p.room(len(body))
	m.data = appendEntry(m.data, kind, body)
	m.entries++
	p.closeOpen()
	p.mu.Unlock()
	p.wake()
}

// room returns the open message, first closing it if an entry of size
// bytes would not fit.
func (p *publisher) room(size int) *outMsg {
	cfg := &p.n.cfg
	if m := p.open; m != nil {
		if len(m.data)+entrySize(size) <= cfg.MaxMessage && (cfg.MaxEntries == 0 || m.entries < cfg.MaxEntries) {
			return m
		}
		p.closeOpen()
	}
	var m *outMsg
	if k := len(p.free); k > 0 {
		m = p.free[k-1]
		p.free = p.free[:k-1]
		*m = outMsg{data: m.data[:0], tags: m.tags[:0], nm: m.nm}
	} else {
		m = &outMsg{data: make([]byte, 0, min(cfg.MaxMessage, 4096)), nm: &nats.Msg{Subject: p.n.subjLog}}
	}
	m.data = appendHeader(m.data, p.n.cfg.Node, p.n.epoch.Load())
	m.deadline = time.Now().Add(cfg.ClusterTimeout)
	p.open = m
	return m
}

func (p *publisher) closeOpen() {
	if p.open != nil {
		p.ready = append(p.ready, p.open)
		p.open = nil
	}
}

func (p *publisher) failLocked(tags []uint64, err error) {
	if len(tags) > 0 {
		p.failed = append(p.failed, failure{tags, err})
		p.failedEntries += uint64(len(tags))
	}
}

// run publishes ready messages as the window allows, fails the ones whose
// deadline has passed, and reports failures.
func (p *publisher) run() {
	defer p.n.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-p.n.stop:
			return
		case <-p.wakeC:
		case <-timer.C:
		}
		next := p.pump()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
	}
}

// pump does one round of run's work and returns the next deadline to
// check, or zero.
func (p *publisher) pump() time.Time {
	p.mu.Lock()
	now := time.Now()
	p.expire(now)
	for len(p.ready) > 0 && len(p.byMsg) < p.n.cfg.Window {
		m := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		m.nm.Data = m.data
		m.nm.Header = nil
		p.byMsg[m.nm] = m
		p.flights = append(p.flights, m)
		p.published++
		p.mu.Unlock()
		// No retries inside nats.go: a retried message could land after
		// later ones from this node, and this node's entries must stay in
		// the order they were appended.
		_, err := p.n.js.PublishMsgAsync(m.nm, jetstream.WithRetryAttempts(0))
		p.mu.Lock()
		if err != nil && p.byMsg[m.nm] == m {
			p.settle(m, err)
		}
	}
	failed := p.failed
	p.failed = nil
	var next time.Time
	for _, m := range p.flights {
		if !m.done {
			next = m.deadline
			break
		}
	}
	if len(p.ready) > 0 && (next.IsZero() || p.ready[0].deadline.Before(next)) {
		next = p.ready[0].deadline
	}
	if p.open != nil && (next.IsZero() || p.open.deadline.Before(next)) {
		next = p.open.deadline
	}
	p.checkIdle()
	p.mu.Unlock()
	p.report(failed)
	return next
}

// expire fails every message whose deadline has passed: published ones
// the log has not acknowledged, and ones still waiting for the window.
func (p *publisher) expire(now time.Time) {
	// settle drops done messages from the front of p.flights, so the
	// expired ones are gathered first: a message acknowledged out of order
	// behind an expired one would otherwise be dropped under the loop.
	// Deadlines rise along p.flights.
	var expired []*outMsg
	for _, m := range p.flights {
		if m.done {
			continue
		}
		if m.deadline.After(now) {
			break
		}
		expired = append(expired, m)
	}
	for _, m := range expired {
		p.settle(m, ErrTimeout)
	}
	for len(p.ready) > 0 && !p.ready[0].deadline.After(now) {
		m := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		p.failMsg(m, ErrTimeout)
	}
	if p.open != nil && !p.open.deadline.After(now) {
		p.failMsg(p.open, ErrTimeout)
		p.open = nil
	}
}

// settle ends an in-flight message: acknowledged (err nil) or failed.
func (p *publisher) settle(m *outMsg, err error) {
	delete(p.byMsg, m.nm)
	m.done = true
	if err != nil {
		p.failMsg(m, err)
	} else {
		p.acked++
	}
	for len(p.flights) > 0 && p.flights[0].done {
		head := p.flights[0]
		p.flights[0] = nil
		p.flights = p.flights[1:]
		if !head.failed {
			p.free = append(p.free, head)
		}
	}
}

func (p *publisher) failMsg(m *outMsg, err error) {
	if len(m.tags) < m.entries {
		p.n.log.Debug("control entry not appended", zap.Error(err))
	}
	p.failLocked(m.tags, err)
	m.failed = true
}

func (p *publisher) report(failed []failure) {
	if p.n.h == nil {
		return
	}
	for _, f := range failed {
		p.n.h.Failed(f.tags, f.err)
	}
}

// onAck is nats.go's acknowledgement callback.
func (p *publisher) onAck(_ jetstream.JetStream, nm *nats.Msg, _ *jetstream.PubAck) {
	p.mu.Lock()
	if m := p.byMsg[nm]; m != nil {
		p.settle(m, nil)
	}
	p.mu.Unlock()
	p.wake()
}

// onErr is nats.go's error callback. nats.go may hold its publisher lock
// while calling it, so it only records the failure; run reports it.
func (p *publisher) onErr(_ jetstream.JetStream, nm *nats.Msg, err error) {
	if err == jetstream.ErrAsyncPublishTimeout {
		err = ErrTimeout
	}
	p.mu.Lock()
	if m := p.byMsg[nm]; m != nil {
		p.settle(m, err)
	}
	p.mu.Unlock()
	p.wake()
}

// checkIdle wakes drain when nothing is left to publish or settle.
func (p *publisher) checkIdle() {
	if p.idle != nil && p.open == nil && len(p.ready) == 0 && len(p.byMsg) == 0 {
		close(p.idle)
		p.idle = nil
	}
}

// refuse makes Append fail with ErrClosed from now on.
func (p *publisher) refuse() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// drain waits until every appended entry is settled, or ctx ends.
func (p *publisher) drain(ctx context.Context) error {
	p.mu.Lock()
	p.closeOpen()
	idle := make(chan struct{})
	p.idle = idle
	p.checkIdle()
	p.mu.Unlock()
	p.wake()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failAll fails everything still unsettled when the node stops.
func (p *publisher) failAll(err error) {
	p.mu.Lock()
	p.closed = true
	if p.open != nil {
		p.failMsg(p.open, err)
		p.open = nil
	}
	for _, m := range p.ready {
		p.failMsg(m, err)
	}
	p.ready = nil
	for _, m := range p.flights {
		if !m.done {
			delete(p.byMsg, m.nm)
			p.failMsg(m, err)
		}
	}
	p.flights = nil
	failed := p.failed
	p.failed = nil
	p.mu.Unlock()
	p.report(failed)
}

func (p *publisher) stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Appended: p.appended, Published: p.published, Acked: p.acked, Failed: p.failedEntries}
}
