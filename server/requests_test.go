package server_test

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// The tests in this file prove the request rules of PROTOCOL.md section 2
// over real TCP, each against a server of its own.

func TestCheckin(t *testing.T) {
	t.Parallel()

	t.Run("200 with Group", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		f := dial(t, s.Addr()).do("checkin J001\r\n", protocol.StatusOK)
		if got := f.header("Group"); got != "1" {
			t.Errorf("Group = %q, want 1 (%s)", got, f)
		}
	})

	t.Run("400 bad or out-of-range id", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := dial(t, s.Addr())
		tests := []struct {
			name string
			give string
		}{
			{name: "no id", give: "checkin"},
			{name: "wrong letter", give: "checkin K001"},
			{name: "below range", give: "checkin J000"},
			{name: "above range", give: "checkin J385"},
			{name: "too few digits", give: "checkin J1"},
			{name: "too many digits", give: "checkin J0001"},
			{name: "not digits", give: "checkin J0a1"},
			{name: "two ids", give: "checkin J001 J002"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.t = t
				f := c.do(tt.give+"\r\n", protocol.StatusBadRequest)
				if f.Body == "" {
					t.Errorf("400 without an explanation: %s", f)
				}
			})
		}
		// A 400 leaves the connection usable and not checked in.
		c.t = t
		c.checkin("J384")
	})

	t.Run("409 same connection twice", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := dial(t, s.Addr())
		c.checkin("J001")
		c.do("checkin J002\r\n", protocol.StatusConflict)
		c.do("checkin J001\r\n", protocol.StatusConflict)
	})

	t.Run("409 id on another connection", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		a := dial(t, s.Addr())
		a.checkin("J001")
		b := dial(t, s.Addr())
		b.do("checkin J001\r\n", protocol.StatusConflict)
		b.do("checkin j001\r\n", protocol.StatusConflict)
		// The failed attempt changed nothing: b can still check in, and a
		// is still J001 (it hears b join).
		b.checkin("J002")
		a.expectGroupEvent("JOINED", "J002", 1)
	})

	t.Run("503 past the connection cap", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(cfg *server.Config) { cfg.MaxConns = 2 })
		a := dial(t, s.Addr())
		a.checkin("J001")
		b := dial(t, s.Addr())
		b.checkin("J002")
		c := dial(t, s.Addr())
		f := c.expectStatus(protocol.StatusServiceUnavailable)
		if f.Body == "" {
			t.Errorf("503 without an explanation: %s", f)
		}
		c.expectEOF()
		// The others are undisturbed, and a freed slot can be used again.
		a.expectGroupEvent("JOINED", "J002", 1)
		a.ping()
		b.do("checkout\r\n", protocol.StatusOK)
		b.expectEOF()
		a.expectGroupEvent("LEFT", "J002", 1)
		if err := b.conn.Close(); err != nil {
			t.Fatal(err)
		}
		// b's slot frees once the server sees b's close; until then a new
		// connection may still be refused.
		for deadline := time.Now().Add(waitFor); ; {
			d := dial(t, s.Addr())
			d.send("ping\r\n")
			f := d.next()
			if f.status() == protocol.StatusOK {
				d.checkin("J003")
				break
			}
			if f.status() != protocol.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("connection after a slot was freed: got %s", f)
			}
			d.expectEOF()
		}
	})

	t.Run("503 past the camper cap", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(cfg *server.Config) { cfg.MaxCampers = 1 })
		a := dial(t, s.Addr())
		a.checkin("J001")
		b := dial(t, s.Addr())
		f := b.do("checkin J002\r\n", protocol.StatusServiceUnavailable)
		if f.Body == "" {
			t.Errorf("503 without an explanation: %s", f)
		}
		// 409 is checked before 503: J001 is taken either way.
		b.do("checkin J001\r\n", protocol.StatusConflict)
		// The refused connection stays open and checks in once a seat frees.
		a.do("checkout\r\n", protocol.StatusOK)
		a.expectEOF()
		b.checkin("J002")
	})

	t.Run("case-insensitive method and id", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		a := dial(t, s.Addr())
		a.checkin("J001")
		b := dial(t, s.Addr())
		b.do("ChEcKiN j004\r\n", protocol.StatusOK)
		// The server writes ids upper-case.
		a.expectGroupEvent("JOINED", "J004", 1)
		b.do("CHECKIN J004\r\n", protocol.StatusConflict)
	})
}

