package server_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// TestManyConnections checks 500 campers in from five source addresses and
// shows that they fill 125 groups of four, each hearing exactly its own
// group's JOINED events, and that all of them can then be served at once.
func TestManyConnections(t *testing.T) {
	t.Parallel()
	const n = 500
	ids, err := protocol.ParseIDRange("J0001-J0500")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(cfg *server.Config) { cfg.IDs = ids })
	start := time.Now()
	cs := make([]*client, n)
	for i := range cs {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%5))}
		cs[i] = dialFrom(t, local, s.Addr())
		want := i/4 + 1
		if g := cs[i].checkin(fmt.Sprintf("J%04d", i+1)); g != want {
			t.Fatalf("camper %d in group %d, want %d", i+1, g, want)
		}
	}
	// Camper i heard the check-ins of those after it in its group, and
	// nothing else: its ping's reply comes right after them.
	for i, c := range cs {
		for j := i + 1; j < (i/4+1)*4; j++ {
			c.expectGroupEvent("JOINED", fmt.Sprintf("J%04d", j+1), i/4+1)
		}
	}
	// Everyone at once: one write each, then the replies.
	for _, c := range cs {
		c.send("PING CAMP/1.0\r\nId: " + c.name + "\r\n\r\n")
	}
	for _, c := range cs {
		if f := c.expectStatus(protocol.StatusOK); f.header("Id") != c.name {
			t.Fatalf("%s: ping reply %s", c.name, f)
		}
	}
	t.Logf("%d campers checked in and pinged in %s", n, time.Since(start).Round(time.Millisecond))
	// The ids in the range are all taken; one more connection still gets
	// a clean 409 for a taken id and 400 for one out of range.
	extra := dial(t, s.Addr())
	extra.do("checkin J0500\r\n", protocol.StatusConflict)
	extra.do("checkin J0501\r\n", protocol.StatusBadRequest)
}
