package protocol_test

import (
	"fmt"
	"strings"
	"testing"

	"campfire/protocol"
)

// parseSplit parses buf as a connection that first received buf[:cut] and
// then the rest: it parses the prefix until the parser needs more, then
// goes on with the same parser over the unconsumed part of the whole buffer.
func parseSplit(t testing.TB, p *protocol.Parser, buf []byte, cut int) (frames []frame, steps []step, rest []byte, err error) {
	t.Helper()
	frames, steps, rest, err = parseAll(t, p, buf[:cut])
	if err != nil {
		return frames, steps, rest, err
	}
	consumed := cut - len(rest)
	more, moreSteps, rest, err := parseAll(t, p, buf[consumed:])
	return append(frames, more...), append(steps, moreSteps...), rest, err
}

// parseTrickle parses buf as a connection that receives it one byte at a
// time, calling the parser after every byte.
func parseTrickle(t testing.TB, p *protocol.Parser, buf []byte) (frames []frame, steps []step, rest []byte, err error) {
	t.Helper()
	consumed := 0
	for end := 1; end <= len(buf); end++ {
		more, moreSteps, left, err := parseAll(t, p, buf[consumed:end])
		frames, steps = append(frames, more...), append(steps, moreSteps...)
		if err != nil {
			return frames, steps, left, err
		}
		consumed = end - len(left)
	}
	return frames, steps, buf[consumed:], nil
}

// result is everything a parse run produced, for comparison.
type result struct {
	frames []frame
	steps  []step
	rest   int
	status int  // StatusOf the error, 0 if none
	begun  bool // Begun after the last call, if there was no error
}

// newResult collects a parse run. After an error, what was left unconsumed
// does not matter (the connection closes), so it is not kept.
func newResult(frames []frame, steps []step, rest []byte, err error) result {
	r := result{frames: frames, steps: steps, rest: len(rest)}
	if err != nil {
		r.status, r.rest = protocol.StatusOf(err), 0
	}
	return r
}

// with records whether p, which made r, is in the middle of a frame.
func (r result) with(p *protocol.Parser) result {
	r.begun = r.status == 0 && p.Begun()
	return r
}

func (r result) String() string {
	return fmt.Sprintf("frames %v\nsteps %v\nrest %d, status %d, begun %v", r.frames, r.steps, r.rest, r.status, r.begun)
}

func (r result) equal(o result) bool {
	if r.rest != o.rest || r.status != o.status || r.begun != o.begun || len(r.steps) != len(o.steps) || !equalFrames(r.frames, o.frames) {
		return false
	}
	for i := range r.steps {
		if r.steps[i] != o.steps[i] {
			return false
		}
	}
	return true
}

// requestStream holds frames of every kind a client may send.
const requestStream = "\r\n" +
	"ping\r\n" +
	"checkin J004\n" +
	"  \t\r\n" +
	"\n" +
	"CHECKIN J004 CAMP/1.0\r\nId: 17\r\n\r\n" +
	"MESSAGE CAMP/1.0\r\nContent-Length: 22\r\n\r\na\r\nb\nping CAMP/1.0\r\n\r\n" + "\r\n" +
	"message  hello all \r\r\n" +
	"DIRECT J005 CAMP/1.0\nContent-Length: 3\nid: x\n\nhi\n\n" +
	"MISSION day4 CAMP/1.0\r\nContent-Length: 0\r\n\r\n" +
	"peersession maxCount=3\n" +
	"PING\tCAMP/1.0\n\r\n" +
	"ping camp/1.0\r\n" +
	"CAMP/1.0\r\n" +
	"message CAMP/1.0\nX: a:b\r\nContent-length:5\nY:\n\r\n\r\n\r\n\r" + "\n" +
	"help\r\n" +
	"\r\n\r\n"

// responseStream holds frames of every kind a server sends.
const responseStream = "CAMP/1.0 200 OK\r\nGroup: 1\r\n\r\n" +
	"JOINED J002 CAMP/1.0\r\nGroup: 1\r\n\r\n" +
	"CAMP/1.0 200 OK\r\nId: 7\r\nDay: 4\r\nContent-Length: 11\r\n\r\nHeap, Stack\r\n" +
	"\n" +
	"MESSAGE J003 CAMP/1.0\nGroup: 1\nContent-Length: 17\n\nCAMP/1.0 200 OK\r\n\n" +
	"CAMP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nbad id\r\n" +
	"SHUTDOWN CAMP/1.0\r\n\r\n"

