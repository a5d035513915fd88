package groups

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
)

// scripts is a table of scripted tests run against a default camp.
type scripts []struct {
	name string
	give []step
}

func (tests scripts) run(t *testing.T) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, Config{}, tt.give) })
	}
}

func TestCheckin(t *testing.T) {
	scripts{
		{"first camper opens group 1", []step{
			{conn: 1, send: "checkin J001", want: []string{"200 Group: 1"}, change: "checkin J001 1"},
		}},
		{"the others in the group get JOINED", with(checkins(2),
			step{conn: 3, send: "checkin J003", want: []string{
				"200 Group: 1",
				"c1: JOINED J003 Group: 1",
				"c2: JOINED J003 Group: 1",
			}, change: "checkin J003 1"},
		)},
		{"id is case-insensitive and written upper-case", []step{
			{conn: 1, send: "CheckIn j007", want: []string{"200 Group: 1"}, change: "checkin J007 1"},
			{conn: 2, send: "checkin J007", want: []string{`409 "J007 is checked in on another connection"`}},
		}},
		{"same connection twice with another id", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkin J002", want: []string{`409 "this connection is already checked in as J001"`}},
		}},
		{"same connection twice with the same id", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkin J001", want: []string{`409 "this connection is already checked in as J001"`}},
		}},
		{"same id on another connection", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 2, send: "checkin J001", want: []string{`409 "J001 is checked in on another connection"`}},
			{conn: 1, send: "ping", want: []string{"200"}},
		}},
		{"id free again after checkout", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkout"},
			{conn: 2, send: "checkin J001", want: []string{"200 Group: 1"}, change: "checkin J001 1"},
		}},
		{"id out of range", []step{
			{conn: 1, send: "checkin J385", want: []string{`400 "bad arguments: \"J385\" is not a camp id in J001-J384"`}},
			{conn: 1, send: "checkin J000", want: []string{`400 "bad arguments: \"J000\" is not a camp id in J001-J384"`}},
			{conn: 1, send: "checkin", want: []string{`400 "bad arguments: checkin needs a camp id, e.g. checkin J001"`}},
		}},
		{"full form", []step{
			{conn: 1, send: "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n\r\n", want: []string{"200 Id: 17 Group: 1"}, change: "checkin J004 1"},
		}},
	}.run(t)
}

func TestSeating(t *testing.T) {
	tests := []struct {
		name       string
		give       []step
		wantLen    int
		wantGroups int
	}{
		{"fifth camper opens group 2", with(checkins(4),
			step{conn: 5, send: "checkin J005", want: []string{"200 Group: 2"}, change: "checkin J005 2"},
		), 5, 2},
		{"seat freed by checkout is refilled", with(checkins(8),
			step{conn: 2, send: "checkout"},
			step{conn: 9, send: "checkin J009", want: []string{
				"200 Group: 1",
				"c1: JOINED J009 Group: 1",
				"c3: JOINED J009 Group: 1",
				"c4: JOINED J009 Group: 1",
			}, change: "checkin J009 1"},
		), 8, 2},
		{"seat freed by a disconnect is refilled", with(checkins(8),
			step{conn: 7, leave: true},
			step{conn: 9, send: "checkin J009", want: []string{
				"200 Group: 2",
				"c5: JOINED J009 Group: 2",
				"c6: JOINED J009 Group: 2",
				"c8: JOINED J009 Group: 2",
			}, change: "checkin J009 2"},
		), 8, 2},
		{"lowest group with a free seat first", with(checkins(12),
			step{conn: 10, send: "checkout"},
			step{conn: 3, send: "checkout"},
			step{conn: 13, send: "checkin J013", want: []string{
				"200 Group: 1",
				"c1: JOINED J013 Group: 1",
				"c2: JOINED J013 Group: 1",
				"c4: JOINED J013 Group: 1",
			}, change: "checkin J013 1"},
			step{conn: 14, send: "checkin J014", want: []string{
				"200 Group: 3",
				"c9: JOINED J014 Group: 3",
				"c11: JOINED J014 Group: 3",
				"c12: JOINED J014 Group: 3",
			}, change: "checkin J014 3"},
			step{conn: 15, send: "checkin J015", want: []string{"200 Group: 4"}, change: "checkin J015 4"},
		), 13, 4},
		{"new group takes the lowest free number", with(checkins(12),
			step{conn: 5, send: "checkout"},
			step{conn: 6, leave: true},
			step{conn: 7, send: "checkout"},
			step{conn: 8, send: "checkout", want: []string{"200 Active: 0.000"}, close: true, change: "checkout J008 2"},
			step{conn: 9, send: "checkout"},
			step{conn: 13, send: "checkin J013", want: []string{
				"200 Group: 3",
				"c10: JOINED J013 Group: 3",
				"c11: JOINED J013 Group: 3",
				"c12: JOINED J013 Group: 3",
			}, change: "checkin J013 3"},
			step{conn: 14, send: "checkin J014", want: []string{"200 Group: 2"}, change: "checkin J014 2"},
			step{conn: 15, send: "checkin J015"},
			step{conn: 16, send: "checkin J016"},
			step{conn: 17, send: "checkin J017", want: []string{
				"200 Group: 2",
				"c14: JOINED J017 Group: 2",
				"c15: JOINED J017 Group: 2",
				"c16: JOINED J017 Group: 2",
			}, change: "checkin J017 2"},
			step{conn: 18, send: "checkin J018", want: []string{"200 Group: 4"}, change: "checkin J018 4"},
		), 13, 4},
		{"group gone when empty", with(checkins(5),
			step{conn: 5, send: "checkout", want: []string{"200 Active: 0.000"}, close: true, change: "checkout J005 2"},
			step{conn: 6, send: "checkin J006", want: []string{"200 Group: 2"}, change: "checkin J006 2"},
			step{conn: 6, leave: true, want: []string{}, change: "checkout J006 2"},
		), 4, 1},
		{"everyone gone", with(checkins(6),
			step{conn: 1, leave: true}, step{conn: 2, leave: true}, step{conn: 3, leave: true},
			step{conn: 4, leave: true}, step{conn: 5, leave: true}, step{conn: 6, leave: true},
			step{conn: 7, send: "checkin J007", want: []string{"200 Group: 1"}, change: "checkin J007 1"},
		), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, Config{}, tt.give)
			if c.Len() != tt.wantLen || c.Groups() != tt.wantGroups {
				t.Errorf("Len, Groups = %d, %d; want %d, %d", c.Len(), c.Groups(), tt.wantLen, tt.wantGroups)
			}
		})
	}
}

