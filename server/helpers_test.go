package server_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"campfire/internal/servertest"
	"campfire/protocol"
	"campfire/server"
)

// TestMain checks that no test leaves a goroutine behind. Every engine is
// shut down by its test.
func TestMain(m *testing.M) { servertest.VerifyMain(m) }

// waitFor bounds every read a test makes: a frame that never comes fails the
// test after this long instead of hanging it.
const waitFor = 5 * time.Second

// startServer starts a challenge service on a free loopback port with
// cfg's defaults changed by edit, and shuts it down when the test ends.
// loops runs the whole suite with that many event loops; make test runs it
// with 1 and with 2, the two ways the camp is reached.
var loops = flag.Int("loops", 1, "gnet event loops of the servers the tests start")

func startServer(t testing.TB, edit func(*server.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, func(cfg *server.Config) {
		cfg.Loops = *loops
		if edit != nil {
			edit(cfg)
		}
	})
}

// shutdown stops s and checks that it stopped cleanly.
func shutdown(t testing.TB, s *server.Server) {
	t.Helper()
	servertest.Stop(t, s)
}

// frame is a server frame copied out of the reader's buffer.
type frame struct {
	Start string
	Head  string
	Body  string
}

func (f frame) String() string {
	s := f.Start
	if f.Head != "" {
		s += " | " + strings.ReplaceAll(strings.TrimRight(f.Head, "\r\n"), "\r\n", " | ")
	}
	if f.Body != "" {
		s += fmt.Sprintf(" | body %q", f.Body)
	}
	return s
}

func (f frame) proto() *protocol.Frame {
	return &protocol.Frame{Start: []byte(f.Start), Full: true, Head: []byte(f.Head), Body: []byte(f.Body)}
}

// status is the frame's status code, 0 for an event.
func (f frame) status() int {
	code, ok := f.proto().Status()
	if !ok {
		return 0
	}
	return code
}

// event is the frame's event name and argument; name is "" for a response.
func (f frame) event() (name, arg string) {
	n, a, ok := f.proto().Event()
	if !ok {
		return "", ""
	}
	return string(n), string(a)
}

// header is the value of the named header, "" if absent.
func (f frame) header(name string) string { return string(f.proto().Header(name)) }

// client is a test's connection to a server.
type client struct {
	t    testing.TB
	name string
	conn *net.TCPConn
	r    *protocol.Reader
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	return dialFrom(t, nil, addr)
}

// dialFrom connects from local (nil: any) to addr.
func dialFrom(t testing.TB, local *net.TCPAddr, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: waitFor}
	if local != nil {
		d.LocalAddr = local
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &client{t: t, name: nc.LocalAddr().String(), conn: nc.(*net.TCPConn)}
	c.r = protocol.NewReader(c.conn, 0)
	t.Cleanup(func() { _ = c.conn.Close() })
	return c
}

// send writes s as it is.
func (c *client) send(s string) {
	c.t.Helper()
	if err := c.conn.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		c.t.Fatalf("%s: set write deadline: %v", c.name, err)
	}
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("%s: write %q: %v", c.name, trunc(s), err)
	}
}

// read returns the next frame or the error that ended the wait.
func (c *client) read(wait time.Duration) (frame, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return frame{}, err
	}
	f, err := c.r.Next()
	if err != nil {
		return frame{}, err
	}
	return frame{Start: string(f.Start), Head: string(f.Head), Body: string(f.Body)}, nil
}

// next returns the next frame, failing the test if none comes in time.
func (c *client) next() frame {
	c.t.Helper()
	f, err := c.read(waitFor)
	if err != nil {
		c.t.Fatalf("%s: reading a frame: %v", c.name, err)
	}
	return f
}

// expectStatus reads the next frame and checks that it is a response with
// status want.
func (c *client) expectStatus(want int) frame {
	c.t.Helper()
	f := c.next()
	if got := f.status(); got != want {
		c.t.Fatalf("%s: got %s, want status %d", c.name, f, want)
	}
	return f
}