// TestBeforeCheckin shows that only checkin, ping and help are allowed
// before a successful check-in, and that the checks run in the contract's
// order: 501, then 401, then 400.
func TestBeforeCheckin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	tests := []struct {
		name string
		give string
		want int
	}{
		{name: "mission 401", give: "mission 4", want: protocol.StatusUnauthorized},
		{name: "peersession 401", give: "peersession 3", want: protocol.StatusUnauthorized},
		{name: "message 401", give: "message hi", want: protocol.StatusUnauthorized},
		{name: "direct 401", give: "direct J002 hi", want: protocol.StatusUnauthorized},
		{name: "checkout 401", give: "checkout", want: protocol.StatusUnauthorized},
		{name: "complete 401", give: "complete", want: protocol.StatusUnauthorized},
		{name: "ping allowed", give: "ping", want: protocol.StatusOK},
		{name: "help allowed", give: "help", want: protocol.StatusOK},
		{name: "peersession 0 is 401 not 400", give: "peersession 0", want: protocol.StatusUnauthorized},
		{name: "mission x is 401 not 400", give: "mission x", want: protocol.StatusUnauthorized},
		{name: "direct with bad id is 401 not 400", give: "direct Q1 hi", want: protocol.StatusUnauthorized},
		{name: "unknown is 501 not 401", give: "dance", want: protocol.StatusNotImplemented},
		{name: "full-form mission 401", give: "MISSION 4 CAMP/1.0\r\n", want: protocol.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.do(tt.give+"\r\n", tt.want)
		})
	}
	c.t = t
	// After all that the connection still checks in.
	c.checkin("J001")
}

func TestHelpAndUnknown(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	tests := []struct {
		name     string
		give     string
		want     int
		wantBody string
	}{
		{name: "help", give: "help", want: protocol.StatusOK, wantBody: protocol.Help},
		{name: "HELP", give: "HELP", want: protocol.StatusOK, wantBody: protocol.Help},
		{name: "501 names the requests", give: "dance all night", want: protocol.StatusNotImplemented,
			wantBody: `unknown request "dance"; known requests: ` + protocol.Known},
		{name: "501 in full form", give: "DANCE CAMP/1.0\r\n", want: protocol.StatusNotImplemented,
			wantBody: `unknown request "DANCE"; known requests: ` + protocol.Known},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			f := c.do(tt.give+"\r\n", tt.want)
			if f.Body != tt.wantBody {
				t.Errorf("body %q, want %q", f.Body, tt.wantBody)
			}
		})
	}
	c.t = t
	c.checkin("J001")
	c.do("dance\r\n", protocol.StatusNotImplemented)
}

func TestCheckout(t *testing.T) {
	t.Parallel()

	t.Run("200 with Active then close", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		a := dial(t, s.Addr())
		a.checkin("J001")
		b := dial(t, s.Addr())
		b.checkin("J002")
		a.expectGroupEvent("JOINED", "J002", 1)
		f := b.do("checkout\r\n", protocol.StatusOK)
		if got := f.header("Active"); !regexp.MustCompile(`^\d+\.\d{3}$`).MatchString(got) {
			t.Errorf("Active = %q, want seconds with 3 decimals (%s)", got, f)
		}
		b.expectEOF()
		a.expectGroupEvent("LEFT", "J002", 1)
		// The id is free again.
		c := dial(t, s.Addr())
		c.checkin("J002")
	})

	t.Run("pipelined junk after checkout", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := dial(t, s.Addr())
		c.checkin("J001")
		junk := strings.Repeat("this is not read by anyone\r\n", 4000) // ~110 KB
		c.send("checkout\r\nping\r\n" + junk)
		c.expectStatus(protocol.StatusOK)
		// Requests after checkout are not answered, and the unread input
		// does not turn the close into a reset.
		c.expectEOF()
	})
}