func TestCheckout(t *testing.T) {
	scripts{
		{"Active has three decimals", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkout", at: 12345 * time.Millisecond, want: []string{"200 Active: 12.345"}, close: true, change: "checkout J001 1"},
		}},
		{"Active pads the fraction", []step{
			{conn: 1, send: "checkin J001", at: time.Second},
			{conn: 1, send: "checkout", at: 4007 * time.Millisecond, want: []string{"200 Active: 3.007"}, close: true, change: "checkout J001 1"},
		}},
		{"Active truncates to the millisecond", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkout", at: 125*time.Second + 999999*time.Microsecond, want: []string{"200 Active: 125.999"}, close: true, change: "checkout J001 1"},
		}},
		{"Active right away", []step{
			{conn: 1, send: "checkin J001"},
			{conn: 1, send: "checkout", want: []string{"200 Active: 0.000"}, close: true, change: "checkout J001 1"},
		}},
		{"Active with a clock that went back", []step{
			{conn: 1, send: "checkin J001", at: time.Hour},
			{conn: 1, send: "checkout", at: time.Minute, want: []string{"200 Active: 0.000"}, close: true, change: "checkout J001 1"},
		}},
		{"the rest of the group gets LEFT", with(checkins(3),
			step{conn: 2, send: "CHECKOUT CAMP/1.0\r\nId: x\r\n\r\n", at: 1500 * time.Millisecond, want: []string{
				"200 Id: x Active: 1.500",
				"c1: LEFT J002 Group: 1",
				"c3: LEFT J002 Group: 1",
			}, close: true, change: "checkout J002 1"},
		)},
		{"other groups hear nothing", with(checkins(5),
			step{conn: 5, send: "checkout", want: []string{"200 Active: 0.000"}, close: true, change: "checkout J005 2"},
		)},
		{"with arguments", with(checkins(1),
			step{conn: 1, send: "checkout now", want: []string{`400 "bad arguments: CHECKOUT takes no arguments"`}},
		)},
		{"requests after checkout find it checked out", with(checkins(1),
			step{conn: 1, send: "checkout"},
			step{conn: 1, send: "mission 4", want: []string{`401 "check in first, e.g. checkin J001"`}},
			step{conn: 1, send: "checkout", want: []string{`401 "check in first, e.g. checkin J001"`}},
		)},
	}.run(t)
}

