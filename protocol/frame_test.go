package protocol_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"campfire/protocol"
)

// frame is a Frame copied out of the parser's buffer, so that tests can
// keep and compare it.
type frame struct {
	Start string
	Full  bool
	Head  string
	Body  string
}

// String shows a frame in test failures, long parts cut short.
func (f frame) String() string {
	return fmt.Sprintf("{Start %.80q Full %v Head %.80q Body %.80q}", f.Start, f.Full, f.Head, f.Body)
}

func copyFrame(f *protocol.Frame) frame {
	return frame{Start: string(f.Start), Full: f.Full, Head: string(f.Head), Body: string(f.Body)}
}

// step is one call to Parse that consumed bytes, with the telnet answers it
// queued.
type step struct {
	N     int
	OK    bool
	Reply string
}

// parseAll calls p.Parse on buf until it needs more or fails. It returns the
// frames found, every call that consumed bytes, how many bytes were left
// unconsumed and the error, if any. It takes the telnet answers after every
// call, and checks that only a call consuming telnet bytes queues one.
func parseAll(t testing.TB, p *protocol.Parser, buf []byte) (frames []frame, steps []step, rest []byte, err error) {
	t.Helper()
	for {
		var f protocol.Frame
		n, ok, err := p.Parse(buf, &f)
		if n < 0 || n > len(buf) {
			t.Fatalf("Parse returned n = %d for %d bytes", n, len(buf))
		}
		reply := string(p.AppendTelnetReply(nil))
		if err != nil {
			if n != 0 || ok {
				t.Fatalf("Parse returned n = %d, ok = %v with error %v", n, ok, err)
			}
			return frames, steps, buf, err
		}
		if reply != "" && (n == 0 || ok) {
			t.Fatalf("Parse returned n = %d, ok = %v and queued telnet answer %q", n, ok, reply)
		}
		if n == 0 {
			if ok {
				t.Fatalf("Parse returned ok with n = 0")
			}
			return frames, steps, buf, nil
		}
		steps = append(steps, step{n, ok, reply})
		if ok {
			r := f.Request()
			// A request whose lines held telnet commands is copied
			// into the parser's buffer; its body never is.
			for _, s := range [][]byte{f.Start, f.Head, r.Name, r.Args, r.ID} {
				if !within(s, buf[:n]) && !protocol.InParser(p, s) {
					t.Fatalf("frame slice %q lies outside the %d bytes consumed and the parser's buffer", s, n)
				}
			}
			for _, s := range [][]byte{f.Body, r.Body} {
				if !within(s, buf[:n]) {
					t.Fatalf("body %q lies outside the %d bytes consumed", s, n)
				}
			}
			frames = append(frames, copyFrame(&f))
		}
		buf = buf[n:]
	}
}

// within reports whether s lies inside buf (sharing its memory), which it
// must for a parser that slices frames out of the caller's buffer.
func within(s, buf []byte) bool {
	if len(s) == 0 {
		return true
	}
	off := cap(buf) - cap(s)
	return off >= 0 && off+len(s) <= len(buf) && &buf[off] == &s[0]
}

