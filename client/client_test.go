package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/internal/servertest"
	"campfire/protocol"
	"campfire/server"
)

func TestMain(m *testing.M) { servertest.VerifyMain(m) }

// waitLimit bounds every wait in these tests.
const waitLimit = 5 * time.Second

// startServer runs the real server on a random loopback port until the
// test ends.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	return servertest.Start(t, nil)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to addr until the test ends.
func dial(t *testing.T, addr string, opts ...Option) *Client {
	t.Helper()
	c, err := Dial(testContext(t), addr, opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// camper dials and checks in as id.
func camper(t *testing.T, addr, id string) *Client {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Checkin(testContext(t), id); err != nil {
		t.Fatalf("checkin %s: %v", id, err)
	}
	return c
}

// nextEvent waits for c's next event.
func nextEvent(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed: %v", c.Err())
		}
		return ev
	case <-time.After(waitLimit):
		t.Fatalf("no event within %s", waitLimit)
	}
	return Event{}
}

// expectEvents checks c's next events.
func expectEvents(t *testing.T, c *Client, want ...Event) {
	t.Helper()
	for _, w := range want {
		if got := nextEvent(t, c); got != w {
			t.Fatalf("event = %+v, want %+v", got, w)
		}
	}
}

func TestRequests(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	a := dial(t, s.Addr())
	beforeCheckin := time.Now()

	tests := []struct {
		name string
		give func() (string, error)
		want string
	}{
		{"ping before checkin", func() (string, error) { return "", a.Ping(ctx) }, ""},
		{"help", func() (string, error) { return a.Help(ctx) }, protocol.Help},
		{"checkin", func() (string, error) {
			g, err := a.Checkin(ctx, "j004")
			return fmt.Sprint(g), err
		}, "1"},
		{"mission", func() (string, error) { return a.Mission(ctx, 4) }, "Heap, Stack"},
		{"mission 19", func() (string, error) { return a.Mission(ctx, 19) }, "Network, Server"},
		{"peersession", func() (string, error) { return "", a.PeerSession(ctx, 3) }, ""},
		{"message", func() (string, error) {
			n, err := a.Message(ctx, "hi\r\nall: CAMP/1.0\n")
			return fmt.Sprint(n), err
		}, "2"},
		{"complete", func() (string, error) { return "", a.Complete(ctx) }, ""},
		{"direct to self", func() (string, error) { return "", a.Direct(ctx, "J004", "note\nto self") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.give()
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	expectEvents(t, a,
		Event{Kind: PeerSession, From: "J004", Group: 1, MaxCount: 3},
		Event{Kind: Complete, From: "J004", Group: 1, Reason: protocol.ReasonHost},
		Event{Kind: Direct, From: "J004", Text: "note\nto self"},
	)

	t.Run("checkout", func(t *testing.T) {
		active, err := a.Checkout(ctx)
		if err != nil {
			t.Fatalf("checkout: %v", err)
		}
		// The server truncates Active to the millisecond, so a quick run
		// may see 0; it can never exceed what the test itself measured.
		if limit := time.Since(beforeCheckin) + time.Millisecond; active < 0 || active > limit {
			t.Errorf("active = %v, want between 0 and %v", active, limit)
		}
		if err := a.Ping(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("ping after checkout: err = %v, want ErrClosed", err)
		}
		if _, ok := <-a.Events(); ok {
			t.Errorf("events still open after checkout")
		}
	})
}

func TestStatusErrors(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	fresh := dial(t, s.Addr())
	host := camper(t, s.Addr(), "J001")
	guest := camper(t, s.Addr(), "J002")
	if err := host.PeerSession(ctx, 5); err != nil {
		t.Fatalf("peersession: %v", err)
	}

	tests := []struct {
		name string
		give func() error
		want int
	}{
		{"mission before checkin", func() error { _, err := fresh.Mission(ctx, 4); return err }, 401},
		{"id out of range", func() error { _, err := fresh.Checkin(ctx, "J999"); return err }, 400},
		{"id taken", func() error { _, err := fresh.Checkin(ctx, "j001"); return err }, 409},
		{"checked in twice", func() error { _, err := guest.Checkin(ctx, "J003"); return err }, 409},
		{"no mission on day 5", func() error { _, err := guest.Mission(ctx, 5); return err }, 404},
		{"no mission on day 0", func() error { _, err := guest.Mission(ctx, 0); return err }, 404},
		{"peersession 0", func() error { return guest.PeerSession(ctx, 0) }, 400},
		{"second session", func() error { return guest.PeerSession(ctx, 2) }, 409},
		{"complete by a guest", func() error { return guest.Complete(ctx) }, 403},
		{"empty message", func() error { _, err := guest.Message(ctx, ""); return err }, 400},
		{"direct to nobody", func() error { return guest.Direct(ctx, "J300", "hi") }, 404},
		{"direct to a bad id", func() error { return guest.Direct(ctx, "X1", "hi") }, 400},
		{"unknown request", func() error { _, err := guest.do(ctx, 0, "", nil); return err }, 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give()
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *StatusError", err)
			}
			if se.Code != tt.want || se.Reason != protocol.Reason(tt.want) || se.Message == "" {
				t.Errorf("err = %+v, want code %d, reason %q and an explanation", se, tt.want, protocol.Reason(tt.want))
			}
			if StatusCode(err) != tt.want {
				t.Errorf("StatusCode = %d, want %d", StatusCode(err), tt.want)
			}
		})
	}
	t.Run("no session after complete", func(t *testing.T) {
		if err := host.Complete(ctx); err != nil {
			t.Fatalf("complete: %v", err)
		}
		if err := host.Complete(ctx); StatusCode(err) != 409 {
			t.Errorf("second complete: err = %v, want 409", err)
		}
		if _, err := guest.Message(ctx, "anyone?"); StatusCode(err) != 409 {
			t.Errorf("message without a session: err = %v, want 409", err)
		}
	})
}

func TestLocalIDChecks(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	c := dial(t, s.Addr(), WithIDs(protocol.DefaultIDs()))
	tests := []struct {
		name string
		give string
	}{
		{"empty", ""},
		{"space", "J0 01"},
		{"newline", "J001\r\nPING"},
		{"out of range", "J385"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Checkin(ctx, tt.give); !errors.Is(err, protocol.ErrBadArgs) {
				t.Errorf("checkin %q: err = %v, want ErrBadArgs", tt.give, err)
			}
		})
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping after local errors: %v", err)
	}
}