func TestMission(t *testing.T) {
	t.Parallel()
	keywords := map[int]string{
		1: "IDE, node", 2: "Linux, Shell", 3: "Crawling, LRU", 4: "Heap, Stack",
		6: "XML, XPath", 7: "Object, Class", 8: "CountSet, Closure", 9: "Process, Thread",
		11: "Path, UnitTest", 12: "Git, Objects", 13: "OSI, TCP/IP", 14: "HTTP, Request",
		16: "Event, Async", 17: "Food, Delivery", 18: "SQL, Report", 19: "Network, Server",
	}
	type test struct {
		name     string
		give     string
		want     int
		wantDay  string
		wantBody string
	}
	var tests []test
	for day := 1; day <= 20; day++ {
		tt := test{name: fmt.Sprintf("day %d", day), give: fmt.Sprintf("mission %d", day), want: protocol.StatusNotFound}
		if kw, ok := keywords[day]; ok {
			tt.want, tt.wantDay, tt.wantBody = protocol.StatusOK, fmt.Sprint(day), kw
		}
		tests = append(tests, tt)
	}
	tests = append(tests,
		test{name: "0 is 404", give: "mission 0", want: protocol.StatusNotFound},
		test{name: "-1 is 404", give: "mission -1", want: protocol.StatusNotFound},
		test{name: "21 is 404", give: "mission 21", want: protocol.StatusNotFound},
		test{name: "huge is 404", give: "mission 99999999999999999999999", want: protocol.StatusNotFound},
		test{name: "day4 spelling", give: "mission day4", want: protocol.StatusOK, wantDay: "4", wantBody: "Heap, Stack"},
		test{name: "DAY4 spelling", give: "MISSION DAY4", want: protocol.StatusOK, wantDay: "4", wantBody: "Heap, Stack"},
		test{name: "x is 400", give: "mission x", want: protocol.StatusBadRequest},
		test{name: "4.5 is 400", give: "mission 4.5", want: protocol.StatusBadRequest},
		test{name: "missing day is 400", give: "mission", want: protocol.StatusBadRequest},
		test{name: "full form", give: "MISSION 13 CAMP/1.0\r\nId: m13\r\n", want: protocol.StatusOK, wantDay: "13", wantBody: "OSI, TCP/IP"},
	)

	s := startServer(t, nil)
	c := dial(t, s.Addr())
	c.checkin("J001")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			f := c.do(tt.give+"\r\n", tt.want)
			if tt.want != protocol.StatusOK {
				return
			}
			if got := f.header("Day"); got != tt.wantDay {
				t.Errorf("Day = %q, want %q (%s)", got, tt.wantDay, f)
			}
			if f.Body != tt.wantBody {
				t.Errorf("body = %q, want %q", f.Body, tt.wantBody)
			}
		})
	}
}

// group checks n campers J001.. into one fresh group and drains the JOINED
// events, so that every client's next frame is what the test causes.
func group(t testing.TB, addr string, n int) []*client {
	t.Helper()
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = dial(t, addr)
		if g := cs[i].checkin(id(i + 1)); g != 1 {
			t.Fatalf("%s in group %d, want 1", id(i+1), g)
		}
		for _, prev := range cs[:i] {
			prev.expectGroupEvent("JOINED", id(i+1), 1)
		}
	}
	return cs
}