func TestLeave(t *testing.T) {
	scripts{
		{"never checked in", []step{
			{conn: 1, leave: true, want: []string{}},
		}},
		{"disconnect tells the group", with(checkins(3),
			step{conn: 1, leave: true, want: []string{
				"c2: LEFT J001 Group: 1",
				"c3: LEFT J001 Group: 1",
			}, change: "checkout J001 1"},
		)},
		{"twice", with(checkins(2),
			step{conn: 1, leave: true},
			step{conn: 1, leave: true, want: []string{}},
		)},
		{"after checkout", with(checkins(2),
			step{conn: 1, send: "checkout"},
			step{conn: 1, leave: true, want: []string{}},
		)},
	}.run(t)

	t.Run("empty result", func(t *testing.T) {
		c := newTestCamp(Config{})
		res := c.Leave(c.conn(1), t0())
		if res.Reply != nil || res.Close || res.Deliveries != nil || res.Change != (Change{}) {
			t.Errorf("Leave of a stranger = %+v, want the zero Result", res)
		}
	})
}

func TestMission(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"mission 1", `200 Day: 1 "IDE, node"`},
		{"mission 2", `200 Day: 2 "Linux, Shell"`},
		{"mission 3", `200 Day: 3 "Crawling, LRU"`},
		{"mission 4", `200 Day: 4 "Heap, Stack"`},
		{"mission 5", `404 "no mission for day 5"`},
		{"mission 99999999999999999999", `404 "no mission for day 99999999999999999999"`},
		{"mission DAY -99999999999999999999", `404 "no mission for day -99999999999999999999"`},
		{"mission 6", `200 Day: 6 "XML, XPath"`},
		{"mission 7", `200 Day: 7 "Object, Class"`},
		{"mission 8", `200 Day: 8 "CountSet, Closure"`},
		{"mission 9", `200 Day: 9 "Process, Thread"`},
		{"mission 10", `404 "no mission for day 10"`},
		{"mission 11", `200 Day: 11 "Path, UnitTest"`},
		{"mission 12", `200 Day: 12 "Git, Objects"`},
		{"mission 13", `200 Day: 13 "OSI, TCP/IP"`},
		{"mission 14", `200 Day: 14 "HTTP, Request"`},
		{"mission 15", `404 "no mission for day 15"`},
		{"mission 16", `200 Day: 16 "Event, Async"`},
		{"mission 17", `200 Day: 17 "Food, Delivery"`},
		{"mission 18", `200 Day: 18 "SQL, Report"`},
		{"mission 19", `200 Day: 19 "Network, Server"`},
		{"mission 20", `404 "no mission for day 20"`},
		{"mission 0", `404 "no mission for day 0"`},
		{"mission -1", `404 "no mission for day -1"`},
		{"mission 21", `404 "no mission for day 21"`},
		{"mission 99999999999999999999999", `404 "no mission for day 99999999999999999999999"`}, // named as typed
		{"mission day4", `200 Day: 4 "Heap, Stack"`},
		{"MISSION Day 04", `200 Day: 4 "Heap, Stack"`},
		{"mission +4", `200 Day: 4 "Heap, Stack"`},
		{"mission four", `400 "bad arguments: mission day \"four\" is not a decimal integer"`},
		{"mission 4.5", `400 "bad arguments: mission day \"4.5\" is not a decimal integer"`},
		{"mission", `400 "bad arguments: mission needs a day, e.g. mission 4"`},
		{"MISSION 4 CAMP/1.0\r\nId: m4\r\n\r\n", `200 Id: m4 Day: 4 "Heap, Stack"`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			run(t, Config{}, with(checkins(1), step{conn: 1, send: tt.give, want: []string{tt.want}}))
		})
	}
}