func TestEvents(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	a := camper(t, s.Addr(), "J001")
	b := camper(t, s.Addr(), "J002")
	expectEvents(t, a, Event{Kind: Joined, From: "J002", Group: 1})

	// A session that ends by its limit, with a multi-line message.
	if err := a.PeerSession(ctx, 2); err != nil {
		t.Fatalf("peersession: %v", err)
	}
	started := Event{Kind: PeerSession, From: "J001", Group: 1, MaxCount: 2}
	expectEvents(t, a, started)
	expectEvents(t, b, started)
	if _, err := b.Message(ctx, "line one\nline two"); err != nil {
		t.Fatalf("message: %v", err)
	}
	expectEvents(t, a, Event{Kind: Message, From: "J002", Group: 1, Text: "line one\nline two"})
	if n, err := a.Message(ctx, "last"); err != nil || n != 0 {
		t.Fatalf("message = %d, %v; want 0, nil", n, err)
	}
	limit := Event{Kind: Complete, From: "J001", Group: 1, Reason: protocol.ReasonLimit}
	expectEvents(t, b, Event{Kind: Message, From: "J001", Group: 1, Text: "last"}, limit)
	expectEvents(t, a, limit)

	// Across groups: a fifth camper lands in group 2.
	for _, id := range []string{"J003", "J004"} {
		camper(t, s.Addr(), id)
	}
	e := camper(t, s.Addr(), "J005")
	if err := e.Direct(ctx, "j001", "psst"); err != nil {
		t.Fatalf("direct: %v", err)
	}
	expectEvents(t, a,
		Event{Kind: Joined, From: "J003", Group: 1},
		Event{Kind: Joined, From: "J004", Group: 1},
		Event{Kind: Direct, From: "J005", Text: "psst"},
	)

	// A session whose host leaves.
	if err := b.PeerSession(ctx, 10); err != nil {
		t.Fatalf("peersession: %v", err)
	}
	expectEvents(t, a, Event{Kind: PeerSession, From: "J002", Group: 1, MaxCount: 10})
	if _, err := b.Checkout(ctx); err != nil {
		t.Fatalf("checkout: %v", err)
	}
	expectEvents(t, a,
		Event{Kind: Complete, From: "J002", Group: 1, Reason: protocol.ReasonHostLeft},
		Event{Kind: Left, From: "J002", Group: 1},
	)
	if a.Dropped() != 0 {
		t.Errorf("dropped %d events", a.Dropped())
	}
}

