package cluster

import (
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Failure detection. Every node publishes a heartbeat on core NATS (not
// the log) five times per node timeout: its name, epoch, and the last log
// sequence it has read. A member of the camp that has not been heard at
// its epoch for the node timeout is declared down by every member that
// notices, with a node-down entry (the log drops duplicates). Silence is
// only counted while this node is connected and a member itself, and the
// clocks restart when its connection comes back, so a node that was cut
// off does not accuse the others of its own silence.

type memberKey struct {
	name  string
	epoch uint64
}

type beat struct {
	epoch   uint64
	at      time.Time
	applied uint64
}

type watch struct {
	last    time.Time // last heard at this epoch, or when watching began
	accused time.Time
}

type monitor struct {
	sub *nats.Subscription

	mu      sync.Mutex
	beats   map[string]beat // the latest heartbeat of each node name
	watched map[memberKey]*watch
	restart bool // the connection came back: restart the silence clocks
}

func (m *monitor) init() {
	m.beats = make(map[string]beat)
	m.watched = make(map[memberKey]*watch)
}

func (m *monitor) subscribe(n *Node) error {
	sub, err := n.nc.Subscribe(n.subjBeat, func(msg *nats.Msg) { m.onBeat(n, msg) })
	if err != nil {
		return fmt.Errorf("heartbeats: %w", err)
	}
	m.sub = sub
	return nil
}

func (m *monitor) reconnected() {
	m.mu.Lock()
	m.restart = true
	m.mu.Unlock()
}

func (m *monitor) onBeat(n *Node, msg *nats.Msg) {
	name, epoch, applied, err := decodeHeartbeat(msg.Data)
	if err != nil {
		n.log.Debug("unreadable heartbeat", zap.Error(err))
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beats[string(name)] = beat{epoch: epoch, at: now, applied: applied}
	if w := m.watched[memberKey{string(name), epoch}]; w != nil {
		w.last = now
	}
}

// interval is the heartbeat period.
func (n *Node) beatInterval() time.Duration {
	return max(n.cfg.NodeTimeout/5, 10*time.Millisecond)
}

// checkInterval is how often silence is looked for: a member is declared
// down at most this long after it has been silent for the node timeout,
// not a whole heartbeat period later.
func (n *Node) checkInterval() time.Duration {
	return min(n.beatInterval(), max(n.cfg.NodeTimeout/20, 10*time.Millisecond), 250*time.Millisecond)
}

// run sends heartbeats and looks for silent members until the node stops.
func (m *monitor) run(n *Node) {
	defer n.wg.Done()
	tick := time.NewTicker(n.checkInterval())
	defer tick.Stop()
	var buf []byte
	var sent time.Time
	for {
		if now := time.Now(); now.Sub(sent) >= n.beatInterval()-n.checkInterval()/2 {
			sent = now
			buf = appendHeartbeat(buf[:0], n.cfg.Node, n.epoch.Load(), n.applied.Load())
			if err := n.nc.Publish(n.subjBeat, buf); err != nil && !n.leaving.Load() {
				n.log.Debug("heartbeat not sent", zap.Error(err))
			}
		}
		for _, k := range m.silent(n, time.Now()) {
			n.log.Warn("node silent: declaring it down", zap.String("down", k.name), zap.Uint64("down epoch", k.epoch),
				zap.Duration("node timeout", n.cfg.NodeTimeout))
			n.pub.appendControl(KindNodeDown, nodeDownBody(k.name, k.epoch))
		}
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
	}
}

// silent returns the members to declare down now.
func (m *monitor) silent(n *Node, now time.Time) []memberKey {
	members := n.members.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, b := range m.beats {
		if now.Sub(b.at) > 3*n.cfg.NodeTimeout {
			delete(m.beats, name)
		}
	}
	if !n.active.Load() || !n.nc.IsConnected() {
		m.restart = true
		return nil
	}
	restarted := m.restart
	if m.restart {
		for _, w := range m.watched {
			w.last = now
		}
		m.restart = false
	}
	var down []memberKey
	seen := make(map[memberKey]bool, members.len())
	members.live(func(name string, epoch uint64) bool {
		k := memberKey{name, epoch}
		if k.name == n.cfg.Node {
			return true
		}
		seen[k] = true
		w := m.watched[k]
		if w == nil {
			// Silence counts from the last heartbeat heard at this epoch,
			// even one heard before this node watched, unless the clocks
			// restart now.
			w = &watch{last: now}
			if b, ok := m.beats[k.name]; ok && b.epoch == k.epoch && !restarted {
				w.last = b.at
			}
			m.watched[k] = w
		}
		if now.Sub(w.last) > n.cfg.NodeTimeout && now.Sub(w.accused) >= n.cfg.ClusterTimeout {
			w.accused = now
			down = append(down, k)
		}
		return true
	})
	for k := range m.watched {
		if !seen[k] {
			delete(m.watched, k)
		}
	}
	return down
}

// minApplied returns the lowest log sequence read by a node heard from
// within the node timeout, this one included.
func (m *monitor) minApplied(n *Node) uint64 {
	low := n.applied.Load()
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, b := range m.beats {
		if name != n.cfg.Node && now.Sub(b.at) <= n.cfg.NodeTimeout {
			low = min(low, b.applied)
		}
	}
	return low
}
