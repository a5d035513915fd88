package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/protocol"
	"campfire/server"
)

// TestFrameTimeout: a frame that has begun and is not complete after the
// frame timeout gets 408 and the connection is closed, which checks the
// camper out, even when bytes keep trickling in (the connection is never
// idle).
func TestFrameTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) { cfg.FrameTimeout = 300 * time.Millisecond })
	cs := group(t, s.Addr(), 2)
	slow := cs[0]
	slow.send("mess")
	// Trickle a byte at a time; the 408 arrives while it does.
	stop := make(chan struct{})
	tricklerDone := make(chan struct{})
	go func() {
		defer close(tricklerDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := slow.conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	f := slow.expectStatus(protocol.StatusRequestTimeout)
	close(stop)
	<-tricklerDone
	if !strings.Contains(f.Body, "frame not complete") {
		t.Errorf("408 body %q", f.Body)
	}
	slow.expectEOF()
	cs[1].expectGroupEvent("LEFT", "J001", 1)

	// A connection between frames is not timed out: only idle would close it.
	cs[1].ping()
	cs[1].expectNothing(600 * time.Millisecond)
	cs[1].ping()
}

// TestMaxConnsPerIP: past the cap, a new connection from the same IP gets
// 503 and is closed; other IPs are not affected, and a slot freed by a
// close can be used again.
func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) { cfg.MaxConnsPerIP = 2 })
	one := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	a, b := dialFrom(t, one, s.Addr()), dialFrom(t, one, s.Addr())
	a.ping()
	b.ping()
	over := dialFrom(t, one, s.Addr())
	f := over.expectStatus(protocol.StatusServiceUnavailable)
	if !strings.Contains(f.Body, "too many connections") {
		t.Errorf("503 body %q", f.Body)
	}
	over.expectEOF()
	other := dialFrom(t, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, s.Addr())
	other.ping()

	_ = a.conn.Close()
	// The server counts a's slot free once it has seen the close: poll.
	deadline := time.Now().Add(waitFor)
	for {
		c := dialFrom(t, one, s.Addr())
		c.send("ping\r\n")
		f, err := c.read(waitFor)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if f.status() == protocol.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a close: %s", f)
		}
		_ = c.conn.Close()
	}
}

// TestOutputLimitFlood: a client that pipelines requests with big answers
// (help) and never reads is closed as a slow consumer, and meanwhile the
// server stops reading it, so its queued output stays within the limit
// plus one reply (checked from inside in TestOutputLimitHard).
func TestOutputLimitFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) {
		cfg.MaxPending = 64 << 10
		cfg.SlowTimeout = 300 * time.Millisecond
	})
	nc := dialSmallBuffer(t, s.Addr())
	flood := []byte(strings.Repeat("help\r\n", 10000))
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for err == nil {
		if time.Now().After(deadline) {
			t.Fatal("the server kept reading a client that never reads")
		}
		_ = nc.SetWriteDeadline(time.Now().Add(waitFor))
		_, err = nc.Write(flood)
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write ended with %v, want the connection closed by the server", err)
	}
	// Others are served as before.
	c := dial(t, s.Addr())
	c.ping()
}

// TestOutputLimitHard checks the hard output limit from inside: a client
// that floods help (a big answer to a small request) and never reads never
// has more than the limit plus one reply queued before it is closed, with
// one loop and with several (where replies are in flight between loops).
func TestOutputLimitHard(t *testing.T) {
	for _, tc := range []struct {
		loops int
		hold  bool
	}{{1, false}, {2, false}, {4, false}, {2, true}} {
		name := fmt.Sprintf("loops=%d", tc.loops)
		if tc.hold {
			name += ",hold=always"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(cfg *server.Config) {
				cfg.Loops = tc.loops
				cfg.MaxPending = 64 << 10
				cfg.SlowTimeout = 200 * time.Millisecond
				if tc.hold {
					server.HoldAlways(cfg)
				}
			})
			nc := dialSmallBuffer(t, s.Addr())
			flood := []byte(strings.Repeat("help\r\n", 10000))
			deadline := time.Now().Add(20 * time.Second)
			var err error
			for err == nil && time.Now().Before(deadline) {
				_ = nc.SetWriteDeadline(time.Now().Add(waitFor))
				_, err = nc.Write(flood)
			}
			if err == nil {
				t.Fatal("the server kept reading a client that never reads")
			}
			peak, err := server.PeakPending(s)
			if err != nil {
				t.Fatal(err)
			}
			if limit := 64<<10 + server.MaxReplySize(); peak > limit {
				t.Errorf("%d bytes were queued, want at most the limit plus one reply, %d", peak, limit)
			}
			if peak <= 32<<10 {
				t.Errorf("only %d bytes were ever queued: the flood did not reach the limit", peak)
			}
			t.Logf("peak queued output %d bytes, limit %d, longest reply %d", peak, 64<<10, server.MaxReplySize())
		})
	}
}

// dialSmallBuffer connects with a tiny receive buffer, so that the kernel
// does not absorb megabytes before the server has to queue.
func dialSmallBuffer(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: waitFor, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc.(*net.TCPConn)
}

// TestEchoNeverWritesFrames: the echo port closes a connection over its
// cap or while shutting down without writing anything, and its shutdown
// closes open connections at once instead of waiting for the grace period.
func TestEchoNeverWritesFrames(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.MaxConns = 1
	cfg.KeepOpen = true
	cfg.Grace = time.Minute // a shutdown that waited for it would fail below
	cfg.Loops = *loops
	s, err := server.StartEcho(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	held := dial(t, s.Addr())
	held.send("abcd")
	if got := string(held.readRaw(4)); got != "abcd" {
		t.Fatalf("echo %q", got)
	}
	over := dial(t, s.Addr())
	over.expectRawEOF()

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	held.expectRawEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(cfg.Grace / 2):
		t.Fatal("echo shutdown waited for the grace period")
	}
}

// TestRefusalIsGraceful: a connection refused at the cap whose client sent
// a request before the server accepted it still gets its 503 and a FIN,
// not a reset over the unread request. With the loop stopped, the request
// is in the socket before OnOpen runs.
func TestRefusalIsGraceful(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) {
		cfg.Loops = 1
		cfg.MaxConns = 1
	})
	a := dial(t, s.Addr())
	a.ping() // a holds the only slot, and loop 0 is registered
	release, err := server.BlockCampLoop(s)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	d := dial(t, s.Addr()) // the kernel completes the handshake
	d.send("ping\r\n")     // on loopback, in the server's socket on return
	release()
	if f := d.next(); f.status() != protocol.StatusServiceUnavailable {
		t.Fatalf("over the cap: got %s, want 503", f)
	}
	d.expectEOF()
	a.ping()
}