func TestPeerSession(t *testing.T) {
	t.Parallel()

	t.Run("200 Max-Count then PEERSESSION to the whole group", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 3)
		f := cs[1].do("peersession 3\r\n", protocol.StatusOK)
		if got := f.header("Max-Count"); got != "3" {
			t.Errorf("Max-Count = %q, want 3 (%s)", got, f)
		}
		for _, c := range cs {
			f := c.expectGroupEvent("PEERSESSION", "J002", 1)
			if got := f.header("Max-Count"); got != "3" {
				t.Errorf("%s: PEERSESSION Max-Count = %q, want 3", c.name, got)
			}
		}
	})

	t.Run("spellings", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			give string
			want string
		}{
			{give: "peersession 3", want: "3"},
			{give: "peersession maxCount=3", want: "3"},
			{give: "PEERSESSION MAXCOUNT = 7", want: "7"},
			{give: "peersession 1", want: "1"},
			{give: "peersession 1000000", want: "1000000"},
		}
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 1)
		c := cs[0]
		for _, tt := range tests {
			t.Run(tt.give, func(t *testing.T) {
				c.t = t
				f := c.do(tt.give+"\r\n", protocol.StatusOK)
				if got := f.header("Max-Count"); got != tt.want {
					t.Errorf("Max-Count = %q, want %s", got, tt.want)
				}
				c.expectGroupEvent("PEERSESSION", "J001", 1)
				c.do("complete\r\n", protocol.StatusOK)
				c.expectGroupEvent("COMPLETE", "J001", 1)
			})
		}
	})

	t.Run("400 count out of range", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := group(t, s.Addr(), 1)[0]
		for _, give := range []string{"0", "1000001", "-1", "x", "maxCount=0", "maxCount=1000001", "size=3", ""} {
			t.Run(give, func(t *testing.T) {
				c.t = t
				c.do("peersession "+give+"\r\n", protocol.StatusBadRequest)
			})
		}
		// None of them started a session.
		c.t = t
		c.do("complete\r\n", protocol.StatusConflict)
	})

	t.Run("409 second session", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 2)
		cs[0].do("peersession 5\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		cs[1].do("peersession 5\r\n", protocol.StatusConflict)
		cs[0].do("peersession 5\r\n", protocol.StatusConflict)
		// Malformed arguments are checked before the state: 400, not 409.
		cs[1].do("peersession 0\r\n", protocol.StatusBadRequest)
	})

	t.Run("sessions are per group", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 4)
		e := dial(t, s.Addr())
		if g := e.checkin("J005"); g != 2 {
			t.Fatalf("J005 in group %d, want 2", g)
		}
		cs[0].do("peersession 2\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		e.do("peersession 2\r\n", protocol.StatusOK)
		e.expectGroupEvent("PEERSESSION", "J005", 2)
		e.do("message only me\r\n", protocol.StatusOK)
		cs[0].ping()
	})
}

func TestMessage(t *testing.T) {
	t.Parallel()

	t.Run("200 Remaining and MESSAGE to the others only", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 3)
		cs[0].do("peersession 5\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		f := cs[1].do("message hello all\r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != "4" {
			t.Errorf("Remaining = %q, want 4", got)
		}
		for _, c := range []*client{cs[0], cs[2]} {
			f := c.expectGroupEvent("MESSAGE", "J002", 1)
			if f.Body != "hello all" {
				t.Errorf("%s: MESSAGE body %q, want %q", c.name, f.Body, "hello all")
			}
		}
		// The sender's next frame is its ping's reply, not its own message.
		cs[1].ping()
		f = cs[2].do("MESSAGE   spaced  out  \r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != "3" {
			t.Errorf("Remaining = %q, want 3", got)
		}
		if f := cs[0].expectGroupEvent("MESSAGE", "J003", 1); f.Body != "spaced  out" {
			t.Errorf("short-form text %q, want it trimmed to %q", f.Body, "spaced  out")
		}
	})

	t.Run("409 outside a session and not delivered", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 2)
		cs[0].do("message lost\r\n", protocol.StatusConflict)
		// Nothing reached the other camper: its next frame is its ping's.
		cs[1].ping()
	})

	t.Run("400 empty text", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 2)
		cs[0].do("peersession 5\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		cs[0].do("message\r\n", protocol.StatusBadRequest)
		cs[0].do("message    \r\n", protocol.StatusBadRequest)
		cs[0].do("MESSAGE CAMP/1.0\r\n\r\n", protocol.StatusBadRequest)
		// The 400s did not count: five messages are still allowed.
		f := cs[0].do("message one\r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != "4" {
			t.Errorf("Remaining = %q, want 4", got)
		}
		cs[1].expectGroupEvent("MESSAGE", "J001", 1)
		cs[1].ping()
	})

	t.Run("limit ends the session for everyone", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 3)
		cs[0].do("peersession 2\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		cs[1].do("message one\r\n", protocol.StatusOK)
		cs[0].expectGroupEvent("MESSAGE", "J002", 1)
		cs[2].expectGroupEvent("MESSAGE", "J002", 1)
		f := cs[2].do("message two\r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != "0" {
			t.Errorf("Remaining = %q, want 0", got)
		}
		// Everyone gets the last message (but its sender), then COMPLETE.
		for _, c := range cs {
			if c != cs[2] {
				c.expectGroupEvent("MESSAGE", "J003", 1)
			}
			f := c.expectGroupEvent("COMPLETE", "J001", 1)
			if got := f.header("Reason"); got != "limit" {
				t.Errorf("%s: Reason = %q, want limit", c.name, got)
			}
		}
		cs[1].do("message three\r\n", protocol.StatusConflict)
		// The group may start a new session.
		cs[1].do("peersession 1\r\n", protocol.StatusOK)
	})

	t.Run("a message alone still counts", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := group(t, s.Addr(), 1)[0]
		c.do("peersession 2\r\n", protocol.StatusOK)
		c.expectGroupEvent("PEERSESSION", "J001", 1)
		c.do("message to nobody\r\n", protocol.StatusOK)
		f := c.do("message again\r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != "0" {
			t.Errorf("Remaining = %q, want 0", got)
		}
		f = c.expectGroupEvent("COMPLETE", "J001", 1)
		if got := f.header("Reason"); got != "limit" {
			t.Errorf("Reason = %q, want limit", got)
		}
	})

	t.Run("full form body with newlines delivered intact", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 2)
		cs[0].do("peersession 5\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		body := "line one\nline two\r\n\r\nCAMP/1.0 200 OK\r\n\r\n  trailing space  "
		f := cs[0].do(fmt.Sprintf("message CAMP/1.0\r\nId: m-1\r\nContent-Length: %d\r\n\r\n%s", len(body), body), protocol.StatusOK)
		if got := f.header("Id"); got != "m-1" {
			t.Errorf("Id = %q, want m-1", got)
		}
		if f := cs[1].expectGroupEvent("MESSAGE", "J001", 1); f.Body != body {
			t.Errorf("body %q, want %q", f.Body, body)
		}
		cs[1].ping()
	})
}

