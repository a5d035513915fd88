package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/internal/servertest"
	"campfire/protocol"
	"campfire/server"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) { servertest.VerifyMain(m) }

// protocolDoc is the reference whose examples TestProtocolExamples runs.
const protocolDoc = "docs/PROTOCOL.md"

// exampleWait bounds every read of an example: a reply that never comes
// fails the test instead of hanging it.
const exampleWait = 5 * time.Second

// An example in docs/PROTOCOL.md starts at a marker line
//
//	<!-- example: NAME [SETTING=VALUE ...] -->
//
// with settings max-campers, max-conns, max-conns-per-ip, max-body (ints),
// frame-timeout (a duration), ids (a range), proxy-protocol (a bool),
// proxy-trusted (CIDRs), service=echo (the echo service instead of CAMP)
// and keep-open (a bool, for the echo service),
//
// and runs against a server of its own, started with those settings. Its
// blocks are fenced code blocks whose info string is
//
//	camp-request CONN      bytes a client sends on connection CONN
//	camp-response CONN     bytes the server sends on CONN, exactly
//	camp-response CONN closed   the same, then the server closes CONN
//
//	camp-shutdown          the server is told to shut down (SIGTERM)
//
// A request or response block may end with the word raw: its lines are
// bytes with CR LF line ends, not frames (the echo service). Either may
// end with the word bytes: then {N N ...} in the block (decimal byte
// values, as in a telnet command {255 253 6}) stands for those bytes.
// They are put in after the frames have been delimited, so they belong in
// lines, never in a body.
//
// CONN names a connection; it is dialed when first named. Blocks are
// written as frames: every line ends with CRLF on the wire, except that a
// body is exactly Content-Length bytes of the block (its line ends kept as
// LF, as the server sends them) followed by the CRLF that ends every
// frame. A request line that does not end with CAMP/1.0 is a short-form
// request, one line. The value of an Active header varies and is compared
// as one digit, a dot and three digits. After its last block, every
// connection the server did not close is sent a ping and must answer with
// exactly its 200, so an example cannot leave unshown bytes behind.
type example struct {
	name   string
	line   int // of the marker, for messages
	cfg    server.Config
	echo   bool // the echo service, not CAMP
	blocks []block
}

// block is one camp-request or camp-response block.
type block struct {
	request bool
	conn    string
	closed  bool   // the server closes conn after this response
	bytes   bool   // {N N ...} in text are byte values
	raw     bool   // text is lines, not frames
	stop    bool   // a camp-shutdown block: no conn, no text
	text    string // as written, LF line ends
	line    int    // of the opening fence
}

var (
	markerRE = regexp.MustCompile(`^<!-- example: (\S+)((?: \S+=\S+)*) -->$`)
	bytesRE  = regexp.MustCompile(`\{(\d{1,3}(?: \d{1,3})*)\}`)
	activeRE = regexp.MustCompile(`Active: \d\.\d{3}\r\n`)
)