func TestPeerSession(t *testing.T) {
	scripts{
		{"the whole group gets PEERSESSION, the starter after its 200", with(checkins(3),
			step{conn: 2, send: "peersession 3", want: []string{
				"200 Max-Count: 3",
				"c1: PEERSESSION J002 Group: 1 Max-Count: 3",
				"c2: PEERSESSION J002 Group: 1 Max-Count: 3",
				"c3: PEERSESSION J002 Group: 1 Max-Count: 3",
			}},
		)},
		{"maxCount spelling", with(checkins(1),
			step{conn: 1, send: "PeerSession MaxCount = 1000000", want: []string{
				"200 Max-Count: 1000000",
				"c1: PEERSESSION J001 Group: 1 Max-Count: 1000000",
			}},
		)},
		{"409 while one runs", with(checkins(2),
			step{conn: 1, send: "peersession 2"},
			step{conn: 2, send: "peersession 3", want: []string{`409 "a peer session started by J001 already runs in group 1"`}},
			step{conn: 1, send: "peersession 3", want: []string{`409 "a peer session started by J001 already runs in group 1"`}},
		)},
		{"groups have their own sessions", with(checkins(6),
			step{conn: 1, send: "peersession 2"},
			step{conn: 6, send: "peersession 2", want: []string{
				"200 Max-Count: 2",
				"c5: PEERSESSION J006 Group: 2 Max-Count: 2",
				"c6: PEERSESSION J006 Group: 2 Max-Count: 2",
			}},
		)},
		{"a new session after one ends", with(checkins(2),
			step{conn: 1, send: "peersession 2"},
			step{conn: 1, send: "complete"},
			step{conn: 2, send: "peersession 1", want: []string{
				"200 Max-Count: 1",
				"c1: PEERSESSION J002 Group: 1 Max-Count: 1",
				"c2: PEERSESSION J002 Group: 1 Max-Count: 1",
			}},
		)},
		{"a newcomer joins a running session", with(checkins(1),
			step{conn: 1, send: "peersession 2"},
			step{conn: 2, send: "checkin J002"},
			step{conn: 2, send: "message hi", want: []string{"200 Remaining: 1", `c1: MESSAGE J002 Group: 1 "hi"`}},
		)},
		{"count out of range", with(checkins(1),
			step{conn: 1, send: "peersession 0", want: []string{`400 "bad arguments: peersession count \"0\" is not an integer in 1..1000000"`}},
			step{conn: 1, send: "peersession 1000001", want: []string{`400 "bad arguments: peersession count \"1000001\" is not an integer in 1..1000000"`}},
			step{conn: 1, send: "peersession -3", want: []string{`400 "bad arguments: peersession count \"-3\" is not an integer in 1..1000000"`}},
		)},
	}.run(t)
}

func TestMessage(t *testing.T) {
	scripts{
		{"not echoed to the sender", with(checkins(3),
			step{conn: 1, send: "peersession 5"},
			step{conn: 2, send: "message hello all", want: []string{
				"200 Remaining: 4",
				`c1: MESSAGE J002 Group: 1 "hello all"`,
				`c3: MESSAGE J002 Group: 1 "hello all"`,
			}},
		)},
		{"outside a session 409 and not delivered", with(checkins(2),
			step{conn: 1, send: "message hi", want: []string{`409 "no peer session runs in group 1; the message was not delivered"`}},
		)},
		{"another group's session does not count", with(checkins(5),
			step{conn: 1, send: "peersession 2"},
			step{conn: 5, send: "message hi", want: []string{`409 "no peer session runs in group 2; the message was not delivered"`}},
		)},
		{"the cap is counted when alone", with(checkins(1),
			step{conn: 1, send: "peersession 2"},
			step{conn: 1, send: "message a", want: []string{"200 Remaining: 1"}},
			step{conn: 1, send: "message b", want: []string{"200 Remaining: 0", "c1: COMPLETE J001 Group: 1 Reason: limit"}},
			step{conn: 1, send: "message c", want: []string{`409 "no peer session runs in group 1; the message was not delivered"`}},
		)},
		{"the limit ends the session for the whole group", with(checkins(3),
			step{conn: 1, send: "peersession 2"},
			step{conn: 2, send: "message one", want: []string{
				"200 Remaining: 1",
				`c1: MESSAGE J002 Group: 1 "one"`,
				`c3: MESSAGE J002 Group: 1 "one"`,
			}},
			step{conn: 3, send: "message two", want: []string{
				"200 Remaining: 0",
				`c1: MESSAGE J003 Group: 1 "two"`,
				`c2: MESSAGE J003 Group: 1 "two"`,
				"c1: COMPLETE J001 Group: 1 Reason: limit",
				"c2: COMPLETE J001 Group: 1 Reason: limit",
				"c3: COMPLETE J001 Group: 1 Reason: limit",
			}},
			step{conn: 1, send: "complete", want: []string{`409 "no peer session runs in group 1"`}},
		)},
		{"full form body with new lines", with(checkins(2),
			step{conn: 1, send: "peersession 9"},
			step{conn: 1, send: "MESSAGE CAMP/1.0\r\nId: 3\r\nContent-Length: 11\r\n\r\nline1\nline2", want: []string{
				"200 Id: 3 Remaining: 8",
				`c2: MESSAGE J001 Group: 1 "line1\nline2"`,
			}},
		)},
		{"empty text", with(checkins(1),
			step{conn: 1, send: "peersession 9"},
			step{conn: 1, send: "message", want: []string{`400 "bad arguments: empty text"`}},
			step{conn: 1, send: "message   ", want: []string{`400 "bad arguments: empty text"`}},
		)},
	}.run(t)
}