// skipToStatus reads past any events to the next response and checks that
// its status is want.
func (c *client) skipToStatus(want int) frame {
	c.t.Helper()
	for {
		f := c.next()
		if name, _ := f.event(); name != "" {
			continue
		}
		if got := f.status(); got != want {
			c.t.Fatalf("%s: got %s, want status %d", c.name, f, want)
		}
		return f
	}
}

// expectEvent reads the next frame and checks that it is the event name
// with argument arg.
func (c *client) expectEvent(name, arg string) frame {
	c.t.Helper()
	f := c.next()
	if n, a := f.event(); n != name || a != arg {
		c.t.Fatalf("%s: got %s, want event %s %s", c.name, f, name, arg)
	}
	return f
}

// expectGroupEvent is expectEvent that also checks the Group header.
func (c *client) expectGroupEvent(name, arg string, group int) frame {
	c.t.Helper()
	f := c.expectEvent(name, arg)
	if got := f.header("Group"); got != fmt.Sprint(group) {
		c.t.Fatalf("%s: %s: Group %q, want %d", c.name, f, got, group)
	}
	return f
}

// do sends a request and expects its response with status want.
func (c *client) do(req string, want int) frame {
	c.t.Helper()
	c.send(req)
	return c.expectStatus(want)
}

// ping proves that nothing is queued before the response to a ping: any
// event still unread would arrive first and fail the test.
func (c *client) ping() {
	c.t.Helper()
	c.do("ping\r\n", protocol.StatusOK)
}

// checkin checks id in and returns its group number.
func (c *client) checkin(id string) int {
	c.t.Helper()
	c.name = id
	f := c.do("checkin "+id+"\r\n", protocol.StatusOK)
	var g int
	if _, err := fmt.Sscan(f.header("Group"), &g); err != nil || g < 1 {
		c.t.Fatalf("%s: checkin reply %s: no Group", id, f)
	}
	return g
}

// expectEOF checks that the server closed the connection gracefully: the
// next read ends in EOF, not a reset and not a frame.
func (c *client) expectEOF() {
	c.t.Helper()
	f, err := c.read(waitFor)
	switch {
	case err == nil:
		c.t.Fatalf("%s: got %s, want EOF", c.name, f)
	case errors.Is(err, syscall.ECONNRESET):
		c.t.Fatalf("%s: connection reset, want a graceful close: %v", c.name, err)
	case !errors.Is(err, io.EOF):
		c.t.Fatalf("%s: got %v, want EOF", c.name, err)
	}
}

// expectNothing checks that no byte arrives within wait. It is a bounded
// negative check, used only where no later signal can prove the absence.
func (c *client) expectNothing(wait time.Duration) {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatal(err)
	}
	var b [1]byte
	n, err := c.conn.Read(b[:])
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("%s: got %d bytes, err %v; want nothing within %s", c.name, n, err, wait)
	}
}

// readRaw reads exactly n raw bytes.
func (c *client) readRaw(n int) []byte {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		c.t.Fatal(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		c.t.Fatalf("%s: reading %d raw bytes: %v", c.name, n, err)
	}
	return b
}

// expectRawEOF checks that the raw stream ends gracefully with no more bytes.
func (c *client) expectRawEOF() {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		c.t.Fatal(err)
	}
	b, err := io.ReadAll(c.conn)
	if len(b) > 0 || err != nil {
		c.t.Fatalf("%s: got %d more bytes (%q), err %v; want EOF", c.name, len(b), trunc(string(b)), err)
	}
}

// id is the camp id number n in the default range.
func id(n int) string { return fmt.Sprintf("J%03d", n) }

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// lockedLog collects a child process's output: its pipes write it while
// the test reads it.
type lockedLog struct {
	mu  sync.Mutex
	out strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

// output is everything written so far.
func (l *lockedLog) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}
