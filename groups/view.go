package groups

import (
	"time"

	"campfire/protocol"
)

// Member is one camper as Each shows it.
type Member[P comparable] struct {
	ID    protocol.CampID
	Conn  P
	Since time.Time // when it checked in, in UTC, without a monotonic reading
}

// Session is a peer session as Each shows it. The zero Session means none
// runs.
type Session struct {
	Host      protocol.CampID // who started it
	Max       int             // its cap, 1..protocol.MaxPeerSession
	Remaining int             // how many more messages it accepts, 1..Max
}

// Running reports whether s is a session, not the zero Session.
func (s Session) Running() bool { return s.Max > 0 }

// Used is how many messages the session has carried.
func (s Session) Used() int { return s.Max - s.Remaining }

// GroupView is one group as Each shows it.
type GroupView[P comparable] struct {
	Number int // 1-based
	// Members are the group's campers in seat order, which is check-in
	// order; 1 to GroupSize of them. The slice is borrowed from the Camp:
	// it is valid only until yield returns.
	Members []Member[P]
	Session Session // the zero Session if none runs
}

// Each calls yield for every non-empty group in ascending group number,
// until yield returns false; `for g := range camp.Each` does the same. The
// order depends only on the camp's state, never on map order, so replicas
// of one camp walk it identically.
//
// yield may change the camp, for instance call Leave for every member
// whose connection was on a node that died: each group is shown as it is
// when Each reaches it, and Members is a copy that such changes leave
// alone. yield must not call Each itself, because the copy is reused.
//
// Each is O(groups) and allocates nothing; totals are at hand in O(1)
// from Len, Groups and Sessions.
func (c *Camp[P]) Each(yield func(GroupView[P]) bool) {
	defer clear(c.view[:]) // do not keep closed connections reachable
	for num, g := range c.groups.all {
		if g.n == 0 {
			continue
		}
		for j := range g.n {
			c.view[j] = Member[P]{ID: g.ids[j], Conn: g.conns[j], Since: time.Unix(0, g.since[j]).UTC()}
		}
		v := GroupView[P]{Number: num, Members: c.view[:g.n:g.n]}
		if g.session {
			v.Session = Session{Host: g.host, Max: int(g.max), Remaining: int(g.remaining)}
		}
		if !yield(v) {
			return
		}
	}
}