func TestComplete(t *testing.T) {
	scripts{
		{"the host completes", with(checkins(2),
			step{conn: 1, send: "peersession 3"},
			step{conn: 1, send: "complete", want: []string{
				"200",
				"c1: COMPLETE J001 Group: 1 Reason: host",
				"c2: COMPLETE J001 Group: 1 Reason: host",
			}},
			step{conn: 2, send: "message late", want: []string{`409 "no peer session runs in group 1; the message was not delivered"`}},
		)},
		{"anyone else gets 403", with(checkins(2),
			step{conn: 1, send: "peersession 3"},
			step{conn: 2, send: "complete", want: []string{`403 "only J001, who started the peer session, can complete it"`}},
			step{conn: 2, send: "message still on", want: []string{"200 Remaining: 2", `c1: MESSAGE J002 Group: 1 "still on"`}},
		)},
		{"no session", with(checkins(1),
			step{conn: 1, send: "complete", want: []string{`409 "no peer session runs in group 1"`}},
		)},
		{"with arguments", with(checkins(1),
			step{conn: 1, send: "peersession 3"},
			step{conn: 1, send: "complete now", want: []string{`400 "bad arguments: COMPLETE takes no arguments"`}},
		)},
	}.run(t)
}

func TestHostLeft(t *testing.T) {
	scripts{
		{"checkout sends COMPLETE then LEFT", with(checkins(3),
			step{conn: 2, send: "peersession 4"},
			step{conn: 2, send: "checkout", want: []string{
				"200 Active: 0.000",
				"c1: COMPLETE J002 Group: 1 Reason: host-left",
				"c3: COMPLETE J002 Group: 1 Reason: host-left",
				"c1: LEFT J002 Group: 1",
				"c3: LEFT J002 Group: 1",
			}, close: true, change: "checkout J002 1"},
			step{conn: 1, send: "message gone", want: []string{`409 "no peer session runs in group 1; the message was not delivered"`}},
		)},
		{"disconnect sends COMPLETE then LEFT", with(checkins(2),
			step{conn: 1, send: "peersession 4"},
			step{conn: 1, leave: true, want: []string{
				"c2: COMPLETE J001 Group: 1 Reason: host-left",
				"c2: LEFT J001 Group: 1",
			}, change: "checkout J001 1"},
		)},
		{"a member leaving keeps the session", with(checkins(3),
			step{conn: 1, send: "peersession 4"},
			step{conn: 3, leave: true, want: []string{
				"c1: LEFT J003 Group: 1",
				"c2: LEFT J003 Group: 1",
			}, change: "checkout J003 1"},
			step{conn: 2, send: "message on", want: []string{"200 Remaining: 3", `c1: MESSAGE J002 Group: 1 "on"`}},
		)},
		{"a host alone takes the session along", with(checkins(1),
			step{conn: 1, send: "peersession 4"},
			step{conn: 1, leave: true, want: []string{}, change: "checkout J001 1"},
			step{conn: 2, send: "checkin J002", want: []string{"200 Group: 1"}, change: "checkin J002 1"},
			step{conn: 2, send: "message anyone", want: []string{`409 "no peer session runs in group 1; the message was not delivered"`}},
		)},
	}.run(t)
}

func TestDirect(t *testing.T) {
	scripts{
		{"across groups", with(checkins(5),
			step{conn: 5, send: "direct J001 hi there", want: []string{"200", `c1: DIRECT J005 "hi there"`}},
		)},
		{"to spelling and lower case", with(checkins(2),
			step{conn: 2, send: "DIRECT to j001   hi", want: []string{"200", `c1: DIRECT J002 "hi"`}},
		)},
		{"during a session, not counted", with(checkins(2),
			step{conn: 1, send: "peersession 1"},
			step{conn: 2, send: "direct J001 psst", want: []string{"200", `c1: DIRECT J002 "psst"`}},
			step{conn: 1, send: "message last", want: []string{
				"200 Remaining: 0",
				`c2: MESSAGE J001 Group: 1 "last"`,
				"c1: COMPLETE J001 Group: 1 Reason: limit",
				"c2: COMPLETE J001 Group: 1 Reason: limit",
			}},
		)},
		{"to yourself", with(checkins(1),
			step{conn: 1, send: "direct J001 note to self", want: []string{"200", `c1: DIRECT J001 "note to self"`}},
		)},
		{"absent camper", with(checkins(1),
			step{conn: 1, send: "direct J002 anyone?", want: []string{`404 "J002 is not checked in"`}},
		)},
		{"bad id", with(checkins(1),
			step{conn: 1, send: "direct K002 hi", want: []string{`400 "bad arguments: \"K002\" is not a camp id in J001-J384"`}},
			step{conn: 1, send: "direct", want: []string{`400 "bad arguments: direct needs a camp id and text, e.g. direct J001 hi"`}},
		)},
		{"empty text", with(checkins(2),
			step{conn: 1, send: "direct J002", want: []string{`400 "bad arguments: empty text"`}},
		)},
		{"full form body", with(checkins(2),
			step{conn: 1, send: "DIRECT J002 CAMP/1.0\r\nContent-Length: 4\r\nId: d\r\n\r\na\r\nb", want: []string{"200 Id: d", `c2: DIRECT J001 "a\r\nb"`}},
		)},
	}.run(t)
}