// parseExamples reads the examples of a markdown document.
func parseExamples(doc string) ([]example, error) {
	var examples []example
	sc := bufio.NewScanner(strings.NewReader(doc))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if m := markerRE.FindStringSubmatch(line); m != nil {
			cfg, echo, err := exampleConfig(strings.Fields(m[2]))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			examples = append(examples, example{name: m[1], line: n, cfg: cfg, echo: echo})
			continue
		}
		if strings.HasPrefix(line, "<!-- example") {
			return nil, fmt.Errorf("line %d: malformed example marker %q", n, line)
		}
		fence, ok := strings.CutPrefix(line, "```")
		if !ok || fence == "" {
			continue
		}
		info := strings.Fields(fence)
		var text strings.Builder
		start := n
		closed := false
		for sc.Scan() {
			n++
			if sc.Text() == "```" {
				closed = true
				break
			}
			text.WriteString(sc.Text() + "\n")
		}
		if !closed {
			return nil, fmt.Errorf("line %d: code block never closed", start)
		}
		var b block
		switch info[0] {
		case "camp-shutdown":
			if len(info) > 1 || text.Len() > 0 {
				return nil, fmt.Errorf("line %d: want an empty ```camp-shutdown block", start)
			}
			b = block{stop: true, line: start}
		case "camp-request", "camp-response":
			b = block{request: info[0] == "camp-request", text: text.String(), line: start}
			ok := len(info) >= 2
			for _, f := range info[min(2, len(info)):] {
				switch {
				case f == "bytes" && !b.bytes:
					b.bytes = true
				case f == "raw" && !b.raw:
					b.raw = true
				case f == "closed" && !b.closed && !b.request:
					b.closed = true
				default:
					ok = false
				}
			}
			if !ok {
				return nil, fmt.Errorf("line %d: want ```%s CONN%s [raw] [bytes]", start, info[0], map[bool]string{false: " [closed]", true: ""}[b.request])
			}
			b.conn = info[1]
		default:
			continue
		}
		if len(examples) == 0 {
			return nil, fmt.Errorf("line %d: %s block before any example marker", start, info[0])
		}
		ex := &examples[len(examples)-1]
		ex.blocks = append(ex.blocks, b)
	}
	return examples, sc.Err()
}

// exampleConfig is the server configuration of an example: the defaults,
// on a free loopback port, changed by settings such as max-campers=1.
// echo is true for service=echo.
func exampleConfig(settings []string) (cfg server.Config, echo bool, err error) {
	cfg = servertest.Config()
	for _, s := range settings {
		key, value, _ := strings.Cut(s, "=")
		switch key {
		case "max-campers":
			cfg.MaxCampers, err = strconv.Atoi(value)
		case "max-conns":
			cfg.MaxConns, err = strconv.Atoi(value)
		case "max-conns-per-ip":
			cfg.MaxConnsPerIP, err = strconv.Atoi(value)
		case "max-body":
			cfg.MaxBody, err = strconv.Atoi(value)
		case "frame-timeout":
			cfg.FrameTimeout, err = time.ParseDuration(value)
		case "ids":
			err = cfg.IDs.Set(value)
		case "proxy-protocol":
			cfg.ProxyProtocol, err = strconv.ParseBool(value)
		case "proxy-trusted":
			cfg.ProxyTrusted, err = server.ParsePrefixes(value)
		case "keep-open":
			cfg.KeepOpen, err = strconv.ParseBool(value)
		case "service":
			if echo = value == "echo"; !echo {
				err = fmt.Errorf("want echo")
			}
		default:
			return cfg, false, fmt.Errorf("unknown example setting %q", key)
		}
		if err != nil {
			return cfg, false, fmt.Errorf("example setting %s: %w", s, err)
		}
	}
	return cfg, echo, nil
}

// wire turns a block's text into the bytes on the wire, as the comment on
// example describes. A request body shorter than its Content-Length is
// sent as far as it goes (an example of a frame cut short).
func wire(text string, request bool) ([]byte, error) {
	if text == "" {
		return nil, nil
	}
	var out []byte
	rest := text
	line := func() (string, bool) {
		l, r, ok := strings.Cut(rest, "\n")
		if !ok {
			return "", false
		}
		rest = r
		return l, true
	}
	for rest != "" {
		start, _ := line()
		out = append(out, start+"\r\n"...)
		if request && !strings.HasSuffix(start, " "+protocol.Version) {
			continue // short form: the line is the request
		}
		length := -1
		for {
			h, ok := line()
			if !ok {
				return nil, fmt.Errorf("frame %q: no empty line after its headers", start)
			}
			out = append(out, h+"\r\n"...)
			if h == "" {
				break
			}
			if name, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(name, protocol.HeaderContentLength) {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("frame %q: %w", start, err)
				}
				length = n
			}
		}
		if length < 0 {
			continue
		}
		if length > len(rest) {
			if !request {
				return nil, fmt.Errorf("frame %q: body shorter than Content-Length %d", start, length)
			}
			return append(out, rest...), nil
		}
		out = append(out, rest[:length]...)
		rest = rest[length:]
		end, ok := line()
		if !ok || end != "" {
			return nil, fmt.Errorf("frame %q: body is not Content-Length %d bytes and a line end", start, length)
		}
		out = append(out, "\r\n"...)
	}
	return out, nil
}

