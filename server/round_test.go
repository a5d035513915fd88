package server_test

import (
	"testing"

	"campfire/protocol"
	"campfire/server"
)

// TestOneWritePerRound checks that a loop writes a connection's output
// once per round of its event loop, not once per callback: two requests
// read in one round that each send J003 an event reach it in one Write.
// With the loop stopped in a task, J001's and J002's directs both wait in
// their sockets, so the next epoll_wait returns both: one round, whose
// writes are J001's reply, J002's reply and J003's two events together.
func TestOneWritePerRound(t *testing.T) {
	s := startServer(t, func(cfg *server.Config) {
		cfg.Loops = 1
		server.RareSweeps(cfg) // a sweep in between would write nothing, but keep the loop to the test
	})
	a, b, c := dial(t, s.Addr()), dial(t, s.Addr()), dial(t, s.Addr())
	a.checkin("J001")
	b.checkin("J002")
	c.checkin("J003")
	a.expectEvent("JOINED", "J002")
	a.expectEvent("JOINED", "J003")
	b.expectEvent("JOINED", "J003")
	for _, x := range []*client{a, b, c} {
		x.ping() // nothing else queued for anyone
	}
	before, err := server.Writes(s)
	if err != nil {
		t.Fatal(err)
	}
	release, err := server.BlockCampLoop(s)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// On loopback a write returns once the bytes are in the server's
	// socket: both requests are there before the loop goes on.
	a.send("direct J003 one\r\n")
	b.send("direct J003 two\r\n")
	release()
	a.expectStatus(protocol.StatusOK)
	b.expectStatus(protocol.StatusOK)
	if f := c.expectEvent("DIRECT", "J001"); f.Body != "one" {
		t.Errorf("first DIRECT body %q, want %q", f.Body, "one")
	}
	if f := c.expectEvent("DIRECT", "J002"); f.Body != "two" {
		t.Errorf("second DIRECT body %q, want %q", f.Body, "two")
	}
	after, err := server.Writes(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got != 3 {
		t.Errorf("%d Writes for the round, want 3: one per connection (J003's two events together)", got)
	}
}