func TestSplit(t *testing.T) {
	longLine := "message " + strings.Repeat("a", protocol.MaxLine-len("message "))
	longHeader := "X: " + strings.Repeat("h", protocol.MaxLine-len("X: "))
	tests := []struct {
		name      string
		responses bool
		give      string
	}{
		{name: "requests", give: requestStream},
		{name: "responses", responses: true, give: responseStream},
		{name: "requests then a malformed header", give: requestStream + "PING CAMP/1.0\r\nbad header\r\n\r\n"},
		{name: "requests then a bad Content-Length", give: requestStream + "PING CAMP/1.0\r\nContent-Length: x\r\n\r\n"},
		{name: "requests then too large a body", give: requestStream + "PING CAMP/1.0\r\nContent-Length: 65537\r\n\r\n"},
		{name: "responses then a short-form line", responses: true, give: responseStream + "ping\r\n"},
		{name: "requests then a partial frame", give: requestStream + "MESSAGE CAMP/1.0\r\nContent-Length: 10\r\n\r\nabc"},
		{name: "lines of MaxLine bytes", give: longLine + "\r\n" + longLine + "\n" + "PING CAMP/1.0\r\n" + longHeader + "\r\n\r\n" + "ping\r\n"},
		{name: "line of MaxLine bytes and two CRs", give: "ping\r\n" + longLine + "\r\r\n"},
		{name: "line of MaxLine+1 bytes", give: "ping\r\n" + longLine + "a\r\n"},
	}
	for _, tc := range telnetSplitCases {
		tests = append(tests, struct {
			name      string
			responses bool
			give      string
		}{name: tc.name, give: tc.give})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(tt.give)
			p := protocol.Parser{Responses: tt.responses}
			want := newResult(parseAll(t, &p, buf)).with(&p)
			if len(want.frames) == 0 {
				t.Fatalf("whole buffer gave only %d frames: %v", len(want.frames), want.frames)
			}
			for cut := 0; cut <= len(buf); cut++ {
				p := protocol.Parser{Responses: tt.responses}
				if got := newResult(parseSplit(t, &p, buf, cut)).with(&p); !got.equal(want) {
					t.Fatalf("cut at %d:\ngot  %v\nwant %v", cut, got, want)
				}
			}
			p = protocol.Parser{Responses: tt.responses}
			if got := newResult(parseTrickle(t, &p, buf)).with(&p); !got.equal(want) {
				t.Fatalf("one byte at a time:\ngot  %v\nwant %v", got, want)
			}
		})
	}
}

// TestSplitFrames pins what the request stream holds, so that the split
// test compares against the right frames and not merely consistent ones.
func TestSplitFrames(t *testing.T) {
	var p protocol.Parser
	frames, _, rest, err := parseAll(t, &p, []byte(requestStream))
	if err != nil || len(rest) != 0 {
		t.Fatalf("err = %v, left %q", err, rest)
	}
	want := []frame{
		{Start: "ping"},
		{Start: "checkin J004"},
		{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\n"},
		{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 22\r\n", Body: "a\r\nb\nping CAMP/1.0\r\n\r\n"},
		{Start: "message  hello all \r"},
		{Start: "DIRECT J005 CAMP/1.0", Full: true, Head: "Content-Length: 3\nid: x\n", Body: "hi\n"},
		{Start: "MISSION day4 CAMP/1.0", Full: true, Head: "Content-Length: 0\r\n"},
		{Start: "peersession maxCount=3"},
		{Start: "PING\tCAMP/1.0", Full: true},
		{Start: "ping camp/1.0"},
		{Start: "CAMP/1.0"},
		{Start: "message CAMP/1.0", Full: true, Head: "X: a:b\r\nContent-length:5\nY:\n", Body: "\r\n\r\n\r"},
		{Start: "help"},
	}
	if !equalFrames(frames, want) {
		t.Errorf("frames:\ngot  %v\nwant %v", frames, want)
	}
}