// byteValues replaces every {N N ...} in b by those byte values.
func byteValues(b []byte) ([]byte, error) {
	var bad error
	out := bytesRE.ReplaceAllFunc(b, func(m []byte) []byte {
		var vals []byte
		for _, f := range strings.Fields(string(m[1 : len(m)-1])) {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				bad = fmt.Errorf("byte value %s in %s: %w", f, m, err)
			}
			vals = append(vals, byte(n))
		}
		return vals
	})
	return out, bad
}

// run plays an example against a server of its own.
func (ex *example) run(t *testing.T) {
	start := server.Start
	if ex.echo {
		start = server.StartEcho
	}
	s, err := start(ex.cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// stopped gets the result of Shutdown, called by a camp-shutdown block
	// or at the end.
	stopped := make(chan error, 1)
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}
	stopping := false
	defer func() {
		if !stopping {
			go shutdown()
		}
		if err := <-stopped; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	conns := map[string]*net.TCPConn{}
	var order []string
	isClosed := map[string]bool{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	conn := func(name string) *net.TCPConn {
		if c, ok := conns[name]; ok {
			return c
		}
		nc, err := net.DialTimeout("tcp", s.Addr(), exampleWait)
		if err != nil {
			t.Fatalf("dial %s: %v", name, err)
		}
		conns[name] = nc.(*net.TCPConn)
		order = append(order, name)
		return conns[name]
	}
	for _, b := range ex.blocks {
		if b.stop {
			stopping = true
			go shutdown()
			continue
		}
		data, err := []byte(strings.ReplaceAll(b.text, "\n", "\r\n")), error(nil)
		if !b.raw {
			data, err = wire(b.text, b.request)
		}
		if err == nil && b.bytes {
			data, err = byteValues(data)
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", protocolDoc, b.line, err)
		}
		c := conn(b.conn)
		if b.request {
			if _, err := c.Write(data); err != nil {
				t.Fatalf("%s:%d: write on %s: %v", protocolDoc, b.line, b.conn, err)
			}
			continue
		}
		got := readN(t, c, len(data))
		if mask(got) != mask(data) {
			t.Fatalf("%s:%d: connection %s got:\n%s\nthe document says:\n%s", protocolDoc, b.line, b.conn, show(got), show(data))
		}
		if b.closed {
			expectClosed(t, c, len(data) == 0, fmt.Sprintf("%s:%d: connection %s", protocolDoc, b.line, b.conn))
			isClosed[b.conn] = true
		}
	}
	ping, pong := []byte("ping\r\n"), []byte("CAMP/1.0 200 OK\r\n\r\n")
	if ex.echo {
		pong = ping
	}
	for _, name := range order {
		if isClosed[name] {
			continue
		}
		c := conns[name]
		if _, err := c.Write(ping); err != nil {
			t.Fatalf("after the example, ping on %s: %v", name, err)
		}
		switch got := readN(t, c, len(pong)); {
		case len(got) == 0:
			t.Fatalf("after the example, connection %s was closed by the server: mark its last response `closed`", name)
		case !bytes.Equal(got, pong):
			t.Fatalf("after the example, connection %s had more to say than the document shows:\n%s", name, show(got))
		}
	}
}

// readN reads n bytes, or what arrived before the connection ended or the
// wait ran out.
func readN(t *testing.T, c *net.TCPConn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(exampleWait))
	buf := make([]byte, n)
	k, err := io.ReadFull(c, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	return buf[:k]
}

// expectClosed checks that the server closed c with nothing more to say.
// A close after a reply must be graceful, or the reply could be lost; a
// connection refused with no reply at all (a PROXY header from outside
// the trusted proxies) may also be reset.
func expectClosed(t *testing.T, c *net.TCPConn, silent bool, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(exampleWait))
	rest, err := io.ReadAll(c)
	if silent && errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	if err != nil || len(rest) > 0 {
		t.Fatalf("%s: want the server to close it, got %q, %v", what, rest, err)
	}
}

// mask hides the value of Active headers, which depends on the clock.
func mask(b []byte) string { return activeRE.ReplaceAllString(string(b), "Active: 0.000\r\n") }

// show prints bytes for a failure message, with CR visible.
func show(b []byte) string { return strings.ReplaceAll(string(b), "\r", `\r`) }

func TestProtocolExamples(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	examples, err := parseExamples(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", protocolDoc, err)
	}
	// A reference whose examples stopped being recognised would pass
	// silently: insist on them.
	if len(examples) < 20 {
		t.Fatalf("%s has %d examples; the test expects at least 20", protocolDoc, len(examples))
	}
	seen := map[string]int{}
	for _, ex := range examples {
		if prev, ok := seen[ex.name]; ok {
			t.Errorf("%s:%d: example %q already used at line %d", protocolDoc, ex.line, ex.name, prev)
		}
		seen[ex.name] = ex.line
		if len(ex.blocks) == 0 {
			t.Errorf("%s:%d: example %q has no blocks", protocolDoc, ex.line, ex.name)
		}
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			ex.run(t)
		})
	}
}