func TestParse(t *testing.T) {
	long := func(prefix string, n int) string { return prefix + strings.Repeat("a", n-len(prefix)) }
	tests := []struct {
		name      string
		responses bool
		maxBody   int
		give      string
		want      []frame
		wantRest  string // bytes left for a later call
		wantErr   error
	}{
		{
			name: "short form CRLF",
			give: "checkin J004\r\n",
			want: []frame{{Start: "checkin J004"}},
		},
		{
			name: "short form bare LF",
			give: "checkin J004\n",
			want: []frame{{Start: "checkin J004"}},
		},
		{
			name: "short form ignores following header-like lines",
			give: "ping\r\nId: 1\r\n",
			want: []frame{{Start: "ping"}, {Start: "Id: 1"}},
		},
		{
			name: "only one CR before LF is dropped",
			give: "ping\r\r\n",
			want: []frame{{Start: "ping\r"}},
		},
		{
			name: "CR without LF does not end a line",
			give: "ping\rpong\r\n",
			want: []frame{{Start: "ping\rpong"}},
		},
		{
			name:     "incomplete line waits",
			give:     "checkin J0",
			wantRest: "checkin J0",
		},
		{
			name:     "trailing CR waits for LF",
			give:     "ping\r",
			wantRest: "ping\r",
		},
		{
			name: "full form without headers",
			give: "CHECKIN J004 CAMP/1.0\r\n\r\n",
			want: []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true}},
		},
		{
			name: "full form with tab before version",
			give: "ping\tCAMP/1.0\n\n",
			want: []frame{{Start: "ping\tCAMP/1.0", Full: true}},
		},
		{
			name: "full form with headers",
			give: "CHECKIN J004 CAMP/1.0\r\nId: 17\r\nX-Other:  y \r\n\r\n",
			want: []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\nX-Other:  y \r\n"}},
		},
		{
			name: "full form bare LF",
			give: "CHECKIN J004 CAMP/1.0\nId: 17\n\n",
			want: []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\n"}},
		},
		{
			name: "full form mixed line ends",
			give: "CHECKIN J004 CAMP/1.0\nId: 17\r\n\n",
			want: []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\n"}},
		},
		{
			name:     "full form waits for the empty line",
			give:     "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n",
			wantRest: "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n",
		},
		{
			name: "body of Content-Length bytes",
			give: "MESSAGE CAMP/1.0\r\nContent-Length: 9\r\n\r\nhello all",
			want: []frame{{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 9\r\n", Body: "hello all"}},
		},
		{
			name: "body holding CR, LF and the version token",
			give: "MESSAGE CAMP/1.0\r\nContent-Length: 22\r\n\r\na\r\nb\nping CAMP/1.0\r\n\r\n",
			want: []frame{{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 22\r\n", Body: "a\r\nb\nping CAMP/1.0\r\n\r\n"}},
		},
		{
			name: "header names are case-insensitive",
			give: "MESSAGE CAMP/1.0\r\ncontent-LENGTH:3\r\n\r\nabcping\n",
			want: []frame{
				{Start: "MESSAGE CAMP/1.0", Full: true, Head: "content-LENGTH:3\r\n", Body: "abc"},
				{Start: "ping"},
			},
		},
		{
			name: "Content-Length value is trimmed",
			give: "MESSAGE CAMP/1.0\r\nContent-Length: \t 2 \t\r\n\r\nab",
			want: []frame{{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: \t 2 \t\r\n", Body: "ab"}},
		},
		{
			name: "Content-Length zero means no body",
			give: "MESSAGE CAMP/1.0\r\nContent-Length: 0\r\n\r\nping\r\n",
			want: []frame{
				{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 0\r\n"},
				{Start: "ping"},
			},
		},
		{
			name: "no Content-Length means no body",
			give: "MESSAGE CAMP/1.0\r\nId: 1\r\n\r\nhello\r\n",
			want: []frame{
				{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Id: 1\r\n"},
				{Start: "hello"},
			},
		},
		{
			name:     "body waits for every byte",
			give:     "MESSAGE CAMP/1.0\r\nContent-Length: 9\r\n\r\nhello al",
			wantRest: "MESSAGE CAMP/1.0\r\nContent-Length: 9\r\n\r\nhello al",
		},
		{
			name: "empty and blank lines before a start line are ignored",
			give: "\r\n\n  \r\n\t \n\r\nping\r\n\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "unknown headers are ignored",
			give: "PING CAMP/1.0\r\nX-Anything: at all\r\nColon-In-Value: a:b\r\nEmpty:\r\n\r\n",
			want: []frame{{Start: "PING CAMP/1.0", Full: true, Head: "X-Anything: at all\r\nColon-In-Value: a:b\r\nEmpty:\r\n"}},
		},
		{
			name: "lower-case version token is not the version",
			give: "ping camp/1.0\r\n",
			want: []frame{{Start: "ping camp/1.0"}},
		},
		{
			name: "version token alone is a short-form request",
			give: "CAMP/1.0\r\n",
			want: []frame{{Start: "CAMP/1.0"}},
		},
		{
			name: "version token after blanks alone is a short-form request",
			give: "  CAMP/1.0\r\n",
			want: []frame{{Start: "  CAMP/1.0"}},
		},
		{
			name: "version glued to the method is not the version",
			give: "pingCAMP/1.0\r\n",
			want: []frame{{Start: "pingCAMP/1.0"}},
		},
		{
			name: "start line of exactly MaxLine bytes with CRLF",
			give: long("message ", protocol.MaxLine) + "\r\n",
			want: []frame{{Start: long("message ", protocol.MaxLine)}},
		},
		{
			name: "start line of exactly MaxLine bytes with LF",
			give: long("message ", protocol.MaxLine) + "\n",
			want: []frame{{Start: long("message ", protocol.MaxLine)}},
		},
		{
			name:     "MaxLine bytes without a line end wait",
			give:     long("message ", protocol.MaxLine),
			wantRest: long("message ", protocol.MaxLine),
		},
		{
			name:     "MaxLine bytes and a CR wait for the LF",
			give:     long("message ", protocol.MaxLine) + "\r",
			wantRest: long("message ", protocol.MaxLine) + "\r",
		},
		{
			name:    "MaxLine bytes, a CR and more is too long",
			give:    long("message ", protocol.MaxLine) + "\rx",
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "MaxLine+1 bytes without a line end is too long at once",
			give:    long("message ", protocol.MaxLine+1),
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "MaxLine+1 bytes with a line end is too long",
			give:    long("message ", protocol.MaxLine+1) + "\r\n",
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "MaxLine bytes and two CRs are too long",
			give:    long("message ", protocol.MaxLine) + "\r\r\n",
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "blank line over MaxLine is too long",
			give:    strings.Repeat(" ", protocol.MaxLine+1),
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name: "header line of exactly MaxLine bytes",
			give: "PING CAMP/1.0\r\n" + long("X: ", protocol.MaxLine) + "\r\n\r\n",
			want: []frame{{Start: "PING CAMP/1.0", Full: true, Head: long("X: ", protocol.MaxLine) + "\r\n"}},
		},
		{
			name:    "header line of MaxLine+1 bytes without a line end",
			give:    "PING CAMP/1.0\r\n" + long("X: ", protocol.MaxLine+1),
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:     "header line of MaxLine bytes and a CR waits",
			give:     "PING CAMP/1.0\r\n" + long("X: ", protocol.MaxLine) + "\r",
			wantRest: "PING CAMP/1.0\r\n" + long("X: ", protocol.MaxLine) + "\r",
		},
		{
			name: "body longer than MaxLine",
			give: "MESSAGE CAMP/1.0\r\nContent-Length: 10000\r\n\r\n" + strings.Repeat("b", 10000),
			want: []frame{{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 10000\r\n", Body: strings.Repeat("b", 10000)}},
		},
		{
			name: "MaxHeaders header lines",
			give: "PING CAMP/1.0\r\n" + strings.Repeat("X: 1\r\n", protocol.MaxHeaders) + "\r\n",
			want: []frame{{Start: "PING CAMP/1.0", Full: true, Head: strings.Repeat("X: 1\r\n", protocol.MaxHeaders)}},
		},
		{
			name:    "too many header lines",
			give:    "PING CAMP/1.0\r\n" + strings.Repeat("X: 1\r\n", protocol.MaxHeaders+1),
			wantErr: protocol.ErrTooManyHeaders,
		},
		{
			name:    "Content-Length over MaxBody before the body is sent",
			maxBody: 10,
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 11\r\n",
			wantErr: protocol.ErrBodyTooLarge,
		},
		{
			name:    "Content-Length at MaxBody",
			maxBody: 10,
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 10\r\n\r\n0123456789",
			want:    []frame{{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 10\r\n", Body: "0123456789"}},
		},
		{
			name:    "Content-Length over DefaultMaxBody",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 65537\r\n",
			wantErr: protocol.ErrBodyTooLarge,
		},
		{
			name:     "Content-Length at DefaultMaxBody waits for the body",
			give:     "MESSAGE CAMP/1.0\r\nContent-Length: 65536\r\n\r\nabc",
			wantRest: "MESSAGE CAMP/1.0\r\nContent-Length: 65536\r\n\r\nabc",
		},
		{
			name:    "huge Content-Length is too large, not malformed",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 99999999999999999999999999\r\n",
			wantErr: protocol.ErrBodyTooLarge,
		},
		{
			name:    "Content-Length that would wrap in 32 bits",
			maxBody: math.MaxInt,
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 4294967297\r\n\r\nxyz",
			wantErr: protocol.ErrBodyTooLarge,
		},
		{
			name:     "Content-Length at the 32-bit limit waits for the body",
			maxBody:  math.MaxInt,
			give:     "MESSAGE CAMP/1.0\r\nContent-Length: 2147483647\r\n\r\nxyz",
			wantRest: "MESSAGE CAMP/1.0\r\nContent-Length: 2147483647\r\n\r\nxyz",
		},
		{
			name:    "Content-Length with letters",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 1a\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "negative Content-Length",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: -1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "signed Content-Length",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: +1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "empty Content-Length",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length:\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "blank Content-Length",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length:   \r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "repeated Content-Length",
			give:    "MESSAGE CAMP/1.0\r\nContent-Length: 1\r\ncontent-length: 1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "header line without a colon",
			give:    "PING CAMP/1.0\r\nId 17\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "header name with a space",
			give:    "PING CAMP/1.0\r\nContent Length: 1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "space before the colon",
			give:    "PING CAMP/1.0\r\nId : 1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "empty header name",
			give:    "PING CAMP/1.0\r\n: 1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "blank line inside headers",
			give:    "PING CAMP/1.0\r\n  \r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:    "non-ASCII header name",
			give:    "PING CAMP/1.0\r\nNäme: 1\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name:      "responses mode reads a response",
			responses: true,
			give:      "CAMP/1.0 200 OK\r\nGroup: 1\r\n\r\n",
			want:      []frame{{Start: "CAMP/1.0 200 OK", Full: true, Head: "Group: 1\r\n"}},
		},
		{
			name:      "responses mode reads an event with a body",
			responses: true,
			give:      "\r\nMESSAGE J001 CAMP/1.0\r\nGroup: 1\r\nContent-Length: 2\r\n\r\nhi\r\n",
			want:      []frame{{Start: "MESSAGE J001 CAMP/1.0", Full: true, Head: "Group: 1\r\nContent-Length: 2\r\n", Body: "hi"}},
		},
		{
			name:      "responses mode reads an event without headers",
			responses: true,
			give:      "SHUTDOWN CAMP/1.0\n\n",
			want:      []frame{{Start: "SHUTDOWN CAMP/1.0", Full: true}},
		},
		{
			name:      "responses mode rejects a short-form line",
			responses: true,
			give:      "ping\r\n",
			wantErr:   protocol.ErrMalformed,
		},
		{
			name:      "responses mode rejects a lower-case version",
			responses: true,
			give:      "camp/1.0 200 OK\r\n",
			wantErr:   protocol.ErrMalformed,
		},
		{
			name:      "responses mode rejects the version alone",
			responses: true,
			give:      "CAMP/1.0\r\n",
			wantErr:   protocol.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := protocol.Parser{Responses: tt.responses, MaxBody: tt.maxBody}
			frames, _, rest, err := parseAll(t, &p, []byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !equalFrames(frames, tt.want) {
				t.Errorf("frames = %v\nwant     %v", frames, tt.want)
			}
			if tt.wantErr == nil && string(rest) != tt.wantRest {
				t.Errorf("left %q, want %q", rest, tt.wantRest)
			}
		})
	}
}

func equalFrames(a, b []frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParseSteps checks what each call consumes: empty lines come back as
// n > 0 with ok false, one line at a time; a frame as n > 0 with ok true.
func TestParseSteps(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []step
	}{
		{name: "empty lines then a short frame", give: "\r\n\n \t\r\nping\r\n", want: []step{{N: 2}, {N: 1}, {N: 4}, {N: 6, OK: true}}},
		{name: "full frame with body stops at the body", give: "M CAMP/1.0\nContent-Length: 2\n\nab\r\n", want: []step{{N: 32, OK: true}, {N: 2}}},
		{name: "need more consumes nothing", give: "pin", want: nil},
		{name: "blank line is dropped only when complete", give: "ping\n  ", want: []step{{N: 5, OK: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p protocol.Parser
			_, steps, _, err := parseAll(t, &p, []byte(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != len(tt.want) {
				t.Fatalf("steps = %v, want %v", steps, tt.want)
			}
			for i := range steps {
				if steps[i] != tt.want[i] {
					t.Fatalf("steps = %v, want %v", steps, tt.want)
				}
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		give string
		want int
	}{
		{name: "line too long", give: strings.Repeat("x", protocol.MaxLine+1), want: protocol.StatusHeaderFieldsTooLarge},
		{name: "too many headers", give: "PING CAMP/1.0\r\n" + strings.Repeat("X: 1\r\n", protocol.MaxHeaders+1), want: protocol.StatusHeaderFieldsTooLarge},
		{name: "body too large", give: "PING CAMP/1.0\r\nContent-Length: 65537\r\n", want: protocol.StatusContentTooLarge},
		{name: "malformed", give: "PING CAMP/1.0\r\nno colon\r\n", want: protocol.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p protocol.Parser
			var f protocol.Frame
			_, _, err := p.Parse([]byte(tt.give), &f)
			if err == nil {
				t.Fatal("Parse returned no error")
			}
			if got := protocol.StatusOf(err); got != tt.want {
				t.Errorf("StatusOf(%v) = %d, want %d", err, got, tt.want)
			}
		})
	}
}

func TestParseErrorQuotesInput(t *testing.T) {
	var p protocol.Parser
	var f protocol.Frame
	_, _, err := p.Parse([]byte("PING CAMP/1.0\r\nbad\x00line\r\n"), &f)
	if err == nil || !strings.Contains(err.Error(), `"bad\x00line"`) {
		t.Errorf("error = %v, want it to quote the bad line", err)
	}
}

func TestRequest(t *testing.T) {
	type request struct {
		Method protocol.Method
		Name   string
		Args   string
		Full   bool
		ID     string
		BadID  bool
		Body   string
	}
	tests := []struct {
		name string
		give string
		want request
	}{
		{name: "short form", give: "checkin J004\r\n", want: request{Method: protocol.MethodCheckin, Name: "checkin", Args: "J004"}},
		{name: "full form", give: "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n\r\n", want: request{Method: protocol.MethodCheckin, Name: "CHECKIN", Args: "J004", Full: true, ID: "17"}},
		{name: "method in mixed case", give: "ChEcKiN j004\n", want: request{Method: protocol.MethodCheckin, Name: "ChEcKiN", Args: "j004"}},
		{name: "every method", give: "peerSession maxCount=3\n", want: request{Method: protocol.MethodPeerSession, Name: "peerSession", Args: "maxCount=3"}},
		{name: "blanks around and between", give: " \tmessage  hello  all \t\r\n", want: request{Method: protocol.MethodMessage, Name: "message", Args: "hello  all"}},
		{name: "no arguments", give: "ping\r\n", want: request{Method: protocol.MethodPing, Name: "ping"}},
		{name: "full form no arguments", give: "PING CAMP/1.0\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true}},
		{name: "full form body", give: "message CAMP/1.0\r\nContent-Length: 9\r\n\r\nhello all", want: request{Method: protocol.MethodMessage, Name: "message", Full: true, Body: "hello all"}},
		{name: "unknown method", give: "frobnicate now\r\n", want: request{Name: "frobnicate", Args: "now"}},
		{name: "version alone is a method", give: "CAMP/1.0\r\n", want: request{Name: "CAMP/1.0"}},
		{name: "lower-case version is an argument", give: "ping camp/1.0\r\n", want: request{Method: protocol.MethodPing, Name: "ping", Args: "camp/1.0"}},
		{name: "header name case-insensitive", give: "PING CAMP/1.0\r\niD: abc\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, ID: "abc"}},
		{name: "Id trimmed", give: "PING CAMP/1.0\r\nId: \t abc \t\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, ID: "abc"}},
		{name: "Id of 64 characters", give: "PING CAMP/1.0\r\nId: " + strings.Repeat("x", 64) + "\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, ID: strings.Repeat("x", 64)}},
		{name: "Id of every visible character", give: "PING CAMP/1.0\r\nId: !~:\"{}\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, ID: "!~:\"{}"}},
		{name: "Id of 65 characters", give: "PING CAMP/1.0\r\nId: " + strings.Repeat("x", 65) + "\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
		{name: "empty Id", give: "PING CAMP/1.0\r\nId:\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
		{name: "blank Id", give: "PING CAMP/1.0\r\nId:   \r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
		{name: "Id with a space", give: "PING CAMP/1.0\r\nId: a b\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
		{name: "Id with a control character", give: "PING CAMP/1.0\r\nId: a\x7fb\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
		{name: "non-ASCII Id", give: "PING CAMP/1.0\r\nId: é\r\n\r\n", want: request{Method: protocol.MethodPing, Name: "PING", Full: true, BadID: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p protocol.Parser
			var f protocol.Frame
			_, ok, err := p.Parse([]byte(tt.give), &f)
			if err != nil || !ok {
				t.Fatalf("Parse: ok = %v, err = %v", ok, err)
			}
			r := f.Request()
			got := request{Method: r.Method, Name: string(r.Name), Args: string(r.Args), Full: r.Full, ID: string(r.ID), BadID: r.BadID, Body: string(r.Body)}
			if got != tt.want {
				t.Errorf("Request() = %+v\nwant        %+v", got, tt.want)
			}
			if r.BadID && r.ID != nil {
				t.Errorf("BadID with ID %q", r.ID)
			}
		})
	}
}

func TestMethodString(t *testing.T) {
	tests := []struct {
		give protocol.Method
		want string
	}{
		{give: protocol.MethodCheckin, want: "CHECKIN"},
		{give: protocol.MethodCheckout, want: "CHECKOUT"},
		{give: protocol.MethodMission, want: "MISSION"},
		{give: protocol.MethodPeerSession, want: "PEERSESSION"},
		{give: protocol.MethodComplete, want: "COMPLETE"},
		{give: protocol.MethodMessage, want: "MESSAGE"},
		{give: protocol.MethodDirect, want: "DIRECT"},
		{give: protocol.MethodPing, want: "PING"},
		{give: protocol.MethodHelp, want: "HELP"},
		{give: 0, want: "UNKNOWN"},
		{give: 200, want: "UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.give.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if tt.give != 0 && tt.want != "UNKNOWN" {
				if got := protocol.LookupMethod([]byte(strings.ToLower(tt.want))); got != tt.give {
					t.Errorf("LookupMethod(lower %q) = %v", tt.want, got)
				}
			}
		})
	}
}

// TestParseShorterBuffer checks that a caller that gives the parser fewer
// bytes than last time gets a fresh parse, not a panic.
func TestParseShorterBuffer(t *testing.T) {
	var p protocol.Parser
	var f protocol.Frame
	long := []byte("MESSAGE CAMP/1.0\r\nContent-Length: 5\r\n\r\nhel")
	if n, ok, err := p.Parse(long, &f); n != 0 || ok || err != nil {
		t.Fatalf("Parse(partial) = %d, %v, %v; want need more", n, ok, err)
	}
	n, ok, err := p.Parse([]byte("ping\r\n"), &f)
	if err != nil || !ok || n != 6 || string(f.Start) != "ping" {
		t.Fatalf("Parse(shorter) = %d, %v, %v, %q; want the ping frame", n, ok, err, f.Start)
	}
}