func TestComplete(t *testing.T) {
	t.Parallel()

	t.Run("host ends it", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 3)
		cs[1].do("peersession 10\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J002", 1)
		}
		cs[0].do("complete\r\n", protocol.StatusForbidden)
		cs[1].do("complete\r\n", protocol.StatusOK)
		for _, c := range cs {
			f := c.expectGroupEvent("COMPLETE", "J002", 1)
			if got := f.header("Reason"); got != "host" {
				t.Errorf("%s: Reason = %q, want host", c.name, got)
			}
		}
		cs[1].do("complete\r\n", protocol.StatusConflict)
		cs[0].do("message late\r\n", protocol.StatusConflict)
	})

	t.Run("409 no session", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		c := group(t, s.Addr(), 1)[0]
		c.do("complete\r\n", protocol.StatusConflict)
	})

	for _, how := range []string{"checkout", "disconnect"} {
		t.Run("host-left by "+how, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil)
			cs := group(t, s.Addr(), 3)
			cs[0].do("peersession 10\r\n", protocol.StatusOK)
			for _, c := range cs {
				c.expectGroupEvent("PEERSESSION", "J001", 1)
			}
			if how == "checkout" {
				cs[0].do("checkout\r\n", protocol.StatusOK)
				cs[0].expectEOF()
			} else if err := cs[0].conn.Close(); err != nil {
				t.Fatal(err)
			}
			for _, c := range cs[1:] {
				f := c.expectGroupEvent("COMPLETE", "J001", 1)
				if got := f.header("Reason"); got != "host-left" {
					t.Errorf("%s: Reason = %q, want host-left", c.name, got)
				}
				c.expectGroupEvent("LEFT", "J001", 1)
			}
			cs[1].do("message gone\r\n", protocol.StatusConflict)
		})
	}

	t.Run("non-host leaving keeps the session", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		cs := group(t, s.Addr(), 3)
		cs[0].do("peersession 10\r\n", protocol.StatusOK)
		for _, c := range cs {
			c.expectGroupEvent("PEERSESSION", "J001", 1)
		}
		if err := cs[2].conn.Close(); err != nil {
			t.Fatal(err)
		}
		cs[0].expectGroupEvent("LEFT", "J003", 1)
		cs[1].expectGroupEvent("LEFT", "J003", 1)
		cs[1].do("message still on\r\n", protocol.StatusOK)
		cs[0].expectGroupEvent("MESSAGE", "J002", 1)
	})
}

