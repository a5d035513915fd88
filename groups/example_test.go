package groups_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"campfire/groups"
	"campfire/protocol"
)

// conn is a connection of the examples: a name, and the seat a camp
// keeps in it. The server uses its own connections.
type conn struct {
	name string
	seat groups.Seat
}

func (c *conn) Seat() *groups.Seat { return &c.seat }
func (c *conn) String() string     { return c.name }

// conns hands out the connections of one camp by name, making each on
// first use.
type conns map[string]*conn

func (cs conns) get(name string) *conn {
	if cs[name] == nil {
		cs[name] = &conn{name: name}
	}
	return cs[name]
}

func ExampleCamp() {
	camp := groups.New[*conn](groups.Config{})
	cs := conns{}
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

	send := func(name, line string) {
		var p protocol.Parser
		var f protocol.Frame
		if _, ok, err := p.Parse([]byte(line+"\r\n"), &f); !ok || err != nil {
			panic(fmt.Sprint("parse ", line, err))
		}
		req := f.Request()
		res := camp.Handle(cs.get(name), &req, now)
		// A server writes res.Reply to the connection, then each Frame to
		// its To, before it calls Handle again.
		fmt.Printf("> %s: %s\n%s", name, line, bytes.ReplaceAll(res.Reply, []byte("\r\n"), []byte("\n")))
		for _, d := range res.Deliveries {
			fmt.Printf("-> %s\n%s", d.To, bytes.ReplaceAll(d.Frame, []byte("\r\n"), []byte("\n")))
		}
	}
	send("alice", "checkin J001")
	send("bob", "checkin j002")
	send("alice", "peersession 2")
	send("bob", "message hello")
	fmt.Println(camp.Len(), "campers in", camp.Groups(), "group")

	// Output:
	// > alice: checkin J001
	// CAMP/1.0 200 OK
	// Group: 1
	//
	// > bob: checkin j002
	// CAMP/1.0 200 OK
	// Group: 1
	//
	// -> alice
	// JOINED J002 CAMP/1.0
	// Group: 1
	//
	// > alice: peersession 2
	// CAMP/1.0 200 OK
	// Max-Count: 2
	//
	// -> alice
	// PEERSESSION J001 CAMP/1.0
	// Group: 1
	// Max-Count: 2
	//
	// -> bob
	// PEERSESSION J001 CAMP/1.0
	// Group: 1
	// Max-Count: 2
	//
	// > bob: message hello
	// CAMP/1.0 200 OK
	// Remaining: 1
	//
	// -> alice
	// MESSAGE J002 CAMP/1.0
	// Group: 1
	// Content-Length: 5
	//
	// hello
	// 2 campers in 1 group
}

// handle parses line, one request in short form, and hands it to camp as
// from conn; the examples below need only the effect.
func handle[P groups.Conn](camp *groups.Camp[P], conn P, line string, now time.Time) groups.Result[P] {
	var p protocol.Parser
	var f protocol.Frame
	if _, ok, err := p.Parse([]byte(line+"\r\n"), &f); !ok || err != nil {
		panic(fmt.Sprint("parse ", line, err))
	}
	req := f.Request()
	return camp.Handle(conn, &req, now)
}

func ExampleCamp_Each() {
	camp := groups.New[*conn](groups.Config{})
	cs := conns{}
	ids := protocol.DefaultIDs()
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, name := range []string{"a/1", "b/1", "a/2", "b/2", "a/3", "b/3"} {
		handle(camp, cs.get(name), fmt.Sprintf("checkin J%03d", i+1), start.Add(time.Duration(i)*time.Minute))
	}
	handle(camp, cs.get("a/3"), "peersession 10", start)
	handle(camp, cs.get("b/3"), "message hi", start)

	// A status page: groups in order, seats in order, and the totals.
	fmt.Println(camp.Len(), "campers,", camp.Groups(), "groups,", camp.Sessions(), "session")
	for g := range camp.Each {
		fmt.Printf("group %d:", g.Number)
		for _, m := range g.Members {
			fmt.Printf(" %s (%s, %s)", ids.Format(m.ID), m.Conn, m.Since.Format("15:04"))
		}
		if s := g.Session; s.Running() {
			fmt.Printf("; session of %s, %d of %d used", ids.Format(s.Host), s.Used(), s.Max)
		}
		fmt.Println()
	}

	// Node "b" died: every replica checks its campers out in this order.
	for g := range camp.Each {
		for _, m := range g.Members {
			if strings.HasPrefix(m.Conn.name, "b/") {
				res := camp.Leave(m.Conn, start)
				fmt.Printf("%s left group %d, %d events\n", ids.Format(m.ID), res.Change.Group, len(res.Deliveries))
			}
		}
	}
	fmt.Println(camp.Len(), "campers,", camp.Groups(), "groups,", camp.Sessions(), "session")

	// Output:
	// 6 campers, 2 groups, 1 session
	// group 1: J001 (a/1, 09:00) J002 (b/1, 09:01) J003 (a/2, 09:02) J004 (b/2, 09:03)
	// group 2: J005 (a/3, 09:04) J006 (b/3, 09:05); session of J005, 1 of 10 used
	// J002 left group 1, 3 events
	// J004 left group 1, 2 events
	// J006 left group 2, 1 events
	// 3 campers, 2 groups, 1 session
}

func ExampleRestore() {
	cfg := groups.Config{}
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	camp, cs := groups.New[*conn](cfg), conns{}
	handle(camp, cs.get("node1/conn7"), "checkin J001", now)
	handle(camp, cs.get("node2/conn3"), "checkin J002", now)
	handle(camp, cs.get("node1/conn7"), "peersession 5", now)

	// The connection keys here are the names; the server writes node,
	// epoch and connection id. The replica has connections of its own:
	// each holds its seat in one camp.
	snap := camp.AppendSnapshot(nil, func(dst []byte, c *conn) []byte { return append(dst, c.name...) })
	rcs := conns{}
	key := func(b []byte) (*conn, error) { return rcs.get(string(b)), nil }
	replica, err := groups.Restore(cfg, snap, key)
	if err != nil {
		panic(err)
	}
	fmt.Println("same digest:", replica.Digest() == camp.Digest())

	// Both now answer every request alike.
	for _, r := range []struct {
		camp *groups.Camp[*conn]
		cs   conns
	}{{camp, cs}, {replica, rcs}} {
		res := handle(r.camp, r.cs.get("node2/conn3"), "message hello", now)
		fmt.Printf("%q to %s\n", res.Reply, res.Deliveries[0].To)
	}
	fmt.Println("same digest:", replica.Digest() == camp.Digest())

	_, err = groups.Restore(groups.Config{MaxCampers: 100}, snap, key)
	fmt.Println(err)

	// Output:
	// same digest: true
	// "CAMP/1.0 200 OK\r\nRemaining: 4\r\n\r\n" to node1/conn7
	// "CAMP/1.0 200 OK\r\nRemaining: 4\r\n\r\n" to node1/conn7
	// same digest: true
	// camp snapshot of another configuration: snapshot ids J001-J384, no camper limit, config ids J001-J384, at most 100 campers
}
