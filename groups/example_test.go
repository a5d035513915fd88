package groups_test

import (
	"bytes"
	"fmt"
	"time"

	"campfire/groups"
	"campfire/protocol"
)

func ExampleCamp() {
	// Connections are named by strings here; the server uses its *conn.
	camp := groups.New[string](groups.Config{})
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

	send := func(conn, line string) {
		var p protocol.Parser
		var f protocol.Frame
		if _, ok, err := p.Parse([]byte(line+"\r\n"), &f); !ok || err != nil {
			panic(fmt.Sprint("parse ", line, err))
		}
		req := f.Request()
		res := camp.Handle(conn, &req, now)
		// A server writes res.Reply to conn, then each Frame to its To,
		// before it calls Handle again.
		fmt.Printf("> %s: %s\n%s", conn, line, bytes.ReplaceAll(res.Reply, []byte("\r\n"), []byte("\n")))
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
