package server_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// The tests in this file prove the framing rules: the limits paragraph of
// PROTOCOL.md section 2, pipelining, requests split across writes and
// telnet-style input.

// sendAsync writes s from its own goroutine, for input the server may
// refuse to read before the test reads its reply. The returned channel
// reports the write's outcome.
func (c *client) sendAsync(s string) <-chan error {
	done := make(chan error, 1)
	if err := c.conn.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		done <- err
		return done
	}
	go func() {
		_, err := c.conn.Write([]byte(s))
		done <- err
	}()
	return done
}

// waitSent waits for a sendAsync to finish; the write deadline bounds it.
func waitSent(t *testing.T, done <-chan error) {
	t.Helper()
	if err := <-done; err != nil {
		t.Errorf("writing the input after the bad frame: %v", err)
	}
}

func TestFrameErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", protocol.MaxLine+1) // 4097 bytes, no line end
	manyHeaders := "PING CAMP/1.0\r\n" + strings.Repeat("X-A: b\r\n", protocol.MaxHeaders+1) + "\r\n"
	tests := []struct {
		name string
		give string // the bad part: the reply must come once it is sent
		want int
	}{
		{name: "bad header line", give: "PING CAMP/1.0\r\nno colon here\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "header with empty name", give: "PING CAMP/1.0\r\n: value\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "Content-Length not a number", give: "MESSAGE CAMP/1.0\r\nContent-Length: abc\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "Content-Length negative", give: "MESSAGE CAMP/1.0\r\nContent-Length: -1\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "Content-Length empty", give: "MESSAGE CAMP/1.0\r\nContent-Length:\r\n\r\n", want: protocol.StatusBadRequest},
		{name: "start line of 4097 bytes", give: long, want: protocol.StatusHeaderFieldsTooLarge},
		{name: "header line of 4097 bytes", give: "PING CAMP/1.0\r\nX: " + long[3:], want: protocol.StatusHeaderFieldsTooLarge},
		{name: "too many header lines", give: manyHeaders, want: protocol.StatusHeaderFieldsTooLarge},
		{name: "Content-Length over MaxBody", give: "MESSAGE CAMP/1.0\r\nContent-Length: 65537\r\n\r\n", want: protocol.StatusContentTooLarge},
		{name: "huge Content-Length", give: "MESSAGE CAMP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n", want: protocol.StatusContentTooLarge},
	}
	s := startServer(t, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			t.Run("alone", func(t *testing.T) {
				// Only the bad part is sent and the write side stays open:
				// the reply must not wait for more input or for a close.
				c := dial(t, s.Addr())
				c.send(tt.give)
				f := c.expectStatus(tt.want)
				if f.Body == "" {
					t.Errorf("%d without an explanation", tt.want)
				}
				c.expectEOF()
			})
			t.Run("with unread input after it", func(t *testing.T) {
				// The bad frame is followed by much more input than the
				// server reads; the reply must still arrive, then a clean
				// EOF, not a reset.
				c := dial(t, s.Addr())
				c.checkin(id(100 + i)) // a frame error also checks the camper out
				sent := c.sendAsync(tt.give + strings.Repeat("ping\r\nmore junk\r\n", 20000))
				// The subtests share the server, so others may join or
				// leave this camper's group first.
				c.skipToStatus(tt.want)
				c.expectEOF()
				waitSent(t, sent)
			})
		})
	}
}

// TestFrameErrorChecksOut shows that a frame error checks the camper out:
// the group hears LEFT and the id is free again.
func TestFrameErrorChecksOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cs := group(t, s.Addr(), 2)
	cs[1].send("PING CAMP/1.0\r\nbad\r\n\r\n")
	cs[1].expectStatus(protocol.StatusBadRequest)
	cs[1].expectEOF()
	cs[0].expectGroupEvent("LEFT", "J002", 1)
	c := dial(t, s.Addr())
	c.checkin("J002")
}

