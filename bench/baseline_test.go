package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/protocol"
)

// waitFor bounds every read a test makes.
const waitFor = 5 * time.Second

// testClient is one raw connection to a server under test.
type testClient struct {
	t  *testing.T
	c  net.Conn
	rd *protocol.Reader
}

func dialTest(t *testing.T, addr string) *testClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testClient{t: t, c: c, rd: protocol.NewReader(c, 0)}
}

func (tc *testClient) send(s string) {
	tc.t.Helper()
	if _, err := io.WriteString(tc.c, s); err != nil {
		tc.t.Fatal(err)
	}
}

// next returns the next frame's start line and body, "EOF" at the end.
func (tc *testClient) next() string {
	tc.t.Helper()
	tc.c.SetReadDeadline(time.Now().Add(waitFor))
	f, err := tc.rd.Next()
	if errors.Is(err, io.EOF) {
		return "EOF"
	}
	if err != nil {
		tc.t.Fatalf("read: %v", err)
	}
	s := string(f.Start)
	if len(f.Body) > 0 {
		s += " | " + string(f.Body)
	}
	return s
}

// expect reads frames and checks each starts with the wanted prefix.
func (tc *testClient) expect(want ...string) {
	tc.t.Helper()
	for _, w := range want {
		if got := tc.next(); !strings.HasPrefix(got, w) {
			tc.t.Fatalf("got %q, want %q...", got, w)
		}
	}
}

func startTestBaseline(t *testing.T, edit func(*BaselineConfig)) (*Baseline, string) {
	t.Helper()
	cfg := DefaultBaselineConfig()
	cfg.Linger = time.Second
	if edit != nil {
		edit(&cfg)
	}
	b, err := StartBaseline(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b, b.Addr()
}

// TestBaseline checks that the baseline server keeps the contract where it
// matters to the comparison: the same replies and events, and the same
// limits.
func TestBaseline(t *testing.T) {
	tests := []struct {
		name string
		edit func(*BaselineConfig)
		run  func(t *testing.T, addr string)
	}{
		{
			name: "check in, session, message, checkout",
			run: func(t *testing.T, addr string) {
				a, b := dialTest(t, addr), dialTest(t, addr)
				a.send("checkin J001\r\n")
				a.expect("CAMP/1.0 200 OK")
				b.send("CHECKIN J002 CAMP/1.0\r\nId: 7\r\n\r\n")
				b.expect("CAMP/1.0 200 OK")
				a.expect("JOINED J002 CAMP/1.0")
				a.send("peersession 2\r\n")
				a.expect("CAMP/1.0 200 OK", "PEERSESSION J001 CAMP/1.0")
				b.expect("PEERSESSION J001 CAMP/1.0")
				b.send("message hello all\r\n")
				b.expect("CAMP/1.0 200 OK")
				a.expect("MESSAGE J002 CAMP/1.0 | hello all")
				b.send("checkout\r\n")
				b.expect("CAMP/1.0 200 OK", "EOF")
				a.expect("LEFT J002 CAMP/1.0")
			},
		},
		{
			name: "a malformed frame gets 400 and the connection closes",
			run: func(t *testing.T, addr string) {
				a := dialTest(t, addr)
				a.send("MESSAGE CAMP/1.0\r\nContent-Length: x\r\n\r\nping\r\n")
				a.expect("CAMP/1.0 400 Bad Request", "EOF")
			},
		},
		{
			name: "past the connection cap, 503",
			edit: func(c *BaselineConfig) { c.MaxConns = 1 },
			run: func(t *testing.T, addr string) {
				a := dialTest(t, addr)
				a.send("ping\r\n")
				a.expect("CAMP/1.0 200 OK")
				dialTest(t, addr).expect("CAMP/1.0 503 Service Unavailable", "EOF")
			},
		},
		{
			name: "an idle connection is closed and checked out",
			edit: func(c *BaselineConfig) { c.Idle = 200 * time.Millisecond },
			run: func(t *testing.T, addr string) {
				a := dialTest(t, addr)
				a.send("checkin J001\r\n")
				a.expect("CAMP/1.0 200 OK", "EOF")
				// The id is free again: a was checked out.
				b := dialTest(t, addr)
				b.send("checkin J001\r\n")
				b.expect("CAMP/1.0 200 OK")
			},
		},
		{
			name: "a slow consumer is dropped and its group hears LEFT",
			edit: func(c *BaselineConfig) { c.MaxPending = 100 },
			run: func(t *testing.T, addr string) {
				a, b := dialTest(t, addr), dialTest(t, addr)
				a.send("checkin J001\r\n")
				a.expect("CAMP/1.0 200 OK")
				b.send("checkin J002\r\n")
				b.expect("CAMP/1.0 200 OK")
				a.expect("JOINED J002")
				a.send("peersession 5\r\n")
				a.expect("CAMP/1.0 200 OK", "PEERSESSION J001")
				b.expect("PEERSESSION J001")
				a.send("message " + strings.Repeat("x", 200) + "\r\n")
				a.expect("CAMP/1.0 200 OK", "LEFT J002")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startTestBaseline(t, tt.edit)
			tt.run(t, addr)
		})
	}
}

func TestBaselineShutdown(t *testing.T) {
	cfg := DefaultBaselineConfig()
	cfg.Linger = time.Second
	b, err := StartBaseline(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a := dialTest(t, b.Addr())
	a.send("checkin J001\r\n")
	a.expect("CAMP/1.0 200 OK")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	a.expect("SHUTDOWN CAMP/1.0", "EOF")
	if _, err := net.Dial("tcp", b.Addr()); err == nil {
		t.Errorf("dial after Shutdown succeeded")
	}
}
