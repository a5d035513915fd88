package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// The tests in this file prove the server-life rules: slow consumers, idle
// connections and shutdown.

// TestSlowConsumer shows that a camper who stops reading is closed once its
// queued output passes MaxPending, that its group hears LEFT, and that the
// sender carries on.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) { cfg.MaxPending = 64 << 10 })
	a := &client{t: t, name: "J001", conn: dialSmallBuffer(t, s.Addr())}
	a.r = protocol.NewReader(a.conn, 0)
	a.checkin("J001")
	// From here on a reads nothing.

	b := dial(t, s.Addr())
	b.checkin("J002")
	b.do("peersession 1000000\r\n", protocol.StatusOK)
	b.expectGroupEvent("PEERSESSION", "J002", 1)

	text := strings.Repeat("x", 8<<10)
	msg := fmt.Sprintf("MESSAGE CAMP/1.0\r\nContent-Length: %d\r\n\r\n%s", len(text), text)
	const batch = 16
	sent := 0
	deadline := time.Now().Add(20 * time.Second)
	for left := false; !left; {
		if time.Now().After(deadline) {
			t.Fatalf("no LEFT J001 after %d messages of %d bytes", sent, len(text))
		}
		b.send(strings.Repeat(msg, batch))
		sent += batch
		for replies := 0; replies < batch; {
			f := b.next()
			if name, arg := f.event(); name != "" {
				if name != "LEFT" || arg != "J001" {
					t.Fatalf("J002: unexpected %s", f)
				}
				left = true
				continue
			}
			if f.status() != protocol.StatusOK {
				t.Fatalf("J002: message %d: %s", sent-batch+replies, f)
			}
			replies++
		}
	}
	t.Logf("J001 dropped after %d messages of %d bytes", sent, len(text))
	// b is unharmed: its session goes on and it can still ping.
	f := b.do(msg, protocol.StatusOK)
	if got := f.header("Remaining"); got != fmt.Sprint(1000000-sent-1) {
		t.Errorf("Remaining = %q, want %d", got, 1000000-sent-1)
	}
	b.ping()
	// J001 is checked out: its id is free.
	c := dial(t, s.Addr())
	c.checkin("J001")
	b.expectGroupEvent("JOINED", "J001", 1)
}

// TestIdle shows that a silent connection is closed after Idle, which
// checks it out, while a connection that keeps talking stays.
func TestIdle(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	s := startServer(t, func(cfg *server.Config) { cfg.Idle = idle })
	a := dial(t, s.Addr())
	a.checkin("J001")
	silentSince := time.Now()
	b := dial(t, s.Addr())
	b.checkin("J002")
	// b pings at a quarter of the idle time, so only a goes silent; each
	// ping's reply shows whether LEFT came first.
	tick := time.NewTicker(idle / 4)
	defer tick.Stop()
	deadline := time.Now().Add(waitFor)
	for left := false; !left; {
		<-tick.C
		if time.Now().After(deadline) {
			t.Fatal("J002 got no LEFT J001")
		}
		b.send("ping\r\n")
		for {
			f := b.next()
			if name, arg := f.event(); name != "" {
				if name != "LEFT" || arg != "J001" || f.header("Group") != "1" {
					t.Fatalf("J002: unexpected %s", f)
				}
				left = true
				continue
			}
			if f.status() != protocol.StatusOK {
				t.Fatalf("J002: ping: %s", f)
			}
			break
		}
	}
	if waited := time.Since(silentSince); waited < idle {
		t.Errorf("J001 closed after %s, before the idle time of %s", waited, idle)
	}
	a.expectEvent("JOINED", "J002")
	a.expectEOF()
	b.ping()
}

// TestShutdown shows that Shutdown sends SHUTDOWN to every connection,
// checked in or not, then closes them; that connections made while it
// drains get 503; and that it returns.
func TestShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cs := group(t, s.Addr(), 2)
	cs[0].do("peersession 5\r\n", protocol.StatusOK)
	for _, c := range cs {
		c.expectGroupEvent("PEERSESSION", "J001", 1)
	}
	anon := dial(t, s.Addr())
	anon.ping()
	cs = append(cs, anon)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	for _, c := range cs {
		f := c.expectEvent("SHUTDOWN", "")
		if f.Head != "" || f.Body != "" {
			t.Errorf("%s: SHUTDOWN with headers or body: %s", c.name, f)
		}
	}
	// The drain has begun and the clients are still connected: a new
	// connection is answered 503 and closed.
	late := dial(t, s.Addr())
	late.expectStatus(protocol.StatusServiceUnavailable)
	late.expectEOF()
	for _, c := range cs {
		c.expectEOF()
		if err := c.conn.Close(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Shutdown did not return after the clients left")
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Shutdown returned")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
	// Stopped: new connections are refused.
	if nc, err := net.DialTimeout("tcp", s.Addr(), waitFor); err == nil {
		_ = nc.Close()
		t.Errorf("dial after shutdown succeeded")
	}
}

// TestShutdownGrace shows that Shutdown is bounded by the grace period when
// a client never leaves.
func TestShutdownGrace(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	s := startServer(t, func(cfg *server.Config) { cfg.Grace = grace })
	c := dial(t, s.Addr())
	c.checkin("J001")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// gnet's Engine.Stop polls every 500ms on top of the grace period.
	if took := time.Since(start); took < grace || took > grace+2*time.Second {
		t.Errorf("Shutdown took %s, want about the grace period of %s", took, grace)
	}
	c.expectEvent("SHUTDOWN", "")
	f, err := c.read(waitFor)
	if err == nil {
		t.Fatalf("after SHUTDOWN: %s, want the connection closed", f)
	}
}