func TestPingHelp(t *testing.T) {
	help := fmt.Sprintf("%q", protocol.Help)
	scripts{
		{"ping before checkin", []step{
			{conn: 1, send: "ping", want: []string{"200"}},
		}},
		{"help before checkin", []step{
			{conn: 1, send: "HELP", want: []string{"200 " + help}},
		}},
		{"help checked in, full form", with(checkins(1),
			step{conn: 1, send: "HELP CAMP/1.0\r\nId: h\r\n\r\n", want: []string{"200 Id: h " + help}},
		)},
		{"ping with arguments", []step{
			{conn: 1, send: "ping pong", want: []string{`400 "bad arguments: PING takes no arguments"`}},
		}},
	}.run(t)
}

func TestOrderOfChecks(t *testing.T) {
	notImplemented := func(name string) string {
		return "501 " + fmt.Sprintf("%q", "unknown request \""+name+"\"; known requests: "+protocol.Known)
	}
	unauthorized := `401 "check in first, e.g. checkin J001"`
	draining := func(c *testCamp) { c.SetDraining(true) }
	scripts{
		{"bad Id before everything", []step{
			{conn: 1, send: "DANCE CAMP/1.0\r\nId: a b\r\n\r\n", want: []string{`400 "bad Id header: want 1 to 64 visible ASCII characters"`}},
			{conn: 1, send: "MISSION 4 CAMP/1.0\r\nId: " + strings.Repeat("x", 65) + "\r\n\r\n", want: []string{`400 "bad Id header: want 1 to 64 visible ASCII characters"`}},
		}},
		{"501 before 401", []step{
			{conn: 1, send: "dance", want: []string{notImplemented("dance")}},
			{conn: 1, send: "DANCE wildly CAMP/1.0\r\nId: 9\r\n\r\n", want: []string{"501 Id: 9 " + fmt.Sprintf("%q", `unknown request "DANCE"; known requests: `+protocol.Known)}},
		}},
		{"401 before 400", []step{
			{conn: 1, send: "mission four", want: []string{unauthorized}},
			{conn: 1, send: "peersession 0", want: []string{unauthorized}},
			{conn: 1, send: "direct", want: []string{unauthorized}},
			{conn: 1, send: "message", want: []string{unauthorized}},
			{conn: 1, send: "complete now", want: []string{unauthorized}},
		}},
		{"401 for every request but checkin, ping and help", []step{
			{conn: 1, send: "checkout", want: []string{unauthorized}},
			{conn: 1, send: "mission 4", want: []string{unauthorized}},
			{conn: 1, send: "peersession 3", want: []string{unauthorized}},
			{conn: 1, send: "complete", want: []string{unauthorized}},
			{conn: 1, send: "message hi", want: []string{unauthorized}},
			{conn: 1, send: "direct J001 hi", want: []string{unauthorized}},
		}},
		{"400 before 409", with(checkins(1),
			step{conn: 1, send: "checkin J999", want: []string{`400 "bad arguments: \"J999\" is not a camp id in J001-J384"`}},
			step{conn: 1, send: "message", want: []string{`400 "bad arguments: empty text"`}},
			step{conn: 1, send: "complete now", want: []string{`400 "bad arguments: COMPLETE takes no arguments"`}},
		)},
		{"400 before 404", with(checkins(1),
			step{conn: 1, send: "direct J999 hi", want: []string{`400 "bad arguments: \"J999\" is not a camp id in J001-J384"`}},
			step{conn: 1, send: "direct J002", want: []string{`400 "bad arguments: empty text"`}},
		)},
		{"400 before 503", []step{
			{do: draining},
			{conn: 1, send: "checkin J999", want: []string{`400 "bad arguments: \"J999\" is not a camp id in J001-J384"`}},
		}},
		{"409 before 503", with(checkins(2),
			step{do: draining},
			step{conn: 1, send: "checkin J003", want: []string{`409 "this connection is already checked in as J001"`}},
			step{conn: 3, send: "checkin J002", want: []string{`409 "J002 is checked in on another connection"`}},
			step{conn: 3, send: "checkin J003", want: []string{`503 "server shutting down"`}},
		)},
	}.run(t)
}