// TestGroupEvents shows JOINED to those already there and LEFT on checkout
// and on disconnect.
func TestGroupEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := dial(t, s.Addr())
	a.checkin("J001")
	b := dial(t, s.Addr())
	b.checkin("J002")
	a.expectGroupEvent("JOINED", "J002", 1)
	b.ping() // b did not hear itself join
	c := dial(t, s.Addr())
	c.checkin("J003")
	a.expectGroupEvent("JOINED", "J003", 1)
	b.expectGroupEvent("JOINED", "J003", 1)

	// LEFT on checkout.
	c.do("checkout\r\n", protocol.StatusOK)
	c.expectEOF()
	a.expectGroupEvent("LEFT", "J003", 1)
	b.expectGroupEvent("LEFT", "J003", 1)

	// LEFT on disconnect.
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}
	a.expectGroupEvent("LEFT", "J002", 1)
	a.ping()
}

// TestSeating shows the seating rules: four to a group, the lowest group
// with a free seat first, and the lowest free group number for a new one.
func TestSeating(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cs := make(map[string]*client)
	checkin := func(n, wantGroup int) {
		t.Helper()
		c := dial(t, s.Addr())
		if g := c.checkin(id(n)); g != wantGroup {
			t.Fatalf("%s in group %d, want %d", id(n), g, wantGroup)
		}
		cs[id(n)] = c
	}
	leave := func(n int) {
		t.Helper()
		c := cs[id(n)]
		c.send("checkout\r\n")
		c.skipToStatus(protocol.StatusOK)
		c.expectEOF()
		delete(cs, id(n))
	}
	for n := 1; n <= 4; n++ {
		checkin(n, 1)
	}
	checkin(5, 2) // the 5th camper opens group 2
	for n := 6; n <= 9; n++ {
		checkin(n, 2+(n-5)/4)
	}
	// Groups: 1 = J001-J004, 2 = J005-J008, 3 = J009.
	leave(2)
	checkin(10, 1) // the freed seat in group 1 is refilled first
	checkin(11, 3)
	// Empty group 2, then the next camper after the full groups reopens
	// number 2, the lowest not in use.
	for n := 5; n <= 8; n++ {
		leave(n)
	}
	checkin(12, 3)
	checkin(13, 3) // group 3 now full: J009, J011, J012, J013
	checkin(14, 2)
	// A camper in the reopened group 2 hears only group 2's events.
	checkin(15, 2)
	cs[id(14)].expectGroupEvent("JOINED", "J015", 2)
	cs[id(14)].ping()
}

func TestDirect(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cs := group(t, s.Addr(), 4)
	e := dial(t, s.Addr())
	if g := e.checkin("J005"); g != 2 {
		t.Fatalf("J005 in group %d, want 2", g)
	}
	tests := []struct {
		name     string
		give     string
		want     int
		wantBody string // what J005 receives, "" for nothing
	}{
		{name: "across groups", give: "direct J005 hi there", want: protocol.StatusOK, wantBody: "hi there"},
		{name: "to spelling", give: "direct to J005 hi", want: protocol.StatusOK, wantBody: "hi"},
		{name: "lower-case id", give: "DIRECT j005 yo", want: protocol.StatusOK, wantBody: "yo"},
		{name: "text named to", give: "direct J005 to", want: protocol.StatusOK, wantBody: "to"},
		{name: "404 absent", give: "direct J100 anyone", want: protocol.StatusNotFound},
		{name: "400 bad id", give: "direct Q1 hi", want: protocol.StatusBadRequest},
		{name: "400 out of range", give: "direct J999 hi", want: protocol.StatusBadRequest},
		{name: "400 empty text", give: "direct J005", want: protocol.StatusBadRequest},
		{name: "400 empty text after to", give: "direct to J005", want: protocol.StatusBadRequest},
		{name: "400 nothing", give: "direct", want: protocol.StatusBadRequest},
		{name: "full form", give: "DIRECT J005 CAMP/1.0\r\nContent-Length: 5\r\n\r\na\nb\nc", want: protocol.StatusOK, wantBody: "a\nb\nc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs[1].t, e.t = t, t
			cs[1].do(tt.give+"\r\n", tt.want)
			if tt.wantBody != "" {
				if f := e.expectEvent("DIRECT", "J002"); f.Body != tt.wantBody {
					t.Errorf("DIRECT body %q, want %q", f.Body, tt.wantBody)
				}
			}
			e.ping()
		})
	}
	cs[1].t, e.t = t, t
	// Nobody else heard any of it, and directs work in a session too.
	for _, c := range []*client{cs[0], cs[2], cs[3]} {
		c.ping()
	}
	e.do("peersession 3\r\n", protocol.StatusOK)
	e.expectGroupEvent("PEERSESSION", "J005", 2)
	e.do("direct J001 from a session\r\n", protocol.StatusOK)
	cs[0].expectEvent("DIRECT", "J005")
}

