package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// fakeMsg is a log message as the ordered consumer hands it over.
type fakeMsg struct {
	jetstream.Msg
	seq  uint64
	dseq uint64 // the consumer's delivery sequence: one more per message delivered
	data []byte
}

func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq, Consumer: m.dseq},
		Timestamp: time.Unix(0, int64(m.seq))}, nil
}

func (m fakeMsg) Data() []byte { return m.data }

// TestGaps feeds sequences with a repeat and a gap to onMsg, before and
// after the node has caught up.
func TestGaps(t *testing.T) {
	data := func(s string) []byte { return appendEntry(appendHeader(nil, "a", 1), KindData, []byte(s)) }
	tests := []struct {
		name       string
		joined     bool
		seqs       []uint64
		wantQueued []uint64
		wantResync bool
		wantFail   bool
	}{
		{"in order", false, []uint64{1, 2, 3}, []uint64{1, 2, 3}, false, false},
		{"repeats are dropped", true, []uint64{1, 2, 2, 1, 3}, []uint64{1, 2, 3}, false, false},
		{"a gap before catch-up reloads", false, []uint64{1, 3, 4}, []uint64{1}, true, false},
		{"a gap after catch-up stops the node", true, []uint64{1, 3}, []uint64{1}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Node{cfg: Config{Node: "b"}, log: zap.NewNop(), resync: make(chan struct{}, 1), done: make(chan struct{})}
			n.q.init()
			n.con.members = (&members{}).with("a", 1)
			n.con.joined = tt.joined
			// Every message is delivered (no delivery goes missing): a jump
			// in the stream sequence is a gap in the log itself.
			for i, seq := range tt.seqs {
				n.onMsg(n.con.gen, fakeMsg{seq: seq, dseq: uint64(i + 1), data: data("x")})
			}
			n.onMsg(n.con.gen-1, fakeMsg{seq: 99, data: data("old generation")})
			var queued []uint64
			for _, it := range n.q.items {
				queued = append(queued, it.seq)
			}
			if !slices.Equal(queued, tt.wantQueued) {
				t.Fatalf("queued %v, want %v", queued, tt.wantQueued)
			}
			select {
			case <-n.resync:
				if !tt.wantResync {
					t.Error("reload asked for")
				}
			default:
				if tt.wantResync {
					t.Error("no reload asked for")
				}
			}
			if err := n.Err(); (err != nil) != tt.wantFail || err != nil && !strings.Contains(err.Error(), "log gap: after 1 the next message is 3") {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}