func TestWire(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		request bool
		want    string
		wantErr bool
	}{
		{name: "short form", give: "checkin J001\nmission 4\n", request: true, want: "checkin J001\r\nmission 4\r\n"},
		{name: "full form", give: "PING CAMP/1.0\nId: 1\n\n", request: true, want: "PING CAMP/1.0\r\nId: 1\r\n\r\n"},
		{
			name: "body kept as written", give: "MESSAGE CAMP/1.0\nContent-Length: 9\n\ntwo\nlines\n", request: true,
			want: "MESSAGE CAMP/1.0\r\nContent-Length: 9\r\n\r\ntwo\nlines\r\n",
		},
		{
			name: "response", give: "CAMP/1.0 200 OK\nDay: 4\nContent-Length: 11\n\nHeap, Stack\nCAMP/1.0 200 OK\n\n",
			want: "CAMP/1.0 200 OK\r\nDay: 4\r\nContent-Length: 11\r\n\r\nHeap, Stack\r\nCAMP/1.0 200 OK\r\n\r\n",
		},
		{
			name: "request cut short", give: "MESSAGE CAMP/1.0\nContent-Length: 99\n\nhello\n", request: true,
			want: "MESSAGE CAMP/1.0\r\nContent-Length: 99\r\n\r\nhello\n",
		},
		{name: "response body too short", give: "CAMP/1.0 200 OK\nContent-Length: 99\n\nhello\n", wantErr: true},
		{name: "body longer than its length", give: "CAMP/1.0 200 OK\nContent-Length: 2\n\nhello\n", wantErr: true},
		{name: "no end of headers", give: "CAMP/1.0 200 OK\nGroup: 1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire(tt.give, tt.request)
			if (err != nil) != tt.wantErr {
				t.Fatalf("wire = %q, %v; want error %v", got, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("wire = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestByteValues(t *testing.T) {
	tests := []struct {
		give    string
		want    string
		wantErr bool
	}{
		{give: "ping\r\n", want: "ping\r\n"},
		{give: "mission 3{255 244}{255 253 6}", want: "mission 3\xff\xf4\xff\xfd\x06"},
		{give: "{255 250 24 1 255 240}x", want: "\xff\xfa\x18\x01\xff\xf0x"},
		{give: "{ 255}{255,1}", want: "{ 255}{255,1}"}, // not the notation: kept
		{give: "{256}", wantErr: true},
	}
	for _, tt := range tests {
		got, err := byteValues([]byte(tt.give))
		if (err != nil) != tt.wantErr || (!tt.wantErr && string(got) != tt.want) {
			t.Errorf("byteValues(%q) = %q, %v; want %q, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseExamples(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    []example
		wantErr string
	}{
		{
			name: "marker and blocks",
			give: "# x\n<!-- example: two max-campers=1 -->\ntext\n```camp-request a\nping\n```\n" +
				"```camp-response a closed\nCAMP/1.0 200 OK\n\n```\n```text\nignored\n```\n",
			want: []example{{name: "two", blocks: []block{
				{request: true, conn: "a", text: "ping\n"},
				{conn: "a", closed: true, text: "CAMP/1.0 200 OK\n\n"},
			}}},
		},
		{name: "block outside an example", give: "```camp-request a\nping\n```\n", wantErr: "before any example marker"},
		{name: "no connection", give: "<!-- example: x -->\n```camp-request\nping\n```\n", wantErr: "want ```camp-request CONN"},
		{name: "closed request", give: "<!-- example: x -->\n```camp-request a closed\nping\n```\n", wantErr: "want ```camp-request CONN"},
		{name: "unknown flag", give: "<!-- example: x -->\n```camp-response a open\nping\n```\n", wantErr: "want ```camp-response CONN [closed] [raw] [bytes]"},
		{name: "shutdown with text", give: "<!-- example: x -->\n```camp-shutdown\nnow\n```\n", wantErr: "want an empty ```camp-shutdown block"},
		{
			name: "bytes",
			give: "<!-- example: t -->\n```camp-request a bytes\nping{255 247}\n```\n```camp-response a closed bytes\n```\n",
			want: []example{{name: "t", blocks: []block{
				{request: true, conn: "a", bytes: true, text: "ping{255 247}\n"},
				{conn: "a", closed: true, bytes: true, text: ""},
			}}},
		},
		{name: "bad setting", give: "<!-- example: x loops=2 -->\n", wantErr: `unknown example setting "loops"`},
		{name: "bad marker", give: "<!-- example x -->\n", wantErr: "malformed example marker"},
		{name: "open block", give: "<!-- example: x -->\n```camp-request a\nping\n", wantErr: "never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExamples(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one holding %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d examples, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].name != tt.want[i].name || len(got[i].blocks) != len(tt.want[i].blocks) {
					t.Fatalf("example %d = %+v, want %+v", i, got[i], tt.want[i])
				}
				for j, b := range got[i].blocks {
					w := tt.want[i].blocks[j]
					if b.request != w.request || b.conn != w.conn || b.closed != w.closed || b.bytes != w.bytes || b.text != w.text {
						t.Errorf("block %d = %+v, want %+v", j, b, w)
					}
				}
			}
		})
	}
}

// outsidePathRE finds text that names a path outside the repository: a
// parent directory, or an absolute path into a home or work directory.
var outsidePathRE = regexp.MustCompile(`(^|[^\w.])\.\./|(^|[^\w.])/(work|home|root|Users)/|(^|[^\w])~/`)

// linkRE finds markdown link targets.
var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsStayInTheRepository fails when the README or a document under
// docs/ names a path outside the repository, which a clone does not have,
// or links to a file of the repository that does not exist.
func TestDocsStayInTheRepository(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	if len(docs) < 2 {
		t.Fatalf("found only %v; want the README and docs/PROTOCOL.md", docs)
	}
	for _, name := range docs {
		text, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			if outsidePathRE.MatchString(line) {
				t.Errorf("%s:%d names a path outside the repository: %s", name, i+1, line)
			}
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				path := filepath.Join(filepath.Dir(name), target)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d links to %s, which is not in the repository", name, i+1, m[1])
				}
			}
		}
	}
}

func TestOutsidePath(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"The contract is CAMP/1.0 (`../shared/PROTOCOL.md`)", true},
		{"see ../README.md", true},
		{"read /work/shared/PROTOCOL.md", true},
		{"in /home/me/campfire", true},
		{"`~/go/bin` holds it", true},
		{"see docs/PROTOCOL.md", false},
		{"samples /proc/PID/stat", false},
		{"`-addr 127.0.0.1:2022`, 1.0 ... 2.0", false},
		{"ranges ...", false},
	}
	for _, tt := range tests {
		if got := outsidePathRE.MatchString(tt.give); got != tt.want {
			t.Errorf("outsidePathRE.MatchString(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