// TestIDHeader shows the Id header echoed, an invalid one answered 400 with
// the connection still usable, and header names compared without case.
func TestIDHeader(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	tests := []struct {
		name   string
		give   string
		want   int
		wantID string
	}{
		{name: "echoed", give: "PING CAMP/1.0\r\nId: 17\r\n\r\n", want: protocol.StatusOK, wantID: "17"},
		{name: "name case-insensitive", give: "ping CAMP/1.0\r\niD:   abc-XYZ_1  \r\n\r\n", want: protocol.StatusOK, wantID: "abc-XYZ_1"},
		{name: "64 chars", give: "PING CAMP/1.0\r\nId: " + strings.Repeat("x", 64) + "\r\n\r\n", want: protocol.StatusOK, wantID: strings.Repeat("x", 64)},
		{name: "on an error", give: "MISSION 4 CAMP/1.0\r\nId: e1\r\n\r\n", want: protocol.StatusUnauthorized, wantID: "e1"},
		{name: "on checkin", give: "CHECKIN J001 CAMP/1.0\r\nID: c1\r\n\r\n", want: protocol.StatusOK, wantID: "c1"},
		{name: "65 chars is 400", give: "PING CAMP/1.0\r\nId: " + strings.Repeat("x", 65) + "\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "space inside is 400", give: "PING CAMP/1.0\r\nId: a b\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "empty is 400", give: "PING CAMP/1.0\r\nId:\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "non-ASCII is 400", give: "PING CAMP/1.0\r\nId: caf\xc3\xa9\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "usable after a bad Id", give: "PING CAMP/1.0\r\nId: ok\r\n\r\n", want: protocol.StatusOK, wantID: "ok"},
		{name: "content-length any case", give: "PING CAMP/1.0\r\ncontent-LENGTH: 0\r\nId: cl\r\n\r\n", want: protocol.StatusOK, wantID: "cl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			f := c.do(tt.give, tt.want)
			if got := f.header("Id"); got != tt.wantID {
				t.Errorf("Id = %q, want %q (%s)", got, tt.wantID, f)
			}
		})
	}
	c.t = t
	c.ping()
}

// TestWire pins the bytes on the wire for one short session: CRLF line ends,
// canonical header names, upper-case ids, and the CRLF that follows every
// body. Header order is the server's choice; the rest is the contract.
func TestWire(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	c.send("CHECKIN j001 CAMP/1.0\r\nid: 7\r\n\r\nmission 4\r\npeersession 1\r\nmessage hi\r\nmission 5\r\ncheckout\r\n")
	if err := c.conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c.conn)
	if err != nil {
		t.Fatalf("reading the session: %v (got %q)", err, got)
	}
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(
		"CAMP/1.0 200 OK\r\nId: 7\r\nGroup: 1\r\n\r\n"+
			"CAMP/1.0 200 OK\r\nDay: 4\r\nContent-Length: 11\r\n\r\nHeap, Stack\r\n"+
			"CAMP/1.0 200 OK\r\nMax-Count: 1\r\n\r\n"+
			"PEERSESSION J001 CAMP/1.0\r\nGroup: 1\r\nMax-Count: 1\r\n\r\n"+
			"CAMP/1.0 200 OK\r\nRemaining: 0\r\n\r\n"+
			"COMPLETE J001 CAMP/1.0\r\nGroup: 1\r\nReason: limit\r\n\r\n"+
			"CAMP/1.0 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n\r\nno mission for day 5\r\n"+
			"CAMP/1.0 200 OK\r\nActive: ") + `\d+\.\d{3}\r\n\r\n$`)
	if !want.Match(got) {
		t.Errorf("wire bytes:\n%q\nwant them to match\n%s", got, want)
	}
}
