package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestMessageRoundTrip(t *testing.T) {
	type entry struct {
		kind Kind
		body string
	}
	tests := []struct {
		name    string
		node    string
		epoch   uint64
		entries []entry
	}{
		{"empty", "a", 1, nil},
		{"one data", "node-1", 1 << 60, []entry{{KindData, "checkin J00001"}}},
		{"mixed", "b", 42, []entry{{KindNodeUp, ""}, {KindData, ""}, {KindData, string(make([]byte, 300))},
			{KindNodeDown, string(nodeDownBody("c", 7))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendHeader(nil, tt.node, tt.epoch)
			for _, e := range tt.entries {
				before := len(b)
				b = appendEntry(b, e.kind, []byte(e.body))
				if got := len(b) - before; got != entrySize(len(e.body)) {
					t.Errorf("entry of %d bytes took %d, entrySize says %d", len(e.body), got, entrySize(len(e.body)))
				}
			}
			m, err := decodeHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.name) != tt.node || m.epoch != tt.epoch {
				t.Errorf("header %q %d, want %q %d", m.name, m.epoch, tt.node, tt.epoch)
			}
			var got []entry
			for {
				kind, body, ok, err := m.next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				got = append(got, entry{kind, string(body)})
			}
			if !slices.Equal(got, tt.entries) {
				t.Errorf("entries %v, want %v", got, tt.entries)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := appendEntry(appendHeader(nil, "a", 1), KindData, []byte("xyz"))
	tests := []struct {
		name string
		give []byte
	}{
		{"empty", nil},
		{"short header", good[:5]},
		{"no name", append([]byte{wireVersion, 1, 0, 0, 0, 0, 0, 0, 0}, 0)},
		{"name cut", good[:headerMin]},
		{"other version", append([]byte{2}, good[1:]...)},
		{"entry cut", good[:len(good)-1]},
		{"length too big", append(appendHeader(nil, "a", 1), byte(KindData), 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"length not a varint", append(appendHeader(nil, "a", 1), byte(KindData), 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := decodeHeader(tt.give)
			for err == nil {
				var ok bool
				_, _, ok, err = m.next()
				if !ok && err == nil {
					t.Fatal("decoded without error")
				}
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	b := appendHeartbeat(nil, "node-7", 1234, 99)
	name, epoch, applied, err := decodeHeartbeat(b)
	if err != nil || string(name) != "node-7" || epoch != 1234 || applied != 99 {
		t.Errorf("got %q %d %d %v", name, epoch, applied, err)
	}
	if _, _, _, err := decodeHeartbeat(b[:10]); err == nil {
		t.Error("short heartbeat decoded")
	}
}

func TestSnapshotFormat(t *testing.T) {
	m := (&members{}).with("c", 3).with("a", 1).with("b", 2).down("b", 2)
	b := appendSnapshot(nil, 77, m, []byte("camp state"))
	seq, got, data, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 77 || string(data) != "camp state" || !slices.Equal(got.names, []string{"a", "b", "c"}) ||
		!slices.Equal(got.epochs, []uint64{1, 2, 3}) || !slices.Equal(got.up, []bool{true, false, true}) {
		t.Errorf("got %d %v %v %v %q", seq, got.names, got.epochs, got.up, data)
	}
	empty := appendSnapshot(nil, 5, nil, nil)
	if seq, got, data, err := decodeSnapshot(empty); err != nil || seq != 5 || got.len() != 0 || len(data) != 0 {
		t.Errorf("empty: %d %v %q %v", seq, got, data, err)
	}
	badFlag := appendSnapshot(nil, 1, (&members{}).with("a", 1), nil)
	badFlag[len(badFlag)-1] = 2
	for _, bad := range [][]byte{
		nil,
		[]byte("XXXX12345678\x00"),
		b[:len(snapMagic)+8+2],
		appendSnapshot(nil, 1, &members{names: []string{"b", "a"}, epochs: []uint64{1, 2}, up: []bool{true, true}}, nil),
		badFlag,
	} {
		if _, _, _, err := decodeSnapshot(bad); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

func TestMembersCopyOnWrite(t *testing.T) {
	var m0 *members
	m1 := m0.with("b", 1)
	m2 := m1.with("a", 2)
	m3 := m2.with("b", 3)
	m4 := m3.down("a", 2)
	tests := []struct {
		m    *members
		live []string
	}{
		{m1, []string{"b 1"}},
		{m2, []string{"a 2", "b 1"}},
		{m3, []string{"a 2", "b 3"}},
		{m4, []string{"b 3"}},
	}
	for i, tt := range tests {
		var live []string
		tt.m.live(func(name string, epoch uint64) bool {
			live = append(live, fmt.Sprint(name, " ", epoch))
			return true
		})
		if !slices.Equal(live, tt.live) || tt.m.count() != len(tt.live) {
			t.Errorf("m%d: members %v, want %v", i+1, live, tt.live)
		}
	}
	if e, ok := m3.epoch([]byte("b")); !ok || e != 3 {
		t.Errorf("epoch of b: %d %v", e, ok)
	}
	if _, ok := m4.epoch([]byte("a")); ok {
		t.Error("a is a member after going down")
	}
	if !m4.gone([]byte("a"), 2) || m4.gone([]byte("a"), 1) || m4.gone([]byte("b"), 3) {
		t.Error("gone: wrong")
	}
	if name, epoch, ok := m4.first(); !ok || name != "b" || epoch != 3 {
		t.Errorf("first: %s %d %v", name, epoch, ok)
	}
	if _, ok := m0.epoch([]byte("b")); ok {
		t.Error("nil members has b")
	}
	if _, _, ok := m0.first(); ok {
		t.Error("nil members has a first")
	}
}

// TestMembershipRules feeds log messages to a node's decoder, without
// NATS, and checks what it delivers and what it tells the node.
func TestMembershipRules(t *testing.T) {
	const me = "b"
	type msg struct {
		from  string
		epoch uint64
		kind  Kind
		body  []byte
	}
	up := func(name string, epoch uint64) msg { return msg{name, epoch, KindNodeUp, nil} }
	down := func(from string, fromEpoch uint64, name string, epoch uint64) msg {
		return msg{from, fromEpoch, KindNodeDown, nodeDownBody(name, epoch)}
	}
	data := func(from string, epoch uint64, s string) msg { return msg{from, epoch, KindData, []byte(s)} }
	tests := []struct {
		name   string
		epoch  uint64 // this node's
		log    []msg
		want   []string // delivered entries
		events []event
		errs   []error
	}{
		{"data from a non-member is ignored", 10, []msg{data("a", 1, "x")}, nil, []event{eventNone}, nil},
		{"node-up then data", 10, []msg{up("a", 1), data("a", 1, "x"), data("a", 2, "other epoch")},
			[]string{"node-up a 1", "data a 1 x"}, []event{eventNone, eventNone, eventNone}, nil},
		{"repeated node-up is ignored", 10, []msg{up("a", 1), up("a", 1)}, []string{"node-up a 1"}, []event{eventNone, eventNone}, nil},
		{"a new epoch replaces the old", 10, []msg{up("a", 1), up("a", 2), data("a", 1, "old"), data("a", 2, "new")},
			[]string{"node-up a 1", "node-down a 1", "node-up a 2", "data a 2 new"}, []event{eventNone, eventNone, eventNone, eventNone}, nil},
		{"own arrival catches up", 10, []msg{up("a", 1), up(me, 10)}, []string{"node-up a 1", "node-up b 10"},
			[]event{eventNone, eventCaughtUp}, []error{nil, nil}},
		{"own old epoch is not an arrival", 10, []msg{up(me, 9)}, []string{"node-up b 9"}, []event{eventNone}, nil},
		{"node-down from a member", 10, []msg{up("a", 1), up("c", 3), down("c", 3, "a", 1), data("a", 1, "late")},
			[]string{"node-up a 1", "node-up c 3", "node-down a 1"}, []event{eventNone, eventNone, eventNone, eventNone}, nil},
		{"node-down twice", 10, []msg{up("a", 1), up("c", 3), down("c", 3, "a", 1), down("c", 3, "a", 1)},
			[]string{"node-up a 1", "node-up c 3", "node-down a 1"}, nil, nil},
		{"node-down of another epoch", 10, []msg{up("a", 1), up("c", 3), down("c", 3, "a", 2)},
			[]string{"node-up a 1", "node-up c 3"}, nil, nil},
		{"node-down from a non-member", 10, []msg{up("a", 1), down("x", 3, "a", 1)}, []string{"node-up a 1"}, nil, nil},
		{"a late node-up of an epoch gone", 10, []msg{up("a", 1), up("c", 3), down("c", 3, "a", 1), up("a", 1), data("a", 1, "x"), up("a", 2)},
			[]string{"node-up a 1", "node-up c 3", "node-down a 1", "node-up a 2"}, nil, nil},
		{"own late node-up after being declared down", 10, []msg{up("a", 1), up(me, 10), down("a", 1, me, 10), up(me, 10)},
			[]string{"node-up a 1", "node-up b 10", "node-down b 10"}, []event{eventNone, eventCaughtUp, eventCutOff, eventNone}, nil},
		{"declared down", 10, []msg{up("a", 1), up(me, 10), down("a", 1, me, 10)},
			[]string{"node-up a 1", "node-up b 10", "node-down b 10"}, []event{eventNone, eventCaughtUp, eventCutOff},
			[]error{nil, nil, ErrDeclaredDown}},
		{"name taken", 10, []msg{up(me, 10), up(me, 11)},
			[]string{"node-up b 10", "node-down b 10", "node-up b 11"}, []event{eventCaughtUp, eventCutOff}, []error{nil, ErrReplaced}},
		{"leaving", 10, []msg{up(me, 10), down(me, 10, me, 10)},
			[]string{"node-up b 10", "node-down b 10"}, []event{eventCaughtUp, eventCutOff}, []error{nil, ErrDeclaredDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Node{cfg: Config{Node: me}, log: zap.NewNop()}
			n.epoch.Store(tt.epoch)
			var got []string
			for i, m := range tt.log {
				b := appendEntry(appendHeader(nil, m.from, m.epoch), m.kind, m.body)
				entries, ev, err := n.decode(uint64(i+1), time.Unix(0, 0), b, nil)
				for _, e := range entries {
					s := fmt.Sprintf("%s %s %d", e.Kind, e.Node, e.Epoch)
					if e.Kind == KindData {
						s += " " + string(e.Data)
					}
					got = append(got, s)
				}
				if i < len(tt.events) && ev != tt.events[i] {
					t.Errorf("message %d: event %d, want %d", i+1, ev, tt.events[i])
				}
				if i < len(tt.errs) && !errors.Is(err, tt.errs[i]) {
					t.Errorf("message %d: error %v, want %v", i+1, err, tt.errs[i])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPacking checks how Append packs entries into messages.
func TestPacking(t *testing.T) {
	tests := []struct {
		name       string
		maxMessage int
		maxEntries int
		sizes      []int
		flushEvery int
		want       []int // entries per message
	}{
		{"one message per flush", 1 << 16, 0, []int{10, 10, 10, 10, 10}, 5, []int{5}},
		{"flush splits", 1 << 16, 0, []int{10, 10, 10, 10, 10}, 2, []int{2, 2, 1}},
		{"entry bound", 1 << 16, 2, []int{10, 10, 10, 10, 10}, 5, []int{2, 2, 1}},
		{"batching off", 1 << 16, 1, []int{10, 10, 10}, 3, []int{1, 1, 1}},
		{"byte bound", 90, 0, []int{40, 40, 40}, 3, []int{1, 1, 1}},
		{"two fit", 120, 0, []int{40, 40, 40}, 3, []int{2, 1}},
		{"oversized entry alone", 100, 0, []int{10, 500, 10}, 3, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Node{cfg: DefaultConfig(), log: zap.NewNop(), subjLog: "x"}
			n.cfg.Node = "a"
			n.cfg.MaxMessage, n.cfg.MaxEntries = tt.maxMessage, tt.maxEntries
			n.pub.init(n)
			n.active.Store(true)
			for i, size := range tt.sizes {
				n.Append(uint64(i), bytes.Repeat([]byte{'x'}, size))
				if (i+1)%tt.flushEvery == 0 || i == len(tt.sizes)-1 {
					n.Flush()
				}
			}
			var got []int
			var tags []uint64
			for _, m := range n.pub.ready {
				got = append(got, m.entries)
				tags = append(tags, m.tags...)
				if len(m.data) > tt.maxMessage && m.entries > 1 {
					t.Errorf("message of %d bytes with %d entries, bound %d", len(m.data), m.entries, tt.maxMessage)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("messages %v, want %v", got, tt.want)
			}
			if len(tags) != len(tt.sizes) || !slices.IsSorted(tags) {
				t.Errorf("tags %v", tags)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(appendEntry(appendHeader(nil, "a", 1), KindData, []byte("xyz")))
	f.Add(appendEntry(appendHeader(nil, "b", 2), KindNodeDown, nodeDownBody("a", 1)))
	f.Add(appendSnapshot(nil, 3, (&members{}).with("a", 1).down("a", 1).with("b", 2), []byte("s")))
	f.Add(appendHeartbeat(nil, "a", 1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeHeader(b); err == nil {
			for {
				kind, body, ok, err := m.next()
				if err != nil || !ok {
					break
				}
				if kind == KindNodeDown {
					_, _, _ = decodeNodeDown(body)
				}
			}
		}
		_, _, _, _ = decodeSnapshot(b)
		_, _, _, _ = decodeHeartbeat(b)
		// Node.decode must take anything the log may hold.
		n := &Node{cfg: Config{Node: "a"}, log: zap.NewNop()}
		_, _, _ = n.decode(1, time.Time{}, b, nil)
	})
}