func TestIDEcho(t *testing.T) {
	scripts{
		{"success right after the status line", []step{
			{conn: 1, send: "PING CAMP/1.0\r\nId: p-1\r\n\r\n", want: []string{"200 Id: p-1"}},
			{conn: 1, send: "CHECKIN J001 CAMP/1.0\r\nId: {x}\r\n\r\n", want: []string{"200 Id: {x} Group: 1"}, change: "checkin J001 1"},
			{conn: 1, send: "PEERSESSION 2 CAMP/1.0\r\nId: s\r\n\r\n", want: []string{"200 Id: s Max-Count: 2", "c1: PEERSESSION J001 Group: 1 Max-Count: 2"}},
			{conn: 1, send: "COMPLETE CAMP/1.0\r\nId: " + strings.Repeat("z", 64) + "\r\n\r\n", want: []string{"200 Id: " + strings.Repeat("z", 64), "c1: COMPLETE J001 Group: 1 Reason: host"}},
		}},
		{"errors", []step{
			{conn: 1, send: "MISSION 4 CAMP/1.0\r\nId: 1\r\n\r\n", want: []string{`401 Id: 1 "check in first, e.g. checkin J001"`}},
			{conn: 1, send: "CHECKIN J1 CAMP/1.0\r\nId: 2\r\n\r\n", want: []string{`400 Id: 2 "bad arguments: \"J1\" is not a camp id in J001-J384"`}},
			{conn: 1, send: "checkin J001"},
			{conn: 2, send: "CHECKIN J001 CAMP/1.0\r\nId: 3\r\n\r\n", want: []string{`409 Id: 3 "J001 is checked in on another connection"`}},
			{conn: 1, send: "MISSION 5 CAMP/1.0\r\nId: 4\r\n\r\n", want: []string{`404 Id: 4 "no mission for day 5"`}},
			{conn: 1, send: "CHECKOUT CAMP/1.0\r\nId: 5\r\n\r\n", want: []string{"200 Id: 5 Active: 0.000"}, close: true, change: "checkout J001 1"},
		}},
		{"not in short form", []step{
			{conn: 1, send: "ping", want: []string{"200"}},
		}},
	}.run(t)
}

func TestDraining(t *testing.T) {
	scripts{
		{"checkin 503, the others carry on", with(checkins(2),
			step{conn: 1, send: "peersession 2"},
			step{do: func(c *testCamp) { c.SetDraining(true) }},
			step{conn: 3, send: "checkin J003", want: []string{`503 "server shutting down"`}},
			step{conn: 2, send: "message hi", want: []string{"200 Remaining: 1", `c1: MESSAGE J002 Group: 1 "hi"`}},
			step{conn: 2, send: "checkout", want: []string{"200 Active: 0.000", "c1: LEFT J002 Group: 1"}, close: true, change: "checkout J002 1"},
			step{conn: 2, send: "checkin J002", want: []string{`503 "server shutting down"`}},
		)},
		{"off again", []step{
			{do: func(c *testCamp) { c.SetDraining(true) }},
			{do: func(c *testCamp) { c.SetDraining(false) }},
			{conn: 1, send: "checkin J001", want: []string{"200 Group: 1"}, change: "checkin J001 1"},
		}},
	}.run(t)
}

func TestMaxCampers(t *testing.T) {
	tests := []struct {
		name string
		give []step
	}{
		{"server full", with(checkins(2),
			step{conn: 3, send: "checkin J003", want: []string{`503 "server full"`}},
			step{conn: 1, send: "checkout"},
			step{conn: 3, send: "checkin J003", want: []string{"200 Group: 1", "c2: JOINED J003 Group: 1"}, change: "checkin J003 1"},
			step{conn: 4, send: "checkin J004", want: []string{`503 "server full"`}},
			step{conn: 2, leave: true},
			step{conn: 4, send: "checkin J004", want: []string{"200 Group: 1", "c3: JOINED J004 Group: 1"}, change: "checkin J004 1"},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, Config{MaxCampers: 2}, tt.give)
		})
	}
}

func TestConfigIDs(t *testing.T) {
	ids, err := protocol.ParseIDRange("K00001-K50000")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give []step
	}{
		{"ids of the configured range", []step{
			{conn: 1, send: "checkin k50000", want: []string{"200 Group: 1"}, change: "checkin K50000 1"},
			{conn: 2, send: "checkin J001", want: []string{`400 "bad arguments: \"J001\" is not a camp id in K00001-K50000"`}},
			{conn: 2, send: "ping"},
			{conn: 2, send: "mission 1", want: []string{`401 "check in first, e.g. checkin K00001"`}},
			{conn: 2, send: "checkin K00002", want: []string{"200 Group: 1", "c1: JOINED K00002 Group: 1"}, change: "checkin K00002 1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, Config{IDs: ids}, tt.give)
		})
	}
}

