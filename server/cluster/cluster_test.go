package cluster

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestOrder appends from three nodes at once and checks that every node
// reads the identical sequence, holding every entry once, with each
// node's entries in the order it appended them.
func TestOrder(t *testing.T) {
	const perNode = 3000
	s := newSpec(t, "a", "b", "c")
	nodes := s.open(t, 0, 1, 2)

	var wg sync.WaitGroup
	for _, m := range nodes {
		wg.Go(func() {
			for i := range perNode {
				m.Append(uint64(i), fmt.Appendf(nil, "%s-%05d", m.Name(), i))
				if i%7 == 6 { // a few entries per "event"
					m.Flush()
				}
			}
			m.Flush()
		})
	}
	wg.Wait()
	total := uint64(perNode * len(nodes))
	for _, m := range nodes {
		m.rec.await(t, "all entries", func(r *recorder) bool { return r.count >= total })
	}

	want := nodes[0].rec.data()
	if len(want) != int(total) {
		t.Fatalf("%s: %d data entries, want %d", nodes[0].Name(), len(want), total)
	}
	for _, m := range nodes[1:] {
		if got := m.rec.data(); !slices.Equal(got, want) {
			t.Errorf("%s read another sequence than %s", m.Name(), nodes[0].Name())
		}
	}
	next := map[string]int{}
	for _, e := range want {
		if wantData := fmt.Sprintf("%s-%05d", e.node, next[e.node]); e.data != wantData {
			t.Fatalf("at seq %d: %q, want %q (a node's entries out of order, lost or repeated)", e.seq, e.data, wantData)
		}
		next[e.node]++
	}
	for _, m := range nodes {
		if st := m.Stats(); st.Failed != 0 || len(m.rec.failed) != 0 {
			t.Errorf("%s: %d entries failed", m.Name(), st.Failed)
		}
		t.Logf("%s: %+v", m.Name(), m.Stats())
	}
}