func TestEventsDroppedWhenNotRead(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	a := dial(t, s.Addr(), WithEventBuffer(2))
	if _, err := a.Checkin(ctx, "J001"); err != nil {
		t.Fatal(err)
	}
	b := camper(t, s.Addr(), "J002")
	const sent = 5
	for i := range sent {
		if err := b.Direct(ctx, "J001", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The ping's reply comes after every direct reached a: by then each
	// event was either queued or counted.
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("ping with a full event buffer: %v", err)
	}
	// JOINED J002 came first.
	if got := len(a.Events()) + int(a.Dropped()); got != sent+1 || a.Dropped() == 0 {
		t.Errorf("queued %d + dropped %d, want %d in all with some dropped", len(a.Events()), a.Dropped(), sent+1)
	}
}

func TestPipelining(t *testing.T) {
	s := startServer(t)
	ctx := testContext(t)
	c := camper(t, s.Addr(), "J001")
	want := map[int]string{1: "IDE, node", 4: "Heap, Stack", 9: "Process, Thread", 14: "HTTP, Request"}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 20 {
		wg.Go(func() {
			for i := range 25 {
				day := []int{1, 4, 9, 14, 5}[(g+i)%5]
				kw, err := c.Mission(ctx, day)
				if day == 5 {
					if StatusCode(err) != 404 {
						errs <- fmt.Errorf("day 5: err = %v", err)
					}
					continue
				}
				if err != nil || kw != want[day] {
					errs <- fmt.Errorf("day %d: %q, %v", day, kw, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestServerShutdown(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s, err := server.Start(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	c := camper(t, s.Addr(), "J001")
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	expectEvents(t, c, Event{Kind: Shutdown})
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("event after SHUTDOWN: %+v", ev)
		}
	case <-time.After(waitLimit):
		t.Fatal("events not closed after SHUTDOWN")
	}
	err = c.Ping(ctx)
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrShutdown) {
		t.Errorf("ping after shutdown: err = %v, want ErrClosed and ErrShutdown", err)
	}
	if !errors.Is(c.Err(), ErrShutdown) {
		t.Errorf("Err = %v, want ErrShutdown", c.Err())
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(testContext(t), addr); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

// fakeServer accepts one connection and hands it to the test, which plays
// the server by hand.
type fakeServer struct {
	conn net.Conn
	in   *bufio.Reader
}

func startFake(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := dial(t, ln.Addr().String())
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return c, &fakeServer{conn: conn, in: bufio.NewReader(conn)}
}

// request reads one request frame and returns its start line and Id.
func (f *fakeServer) request(t *testing.T) (start, id string) {
	t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		line, err := f.in.ReadString('\n')
		if err != nil {
			t.Fatalf("fake server read: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			return start, id
		case start == "":
			start = line
		default:
			if v, ok := strings.CutPrefix(line, "Id: "); ok {
				id = v
			}
		}
	}
}

func (f *fakeServer) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(f.conn, s); err != nil {
		t.Fatalf("fake server write: %v", err)
	}
}

func TestCanceledCallDiscardsItsResponse(t *testing.T) {
	c, f := startFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := c.Mission(ctx, 4); errc <- err }()
	_, first := f.request(t)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled mission: err = %v, want context.Canceled", err)
	}

	go func() { _, err := c.Mission(testContext(t), 6); errc <- err }()
	_, second := f.request(t)
	f.send(t, "CAMP/1.0 200 OK\r\nId: "+first+"\r\nContent-Length: 11\r\n\r\nHeap, Stack\r\n")
	f.send(t, "CAMP/1.0 404 Not Found\r\nId: "+second+"\r\nContent-Length: 6\r\n\r\nno day\r\n")
	err := <-errc
	if StatusCode(err) != 404 {
		t.Errorf("second mission: err = %v, want its own 404, not the canceled call's reply", err)
	}

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if err := c.Ping(done); !errors.Is(err, context.Canceled) {
		t.Errorf("ping with a canceled context: err = %v", err)
	}
}

func TestConnectionEnds(t *testing.T) {
	tests := []struct {
		name  string
		reply string // what the fake server sends before closing
		want  error
		code  int
	}{
		{"eof", "", io.EOF, 0},
		{"eof inside a frame", "CAMP/1.0 200 OK\r\nId: 1\r\n", io.ErrUnexpectedEOF, 0},
		{"503 then close", "CAMP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nfull\r\n", nil, 503},
		{"wrong id", "CAMP/1.0 200 OK\r\nId: 99\r\n\r\n", ErrProtocol, 0},
		{"garbage", "hello there\r\n", protocol.ErrMalformed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := startFake(t)
			errc := make(chan error, 2)
			ctx := testContext(t)
			go func() { errc <- c.Ping(ctx) }()
			go func() { _, err := c.Mission(ctx, 4); errc <- err }()
			f.request(t)
			f.request(t)
			f.send(t, tt.reply)
			f.conn.Close()
			for range 2 {
				err := <-errc
				if !errors.Is(err, ErrClosed) {
					t.Errorf("pending call: err = %v, want ErrClosed", err)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("pending call: err = %v, want %v", err, tt.want)
				}
				if StatusCode(err) != tt.code {
					t.Errorf("StatusCode = %d, want %d", StatusCode(err), tt.code)
				}
			}
			if err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("later call: err = %v, want ErrClosed", err)
			}
			if _, ok := <-c.Events(); ok {
				t.Error("events open after the connection ended")
			}
		})
	}
}
