package groups

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// describeGroups renders what Each shows, one group a line:
// "2: J005@c5+1s J006@c6+0s session J005 4/5" (Since relative to t0;
// used/max).
func describeGroups(c *testCamp) []string {
	var out []string
	for g := range c.Each {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d:", g.Number)
		for _, m := range g.Members {
			fmt.Fprintf(&sb, " %s@c%d+%v", c.ids.Format(m.ID), m.Conn.n, m.Since.Sub(t0()))
		}
		if s := g.Session; s.Running() {
			fmt.Fprintf(&sb, " session %s %d/%d", c.ids.Format(s.Host), s.Used(), s.Max)
		}
		out = append(out, sb.String())
	}
	return out
}

func TestEach(t *testing.T) {
	tests := []struct {
		name         string
		give         []step
		want         []string
		wantSessions int
	}{
		{"empty camp", nil, nil, 0},
		{"groups in number order, seats in check-in order", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 2, send: "checkin J002", at: time.Second},
			{conn: 3, send: "checkin J003"},
			{conn: 4, send: "checkin J004"},
			{conn: 5, send: "checkin J005", at: 2 * time.Second},
			{conn: 2, leave: true},
			{conn: 9, send: "checkin J009", at: 3 * time.Second},
		}, []string{
			"1: J001@c1+0s J003@c3+1s J004@c4+1s J009@c9+3s",
			"2: J005@c5+2s",
		}, 0},
		{"empty groups are left out", with(checkins(9),
			step{conn: 5, leave: true}, step{conn: 6, leave: true},
			step{conn: 7, leave: true}, step{conn: 8, leave: true},
		), []string{
			"1: J001@c1+0s J002@c2+0s J003@c3+0s J004@c4+0s",
			"3: J009@c9+0s",
		}, 0},
		{"sessions with their counts", with(checkins(6),
			step{conn: 2, send: "peersession 3"},
			step{conn: 1, send: "message a"},
			step{conn: 6, send: "peersession 1000000"},
		), []string{
			"1: J001@c1+0s J002@c2+0s J003@c3+0s J004@c4+0s session J002 1/3",
			"2: J005@c5+0s J006@c6+0s session J006 0/1000000",
		}, 2},
		{"ended sessions are gone", with(checkins(9),
			step{conn: 1, send: "peersession 1"},
			step{conn: 2, send: "message end"},
			step{conn: 5, send: "peersession 5"},
			step{conn: 5, send: "complete"},
			step{conn: 9, send: "peersession 5"},
			step{conn: 9, leave: true},
		), []string{
			"1: J001@c1+0s J002@c2+0s J003@c3+0s J004@c4+0s",
			"2: J005@c5+0s J006@c6+0s J007@c7+0s J008@c8+0s",
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, Config{}, tt.give)
			got := describeGroups(c)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Each shows\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if c.Sessions() != tt.wantSessions {
				t.Errorf("Sessions = %d, want %d", c.Sessions(), tt.wantSessions)
			}
			checkInvariants(t, tt.name, c)
		})
	}
}

func TestEachStops(t *testing.T) {
	c := run(t, Config{}, checkins(12))
	var seen []int
	for g := range c.Each {
		seen = append(seen, g.Number)
		if g.Number == 2 {
			break
		}
	}
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("Each went through groups %v, want [1 2]", seen)
	}
	if c.view != [GroupSize]Member[*tc]{} {
		t.Errorf("Each keeps %v after it stopped", c.view)
	}
}

// TestEachLeave checks out every camper of a "node" from within Each, as
// the server does when a cluster node dies: every replica must do it in
// the same order, and Members must not change under the caller.
func TestEachLeave(t *testing.T) {
	c := run(t, Config{}, with(checkins(10),
		step{conn: 3, send: "peersession 5"},
		step{conn: 6, send: "peersession 5"},
	))
	dead := func(p *tc) bool { return p.n%3 == 0 } // the node that held c3, c6, c9
	var got []string
	for g := range c.Each {
		before := fmt.Sprint(g.Members)
		for _, m := range g.Members {
			if !dead(m.Conn) {
				continue
			}
			res := c.Leave(m.Conn, t0())
			got = append(got, fmt.Sprintf("leave c%d", m.Conn.n))
			for _, line := range renderResult(t, res) {
				got = append(got, "  "+line)
			}
		}
		if after := fmt.Sprint(g.Members); after != before {
			t.Errorf("group %d: Members changed from %s to %s", g.Number, before, after)
		}
	}
	want := []string{
		"leave c3",
		"  c1: COMPLETE J003 Group: 1 Reason: host-left",
		"  c2: COMPLETE J003 Group: 1 Reason: host-left",
		"  c4: COMPLETE J003 Group: 1 Reason: host-left",
		"  c1: LEFT J003 Group: 1",
		"  c2: LEFT J003 Group: 1",
		"  c4: LEFT J003 Group: 1",
		"leave c6",
		"  c5: COMPLETE J006 Group: 2 Reason: host-left",
		"  c7: COMPLETE J006 Group: 2 Reason: host-left",
		"  c8: COMPLETE J006 Group: 2 Reason: host-left",
		"  c5: LEFT J006 Group: 2",
		"  c7: LEFT J006 Group: 2",
		"  c8: LEFT J006 Group: 2",
		"leave c9",
		"  c10: LEFT J009 Group: 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c.Len() != 7 || c.Sessions() != 0 {
		t.Errorf("Len, Sessions = %d, %d; want 7, 0", c.Len(), c.Sessions())
	}
	checkInvariants(t, "after the node left", c)
}

func TestEachAllocs(t *testing.T) {
	c := run(t, Config{}, with(checkins(10), step{conn: 1, send: "peersession 3"}))
	campers := 0
	allocs := testing.AllocsPerRun(100, func() {
		campers = 0
		for g := range c.Each {
			campers += len(g.Members)
		}
	})
	if campers != 10 {
		t.Errorf("Each showed %d campers, want 10", campers)
	}
	if allocs != 0 {
		t.Errorf("Each: %v allocs, want 0", allocs)
	}
}
