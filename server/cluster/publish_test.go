package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// TestExpireBehindOutOfOrderAck: the log acknowledged the second of three
// messages in flight, then the first and the third passed their deadline.
// Both fail with ErrTimeout, the acknowledged one does not, and the window
// is empty again.
func TestExpireBehindOutOfOrderAck(t *testing.T) {
	n := &Node{log: zap.NewNop()}
	p := &n.pub
	p.init(n)
	now := time.Now()
	msgs := make([]*outMsg, 3)
	for i := range msgs {
		m := &outMsg{tags: []uint64{uint64(i + 1)}, entries: 1, deadline: now.Add(-time.Duration(3-i) * time.Millisecond), nm: &nats.Msg{}}
		p.byMsg[m.nm] = m
		p.flights = append(p.flights, m)
		msgs[i] = m
	}
	p.onAck(nil, msgs[1].nm, nil)
	if len(p.flights) != 3 {
		t.Fatalf("after an out-of-order ack %d in flight, want 3 (the first is not settled)", len(p.flights))
	}

	p.expire(now)

	if len(p.flights) != 0 || len(p.byMsg) != 0 {
		t.Errorf("after expiry %d in flight, %d by message; want 0, 0", len(p.flights), len(p.byMsg))
	}
	var tags []uint64
	for _, f := range p.failed {
		if !errors.Is(f.err, ErrTimeout) {
			t.Errorf("tags %v failed with %v, want ErrTimeout", f.tags, f.err)
		}
		tags = append(tags, f.tags...)
	}
	if len(tags) != 2 || tags[0] != 1 || tags[1] != 3 {
		t.Errorf("failed tags %v, want [1 3]", tags)
	}
	if p.acked != 1 {
		t.Errorf("acked %d, want 1", p.acked)
	}
}