// TestLimitsAccepted shows the largest line and body that are accepted.
func TestLimitsAccepted(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) { cfg.MaxBody = 100 })
	cs := group(t, s.Addr(), 2)
	cs[0].do("peersession 10\r\n", protocol.StatusOK)
	for _, c := range cs {
		c.expectGroupEvent("PEERSESSION", "J001", 1)
	}
	tests := []struct {
		name     string
		give     string
		wantBody string
	}{
		{
			name:     "line of 4096 bytes with CRLF",
			give:     "message " + strings.Repeat("x", protocol.MaxLine-len("message ")) + "\r\n",
			wantBody: strings.Repeat("x", protocol.MaxLine-len("message ")),
		},
		{
			name:     "line of 4096 bytes with LF",
			give:     "message " + strings.Repeat("y", protocol.MaxLine-len("message ")) + "\n",
			wantBody: strings.Repeat("y", protocol.MaxLine-len("message ")),
		},
		{
			name:     "body of MaxBody bytes",
			give:     "MESSAGE CAMP/1.0\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("z", 100),
			wantBody: strings.Repeat("z", 100),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs[0].t, cs[1].t = t, t
			cs[0].do(tt.give, protocol.StatusOK)
			if f := cs[1].expectGroupEvent("MESSAGE", "J001", 1); f.Body != tt.wantBody {
				t.Errorf("body of %d bytes, want %d", len(f.Body), len(tt.wantBody))
			}
		})
	}
	cs[0].t = t
	cs[0].send("MESSAGE CAMP/1.0\r\nContent-Length: 101\r\n\r\n")
	cs[0].expectStatus(protocol.StatusContentTooLarge)
	cs[0].expectEOF()
}

func TestPipelined(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	const n = 200
	var b strings.Builder
	b.WriteString("checkin J001\r\npeersession 1000\r\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "PING CAMP/1.0\r\nId: p%d\r\n\r\n", i)
		case 1:
			fmt.Fprintf(&b, "MISSION %d CAMP/1.0\r\nId: p%d\r\n\r\n", i%20, i)
		case 2:
			fmt.Fprintf(&b, "MESSAGE CAMP/1.0\r\nId: p%d\r\nContent-Length: 3\r\n\r\n%03d", i, i)
		case 3:
			fmt.Fprintf(&b, "DANCE CAMP/1.0\r\nId: p%d\r\n\r\n", i)
		}
	}
	c.send(b.String())
	c.expectStatus(protocol.StatusOK)
	c.expectStatus(protocol.StatusOK)
	c.expectGroupEvent("PEERSESSION", "J001", 1)
	remaining := 1000
	for i := range n {
		f := c.next()
		if got := f.header("Id"); got != fmt.Sprintf("p%d", i) {
			t.Fatalf("response %d: %s, want Id p%d", i, f, i)
		}
		want := protocol.StatusOK
		switch i % 4 {
		case 1:
			if i%20 == 5 {
				want = protocol.StatusNotFound
			}
		case 2:
			remaining--
			if got := f.header("Remaining"); got != fmt.Sprint(remaining) {
				t.Errorf("response %d: Remaining %q, want %d", i, got, remaining)
			}
		case 3:
			want = protocol.StatusNotImplemented
		}
		if got := f.status(); got != want {
			t.Fatalf("response %d: %s, want status %d", i, f, want)
		}
	}
	c.ping()
}