// TestErrorBody checks what render leaves out: errors are text/plain with
// a one-line body.
func TestErrorBody(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"mission 4", "check in first, e.g. checkin J001"},
		{"checkin", "bad arguments: checkin needs a camp id, e.g. checkin J001"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := newTestCamp(Config{})
			res := c.Handle(c.conn(1), parseRequest(t, tt.give), t0())
			want := "CAMP/1.0 " + render(t, res.Reply)[:3] + " " + protocol.Reason(mustStatus(t, res.Reply)) +
				"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + fmt.Sprint(len(tt.want)) + "\r\n\r\n" + tt.want + "\r\n"
			if string(res.Reply) != want {
				t.Errorf("reply = %q, want %q", res.Reply, want)
			}
		})
	}
}

func mustStatus(tb testing.TB, b []byte) int {
	tb.Helper()
	var p protocol.Parser
	p.Responses = true
	var f protocol.Frame
	if _, ok, err := p.Parse(b, &f); !ok || err != nil {
		tb.Fatalf("parse %q: %v", b, err)
	}
	code, ok := f.Status()
	if !ok {
		tb.Fatalf("not a response: %q", b)
	}
	return code
}

// TestStaleSeat checks that a camp counts a seat that another camp left
// in a connection as none, wherever it points: past the camp's groups, at
// a group that does not hold the connection, or at an empty one. (The
// server replaces its camp by a restored one; connections of the old
// camp may still be around.)
func TestStaleSeat(t *testing.T) {
	tests := []struct {
		name string
		num  int32 // the stale seat
	}{
		{"past the groups", 9},
		{"a group without the connection", 1},
		{"an empty group", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, Config{}, with(checkins(5), step{conn: 5, leave: true})) // group 1 full, group 2 empty
			p := &tc{n: 7, seat: Seat{num: tt.num}}
			c.conns[p.n] = p
			if c.In(p) {
				t.Fatalf("In = true for a seat left by another camp")
			}
			if res := c.Leave(p, t0()); res.Deliveries != nil || res.Change != (Change{}) {
				t.Fatalf("Leave = %+v, want the zero Result", res)
			}
			play(t, c, []step{
				{conn: 7, send: "message hi", want: []string{`401 "check in first, e.g. checkin J001"`}},
				{conn: 7, send: "checkin J007", want: []string{"200 Group: 2"}, change: "checkin J007 2"},
				{conn: 7, send: "checkout", want: []string{"200 Active: 0.000"}, close: true, change: "checkout J007 2"},
			})
			checkInvariants(t, tt.name, c)
		})
	}
}

// TestManyGroups fills more groups than one chunk of the group table
// holds, empties groups on both sides of a chunk's edge, and checks the
// invariants, Each, and that a snapshot restores to the same camp.
func TestManyGroups(t *testing.T) {
	const campers = 3*groupChunk*GroupSize + 5 // into a fourth chunk
	ids, err := protocol.ParseIDRange("J00001-J01000")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{IDs: ids}
	c := newTestCamp(cfg)
	now := t0()
	for n := 1; n <= campers; n++ {
		res := c.Handle(c.conn(n), parseRequest(t, fmt.Sprintf("checkin J%05d", n)), now)
		if want := (n-1)/GroupSize + 1; res.Change.Kind != ChangeCheckin || res.Change.Group != want {
			t.Fatalf("checkin %d: %+v, want group %d", n, res.Change, want)
		}
	}
	// Empty the last group of the first chunk and the first of the second.
	for _, num := range []int{groupChunk, groupChunk + 1} {
		for i := range GroupSize {
			c.Leave(c.conn((num-1)*GroupSize+i+1), now)
		}
	}
	checkInvariants(t, "after leaving", c)
	checkEach(t, "after leaving", c)
	if got, want := c.Groups(), (campers+GroupSize-1)/GroupSize-2; got != want {
		t.Fatalf("%d groups, want %d", got, want)
	}
	// The next check-ins refill the emptied groups, lowest first, after
	// the last group's free seats.
	for k, want := range []int{campers/GroupSize + 1, campers/GroupSize + 1, campers/GroupSize + 1, groupChunk} {
		n := campers + 1 + k
		res := c.Handle(c.conn(n), parseRequest(t, fmt.Sprintf("checkin J%05d", n)), now)
		if res.Change.Group != want {
			t.Fatalf("checkin %d: group %d, want %d", n, res.Change.Group, want)
		}
	}
	checkInvariants(t, "after refilling", c)
	fuzzTwin(t, cfg, c, nil, 0)
}