// TestSplit sends requests one byte per write (TCP_NODELAY is Go's default)
// and expects each to be answered once, correctly.
func TestSplit(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cs := group(t, s.Addr(), 2)
	a, b := cs[0], cs[1]
	a.do("peersession 5\r\n", protocol.StatusOK)
	for _, c := range cs {
		c.expectGroupEvent("PEERSESSION", "J001", 1)
	}
	body := "split\r\nacross\nwrites"
	tests := []struct {
		name   string
		give   string
		want   int
		wantID string
	}{
		{name: "short form", give: "\r\nmission day4\r\n", want: protocol.StatusOK},
		{name: "full form", give: "MISSION 4 CAMP/1.0\r\nId: s1\r\n\r\n", want: protocol.StatusOK, wantID: "s1"},
		{
			name:   "full form with body",
			give:   fmt.Sprintf("MESSAGE CAMP/1.0\r\nId: s2\r\nContent-Length: %d\r\n\r\n%s", len(body), body),
			want:   protocol.StatusOK,
			wantID: "s2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t, b.t = t, t
			for i := range len(tt.give) {
				a.send(tt.give[i : i+1])
			}
			f := a.expectStatus(tt.want)
			if got := f.header("Id"); got != tt.wantID {
				t.Errorf("Id = %q, want %q", got, tt.wantID)
			}
			// Answered once: the next frame is the ping's.
			a.ping()
		})
	}
	a.t, b.t = t, t
	if f := b.expectGroupEvent("MESSAGE", "J001", 1); f.Body != body {
		t.Errorf("split body %q, want %q", f.Body, body)
	}
	b.ping()
}

// TestTelnet types the way a person does: CRLF short form, blank lines, any
// case, LF-only lines and stray spaces.
func TestTelnet(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dial(t, s.Addr())
	lines := []struct {
		give     string
		want     int
		wantBody string
	}{
		{give: "\r\n\r\n   \r\nping\r\n", want: protocol.StatusOK},
		{give: "CheckIn j007\r\n", want: protocol.StatusOK},
		{give: "\r\nMISSION Day4\r\n", want: protocol.StatusOK, wantBody: "Heap, Stack"},
		{give: "  mission   2  \n", want: protocol.StatusOK, wantBody: "Linux, Shell"},
		{give: "\t\r\nPeerSession 2\r\n", want: protocol.StatusOK},
	}
	for _, l := range lines {
		f := c.do(l.give, l.want)
		if f.Body != l.wantBody {
			t.Errorf("%q: body %q, want %q", l.give, f.Body, l.wantBody)
		}
	}
	c.expectGroupEvent("PEERSESSION", "J007", 1)
	f := c.do("CHECKOUT\r\n", protocol.StatusOK)
	if f.header("Active") == "" {
		t.Errorf("checkout without Active: %s", f)
	}
	c.expectEOF()
}

// TestGarbage feeds connections random bytes, and random bytes that look
// like frames, while a camper in a session keeps working: the server must
// answer or close each of them without disturbing the camper.
func TestGarbage(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	watch := group(t, s.Addr(), 2)
	watch[0].do("peersession 1000\r\n", protocol.StatusOK)
	for _, c := range watch {
		c.expectGroupEvent("PEERSESSION", "J001", 1)
	}
	pieces := []string{
		"CAMP/1.0", " ", "\r\n", "\n", "\r", ":", "Content-Length: ", "Id: ", "9", "0", "-",
		"checkin ", "J0", "message ", "peersession ", "direct ", "\x00", "\xff", "day", "=",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		var b strings.Builder
		for b.Len() < 2000+rng.IntN(6000) {
			if rng.IntN(3) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		c := dial(t, s.Addr())
		c.send(b.String())
		if err := c.conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		// Whatever the server answered, it must end the connection.
		if err := c.conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, c.conn); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("garbage connection %d still open after its input ended", i)
		}
		f := watch[0].do("message still here\r\n", protocol.StatusOK)
		if got := f.header("Remaining"); got != fmt.Sprint(1000-i-1) {
			t.Fatalf("Remaining = %q, want %d", got, 1000-i-1)
		}
	}
	// The watcher heard its peer's every message and nothing else. A
	// garbage connection may have checked someone into group 1 by chance,
	// so events other than MESSAGE are skipped.
	for got := 0; got < 40; {
		f := watch[1].next()
		if name, arg := f.event(); name == "MESSAGE" {
			if arg != "J001" || f.Body != "still here" {
				t.Fatalf("J002: %s", f)
			}
			got++
		}
	}
	watch[1].send("ping\r\n")
	watch[1].skipToStatus(protocol.StatusOK)
}
