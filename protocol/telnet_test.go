package protocol_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"campfire/protocol"
)

// Telnet commands as RFC 854 numbers them, for building test input.
const (
	tIAC  = "\xff"
	tDONT = tIAC + "\xfe"
	tDO   = tIAC + "\xfd"
	tWONT = tIAC + "\xfc"
	tWILL = tIAC + "\xfb"
	tSB   = tIAC + "\xfa"
	tGA   = tIAC + "\xf9"
	tEL   = tIAC + "\xf8"
	tEC   = tIAC + "\xf7"
	tAYT  = tIAC + "\xf6"
	tAO   = tIAC + "\xf5"
	tIP   = tIAC + "\xf4"
	tBRK  = tIAC + "\xf3"
	tNOP  = tIAC + "\xf1"
	tSE   = tIAC + "\xf0"
	tTM   = "\x06" // TIMING-MARK
)

// linuxTelnetHello is what GNU inetutils telnet 2.x sends on connecting to a
// port other than 23 once the user types a line: DO SUPPRESS-GO-AHEAD,
// WILL TERMINAL-TYPE, WILL NAWS, WILL TERMINAL-SPEED, WILL
// TOGGLE-FLOW-CONTROL, WILL LINEMODE, WILL NEW-ENVIRON, DO STATUS.
const linuxTelnetHello = tDO + "\x03" + tWILL + "\x18" + tWILL + "\x1f" + tWILL + "\x20" + tWILL + "\x21" + tWILL + "\x22" + tWILL + "\x27" + tDO + "\x05"

// linuxTelnetAnswer refuses each of linuxTelnetHello's requests.
const linuxTelnetAnswer = tWONT + "\x03" + tDONT + "\x18" + tDONT + "\x1f" + tDONT + "\x20" + tDONT + "\x21" + tDONT + "\x22" + tDONT + "\x27" + tWONT + "\x05"

// sbOf returns a subnegotiation of exactly size bytes, IAC SB and IAC SE
// included.
func sbOf(size int) string {
	return tSB + "\x18" + strings.Repeat("x", size-5) + tSE
}

func TestTelnet(t *testing.T) {
	long := strings.Repeat("a", protocol.MaxLine)
	tests := []struct {
		name      string
		responses bool
		give      string
		want      []frame
		wantSteps []step // checked when not nil
		wantReply string
		wantRest  string
		wantBegun bool
		wantErr   error
	}{
		{
			name:      "DO TIMING-MARK is answered WILL",
			give:      tDO + tTM,
			wantSteps: []step{{N: 3, Reply: tWILL + tTM}},
			wantReply: tWILL + tTM,
		},
		{
			name:      "other DO is answered WONT",
			give:      tDO + "\x01" + tDO + "\n",
			wantReply: tWONT + "\x01" + tWONT + "\n",
		},
		{
			name:      "WILL is answered DONT",
			give:      tWILL + "\x03",
			wantReply: tDONT + "\x03",
		},
		{
			name:      "DONT and WONT are not answered",
			give:      tDONT + "\x01" + tWONT + tTM + "ping\r\n",
			want:      []frame{{Start: "ping"}},
			wantSteps: []step{{N: 3}, {N: 3}, {N: 6, OK: true}},
		},
		{
			name:      "a Linux telnet's negotiation then a line",
			give:      linuxTelnetHello + "checkin J004\r\n",
			want:      []frame{{Start: "checkin J004"}},
			wantReply: linuxTelnetAnswer,
		},
		{
			name:      "Ctrl-C on an empty line",
			give:      tIP + tDO + tTM,
			wantSteps: []step{{N: 2}, {N: 3, Reply: tWILL + tTM}},
			wantReply: tWILL + tTM,
		},
		{
			name:      "DO TIMING-MARK in a partial line is answered before the line end",
			give:      "chec" + tDO + tTM,
			wantSteps: []step{{N: 7, Reply: tWILL + tTM}},
			wantReply: tWILL + tTM,
			wantBegun: true,
		},
		{
			name:      "a command inside a line arriving later",
			give:      "chec" + tNOP + "kin J004\r\n",
			want:      []frame{{Start: "checkin J004"}},
			wantSteps: []step{{N: 6}, {N: 10, OK: true}},
		},
		{
			name:      "a partial command waits",
			give:      "chec" + tDO,
			wantRest:  "chec" + tDO,
			wantBegun: true,
		},
		{
			name:      "IP throws the partial line away",
			give:      "chec" + tIP + tDO + tTM + "ping\r\n",
			want:      []frame{{Start: "ping"}},
			wantSteps: []step{{N: 6}, {N: 3, Reply: tWILL + tTM}, {N: 6, OK: true}},
			wantReply: tWILL + tTM,
		},
		{
			name: "AO throws the partial line away",
			give: "chec" + tAO + "ping\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "BRK throws the partial line away",
			give: "chec" + tBRK + "ping\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "EC drops the last byte",
			give: "pinx" + tEC + "g\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "EC twice",
			give: "pixx" + tEC + tEC + "ng\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "EC on an empty line does nothing",
			give: tEC + "ping\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name:      "EC of the only byte leaves no frame begun",
			give:      "p" + tEC,
			wantSteps: []step{{N: 3}},
		},
		{
			name: "EL drops the whole partial line",
			give: "garbage" + tEL + "ping\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name:      "an erased line then Enter is an empty line",
			give:      "ping" + tEL + "\r\n",
			wantSteps: []step{{N: 6}, {N: 2}},
		},
		{
			name: "IAC IAC is one data byte 255",
			give: "message a" + tIAC + tIAC + "b\r\n",
			want: []frame{{Start: "message a\xffb"}},
		},
		{
			name: "IAC IAC then EC drops the 255",
			give: "ping" + tIAC + tIAC + tEC + "\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "NOP, GA and AYT are ignored",
			give: "p" + tNOP + "i" + tGA + "n" + tAYT + "g\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "a byte after IAC that is no command is dropped with it",
			give: "ping" + tIAC + "\n\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name:      "a subnegotiation is ignored",
			give:      tSB + "\x18\x00xterm" + tSE + "ping\r\n",
			want:      []frame{{Start: "ping"}},
			wantSteps: []step{{N: 11}, {N: 6, OK: true}},
		},
		{
			name: "a subnegotiation holding IAC IAC, SE and a line end",
			give: "pi" + tSB + "\x18" + tIAC + tIAC + "\xf0\r\n" + tSE + "ng\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name: "a subnegotiation of MaxLine+1 bytes",
			give: sbOf(protocol.MaxLine+1) + "ping\r\n",
			want: []frame{{Start: "ping"}},
		},
		{
			name:    "a subnegotiation of MaxLine+2 bytes",
			give:    sbOf(protocol.MaxLine+2) + "ping\r\n",
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "an unended subnegotiation over MaxLine bytes",
			give:    tSB + strings.Repeat("x", protocol.MaxLine),
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:     "an unended subnegotiation of MaxLine bytes waits",
			give:     tSB + strings.Repeat("x", protocol.MaxLine-2),
			wantRest: tSB + strings.Repeat("x", protocol.MaxLine-2),
		},
		{
			name:      "commands in the start line of a full-form request",
			give:      "CHECKIN" + tNOP + " J004 CAMP/1.0\r\nId: 17\r\n\r\n",
			want:      []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\n"}},
			wantSteps: []step{{N: 9}, {N: 16}, {N: 8}, {N: 2, OK: true}},
		},
		{
			name:      "commands in a header line",
			give:      "CHECKIN J004 CAMP/1.0\r\nI" + tNOP + "d: 17\r\nX: y\r\n\r\n",
			want:      []frame{{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\nX: y\r\n"}},
			wantSteps: []step{{N: 26}, {N: 7}, {N: 6}, {N: 2, OK: true}},
		},
		{
			name: "EL in a header line",
			give: "PING CAMP/1.0\nbad line" + tEL + "Id: 1\n\n",
			want: []frame{{Start: "PING CAMP/1.0", Full: true, Head: "Id: 1\n"}},
		},
		{
			name: "IP in a header line throws away that line only",
			give: "PING CAMP/1.0\r\nId: 1\r\nX: 2" + tIP + "\r\n",
			want: []frame{{Start: "PING CAMP/1.0", Full: true, Head: "Id: 1\r\n"}},
		},
		{
			name:      "a command in the empty line ending the header block",
			give:      "PING CAMP/1.0\r\n" + tNOP + "\r\n",
			want:      []frame{{Start: "PING CAMP/1.0", Full: true}},
			wantSteps: []step{{N: 17}, {N: 2, OK: true}},
		},
		{
			name: "255 in a body is data",
			give: "MESSAGE" + tNOP + " CAMP/1.0\r\nContent-Length: 5\r\n\r\n" + tDO + tTM + tIP + "\r\nping\r\n",
			want: []frame{
				{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 5\r\n", Body: tDO + tTM + tIP},
				{Start: "ping"},
			},
		},
		{
			name:      "a body waits for its bytes after a copied header block",
			give:      "MESSAGE CAMP/1.0\r\nContent-Length: 5\r\n" + tNOP + "\r\nabc",
			wantSteps: []step{{N: 39}},
			wantRest:  "\r\nabc",
			wantBegun: true,
		},
		{
			name:    "a malformed header after a command",
			give:    "PING CAMP/1.0\r\nbad" + tNOP + "\r\n\r\n",
			wantErr: protocol.ErrMalformed,
		},
		{
			name: "a line of MaxLine bytes and a command",
			give: long[:10] + tNOP + long[10:] + "\r\n",
			want: []frame{{Start: long}},
		},
		{
			name: "a line of MaxLine bytes, CR and a command",
			give: long + "\r" + tNOP + "\n",
			want: []frame{{Start: long}},
		},
		{
			name:    "a line of MaxLine+1 bytes before EC is too long already",
			give:    long + "x" + tEC + "\r\n",
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name:    "IAC IAC making a line of MaxLine+1 bytes",
			give:    long + tIAC + tIAC,
			wantErr: protocol.ErrLineTooLong,
		},
		{
			name: "IAC IAC making a line of MaxLine bytes",
			give: long[1:] + tIAC + tIAC + "\r\n",
			want: []frame{{Start: long[1:] + "\xff"}},
		},
		{
			name:      "only telnet bytes and empty lines begin no frame",
			give:      "\r\n" + linuxTelnetHello + " \t" + tNOP + "\r",
			wantReply: linuxTelnetAnswer,
			wantRest:  "\r",
		},
		{
			name:      "responses carry 255 as data",
			responses: true,
			give:      "CAMP/1.0 200 OK\r\nX: " + tIP + tDO + tTM + "\r\n\r\n",
			want:      []frame{{Start: "CAMP/1.0 200 OK", Full: true, Head: "X: " + tIP + tDO + tTM + "\r\n"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := protocol.Parser{Responses: tt.responses}
			frames, steps, rest, err := parseAll(t, &p, []byte(tt.give))
			if tt.wantErr != nil {
				if !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr.Error())) || protocol.StatusOf(err) != protocol.StatusOf(tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !equalFrames(frames, tt.want) {
				t.Errorf("frames:\ngot  %v\nwant %v", frames, tt.want)
			}
			var reply strings.Builder
			for _, s := range steps {
				reply.WriteString(s.Reply)
			}
			if reply.String() != tt.wantReply {
				t.Errorf("replies %q, want %q", reply.String(), tt.wantReply)
			}
			if tt.wantSteps != nil && !equalSteps(steps, tt.wantSteps) {
				t.Errorf("steps:\ngot  %v\nwant %v", steps, tt.wantSteps)
			}
			if tt.wantErr != nil {
				return
			}
			if string(rest) != tt.wantRest {
				t.Errorf("left %q, want %q", rest, tt.wantRest)
			}
			if p.Begun() != tt.wantBegun {
				t.Errorf("Begun() = %v, want %v", p.Begun(), tt.wantBegun)
			}
		})
	}
}

func equalSteps(a, b []step) bool {
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

// TestTelnetFrameOwnership checks that a frame copied because of telnet
// commands does not change when the caller's buffer does (Start and Head
// are the parser's), and that its body is the caller's.
func TestTelnetFrameOwnership(t *testing.T) {
	buf := []byte("MESSAGE CAMP/1.0\r\nId: 1" + tNOP + "7\r\nContent-Length: 2\r\n\r\nhi")
	orig := string(buf)
	var p protocol.Parser
	var f protocol.Frame
	consumed := 0
	for {
		n, ok, err := p.Parse(buf[consumed:], &f)
		if err != nil || n == 0 {
			t.Fatalf("Parse = %d, %v, %v", n, ok, err)
		}
		consumed += n
		if ok {
			break
		}
	}
	if string(buf) != orig {
		t.Fatalf("Parse wrote to the caller's buffer: %q", buf)
	}
	for i := range buf {
		buf[i] = '#'
	}
	if got := copyFrame(&f); got != (frame{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Id: 17\r\nContent-Length: 2\r\n", Body: "##"}) {
		t.Errorf("frame after the caller's buffer changed: %v", got)
	}
	if r := f.Request(); string(r.ID) != "17" {
		t.Errorf("Request().ID = %q, want 17", r.ID)
	}
}

// TestTelnetReplyTaken checks that answers queue up until taken, are
// appended to the caller's slice and are gone once taken.
func TestTelnetReplyTaken(t *testing.T) {
	var p protocol.Parser
	var f protocol.Frame
	if got := p.AppendTelnetReply(nil); got != nil {
		t.Fatalf("AppendTelnetReply on a fresh parser = %q", got)
	}
	buf := []byte(tDO + tTM + tWILL + "\x01")
	n1, _, _ := p.Parse(buf, &f)
	n2, _, _ := p.Parse(buf[n1:], &f)
	if n1+n2 != len(buf) {
		t.Fatalf("consumed %d+%d of %d bytes", n1, n2, len(buf))
	}
	got := p.AppendTelnetReply([]byte("out:"))
	if want := "out:" + tWILL + tTM + tDONT + "\x01"; string(got) != want {
		t.Errorf("AppendTelnetReply = %q, want %q", got, want)
	}
	if got := p.AppendTelnetReply(nil); len(got) != 0 {
		t.Errorf("second AppendTelnetReply = %q, want nothing", got)
	}
}

// TestBegun follows a frame's progress byte by byte.
func TestBegun(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // Begun after each byte: 0 or 1
	}{
		{name: "short form", give: "ping\r\n", want: "111110"},
		{name: "empty lines and blanks", give: "\r\n \t\r\n", want: "000000"},
		{name: "blank then text", give: " p\n", want: "010"},
		{name: "full form until its body", give: "P CAMP/1.0\nContent-Length: 1\n\nx", want: strings.Repeat("1", 30) + "0"},
		{name: "negotiation", give: tDO + tTM + tSB + "a" + tSE, want: "00000000"},
		{name: "erased", give: "p" + tEC + "q" + tEL + "\n", want: "1101100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.want) != len(tt.give) {
				t.Fatalf("want has %d states for %d bytes", len(tt.want), len(tt.give))
			}
			var p protocol.Parser
			buf := []byte(tt.give)
			var got strings.Builder
			consumed := 0
			for end := 1; end <= len(buf); end++ {
				_, _, rest, err := parseAll(t, &p, buf[consumed:end])
				if err != nil {
					t.Fatal(err)
				}
				consumed = end - len(rest)
				if p.Begun() {
					got.WriteByte('1')
				} else {
					got.WriteByte('0')
				}
			}
			if got.String() != tt.want {
				t.Errorf("Begun after each byte = %s, want %s", got.String(), tt.want)
			}
		})
	}
}

// telnetStream mixes telnet commands into requests of every kind, for the
// split test.
const telnetStream = linuxTelnetHello +
	"chec" + tDO + tTM + "kin J004\r\n" +
	tIP + tDO + tTM + "\r\n" +
	"garbage" + tIP + tDO + tTM + "ping\r\n" +
	"pinx" + tEC + "g" + tNOP + "\r" + tGA + "\n" +
	"message a" + tIAC + tIAC + "b\r\n" +
	tSB + "\x18\x00xterm" + tIAC + tIAC + "\xf0\n" + tSE + "help\r\n" +
	"CHECKIN" + tNOP + " J004 CAMP/1.0\r\nI" + tWILL + "\x01d: 17\r\nbad" + tEL + "X: y\r\n" + tNOP + "\r\n" +
	"MESSAGE CAMP/1.0\r\nContent-Length: 5\r\n\r\n" + tDO + tTM + tIP + "\r\n" +
	"DIRECT J005 CAMP/1.0\r\nContent-Length: 3\r\n" + tAO + "\r\na" + tIAC + "b" +
	"PING CAMP/1.0\r\n" + tDO + "\x01\r\n" +
	"ping" + tEL + "\r\n" +
	"p" + tEC + tBRK + tAYT + "\r\n"

// The split test covers telnetStream as well; these cases are added to it.
var telnetSplitCases = []struct {
	name string
	give string
}{
	{name: "telnet", give: telnetStream},
	{name: "telnet then a partial command", give: telnetStream + "ping" + tSB + "\x18abc" + tIAC},
	{name: "telnet then a too long subnegotiation", give: telnetStream + "ping" + sbOf(protocol.MaxLine+2)},
	{name: "telnet then a too long line", give: telnetStream + strings.Repeat("a", protocol.MaxLine) + tNOP + "ab" + tEC + "\r\n"},
	{name: "telnet then a bad header", give: telnetStream + "PING CAMP/1.0\r\nId: 1\r\nbad" + tNOP + " line\r\n\r\n"},
}

func TestTelnetSplitFrames(t *testing.T) {
	var p protocol.Parser
	frames, steps, rest, err := parseAll(t, &p, []byte(telnetStream))
	if err != nil || len(rest) != 0 {
		t.Fatalf("err = %v, left %q", err, rest)
	}
	want := []frame{
		{Start: "checkin J004"},
		{Start: "ping"},
		{Start: "ping"},
		{Start: "message a\xffb"},
		{Start: "help"},
		{Start: "CHECKIN J004 CAMP/1.0", Full: true, Head: "Id: 17\r\nX: y\r\n"},
		{Start: "MESSAGE CAMP/1.0", Full: true, Head: "Content-Length: 5\r\n", Body: tDO + tTM + tIP},
		{Start: "DIRECT J005 CAMP/1.0", Full: true, Head: "Content-Length: 3\r\n", Body: "a" + tIAC + "b"},
		{Start: "PING CAMP/1.0", Full: true},
	}
	if !equalFrames(frames, want) {
		t.Errorf("frames:\ngot  %v\nwant %v", frames, want)
	}
	var reply strings.Builder
	for _, s := range steps {
		reply.WriteString(s.Reply)
	}
	wantReply := linuxTelnetAnswer + tWILL + tTM + tWILL + tTM + tWILL + tTM + tDONT + "\x01" + tWONT + "\x01"
	if reply.String() != wantReply {
		t.Errorf("replies %q, want %q", reply.String(), wantReply)
	}
}

// model is a reference for the request direction: a byte-at-a-time state
// machine written from the contract, independent of the Parser's offsets,
// copies and resumption. It yields the frames, the telnet answers, the
// error status and whether a frame has begun.
type model struct {
	phase   int // 0 start line, 1 header lines, 2 body
	line    []byte
	cmd     []byte // a telnet command being received
	sbIAC   bool   // inside a subnegotiation, the last byte was an unpaired IAC
	start   string
	head    []byte
	headers int
	length  int
	body    []byte
	frames  []frame
	reply   []byte
	status  int
}

func newModel() *model {
	return &model{length: -1}
}

func (m *model) run(data []byte) *model {
	for _, b := range data {
		if m.status != 0 {
			break
		}
		m.feed(b)
	}
	return m
}

func (m *model) begun() bool {
	if m.phase != 0 {
		return true
	}
	for _, c := range m.line {
		if c != ' ' && c != '\t' && c != '\r' {
			return true
		}
	}
	return false
}

func (m *model) fail(status int) { m.status = status }

func (m *model) feed(b byte) {
	switch {
	case m.phase == 2:
		m.body = append(m.body, b)
		if len(m.body) == m.length {
			m.emit(true)
		}
	case len(m.cmd) > 0:
		m.command(b)
	case b == 0xff:
		m.cmd = append(m.cmd, b)
	case b == '\n':
		m.endLine()
	default:
		m.data(b)
	}
}

func (m *model) data(b byte) {
	m.line = append(m.line, b)
	if n := len(m.line); n > protocol.MaxLine+1 || n == protocol.MaxLine+1 && b != '\r' {
		m.fail(protocol.StatusHeaderFieldsTooLarge)
	}
}

func (m *model) command(b byte) {
	m.cmd = append(m.cmd, b)
	c := m.cmd[1]
	switch {
	case c == 0xfa: // SB
		if len(m.cmd) == 2 {
			break
		}
		if m.sbIAC {
			m.sbIAC = false
			if b == 0xf0 {
				m.cmd = m.cmd[:0]
				return
			}
		} else if b == 0xff {
			m.sbIAC = true
		}
		if len(m.cmd) > protocol.MaxLine {
			m.fail(protocol.StatusHeaderFieldsTooLarge)
		}
		return
	case c >= 0xfb && c <= 0xfe: // WILL, WONT, DO, DONT
		if len(m.cmd) < 3 {
			return
		}
		switch {
		case c == 0xfd && b == 6:
			m.reply = append(m.reply, 0xff, 0xfb, 6)
		case c == 0xfd:
			m.reply = append(m.reply, 0xff, 0xfc, b)
		case c == 0xfb:
			m.reply = append(m.reply, 0xff, 0xfe, b)
		}
	case c == 0xf4 || c == 0xf5 || c == 0xf3 || c == 0xf8: // IP, AO, BRK, EL
		m.line = m.line[:0]
	case c == 0xf7: // EC
		if len(m.line) > 0 {
			m.line = m.line[:len(m.line)-1]
		}
	case c == 0xff:
		m.cmd = m.cmd[:0]
		m.data(0xff)
		return
	}
	if len(m.cmd) == 2 && c == 0xfa {
		return
	}
	m.cmd = m.cmd[:0]
}

func (m *model) endLine() {
	raw := m.line
	m.line = nil
	content := raw
	if n := len(content); n > 0 && content[n-1] == '\r' {
		content = content[:n-1]
	}
	if len(content) > protocol.MaxLine {
		m.fail(protocol.StatusHeaderFieldsTooLarge)
		return
	}
	if m.phase == 0 {
		if len(strings.Trim(string(content), " \t")) == 0 {
			return
		}
		m.start = string(content)
		if !modelFull(m.start) {
			m.emit(false)
			return
		}
		m.phase = 1
		return
	}
	if len(content) == 0 {
		if m.length > 0 {
			m.phase = 2
			return
		}
		m.emit(true)
		return
	}
	m.head = append(append(m.head, raw...), '\n')
	m.headers++
	if m.headers > protocol.MaxHeaders {
		m.fail(protocol.StatusHeaderFieldsTooLarge)
		return
	}
	name, value, ok := strings.Cut(string(content), ":")
	if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		m.fail(protocol.StatusBadRequest)
		return
	}
	if !strings.EqualFold(name, "content-length") {
		return
	}
	value = strings.Trim(value, " \t")
	if m.length >= 0 || value == "" || strings.Trim(value, "0123456789") != "" {
		m.fail(protocol.StatusBadRequest)
		return
	}
	value = strings.TrimLeft(value, "0")
	if len(value) > 6 || len(value) == 6 && value > "065536" || len(value) == 5 && value > "65536" {
		m.fail(protocol.StatusContentTooLarge)
		return
	}
	m.length = 0
	for _, c := range value {
		m.length = m.length*10 + int(c-'0')
	}
}

// modelFull reports a full-form start line: at least one token before a
// blank and the exact version token at the end.
func modelFull(s string) bool {
	rest, ok := strings.CutSuffix(s, protocol.Version)
	return ok && len(rest) > 0 && (rest[len(rest)-1] == ' ' || rest[len(rest)-1] == '\t') && strings.Trim(rest, " \t") != ""
}

func (m *model) emit(full bool) {
	f := frame{Start: m.start, Full: full}
	if full {
		f.Head, f.Body = string(m.head), string(m.body)
	}
	m.frames = append(m.frames, f)
	*m = model{frames: m.frames, reply: m.reply, length: -1}
}

// checkModel compares a Parser run over data, whole, split at cut and one
// byte at a time, with the model.
func checkModel(t *testing.T, data []byte, cut int) {
	t.Helper()
	m := newModel().run(data)
	p := protocol.Parser{}
	frames, steps, rest, err := parseAll(t, &p, data)
	status := 0
	if err != nil {
		status = protocol.StatusOf(err)
	}
	var reply []byte
	for _, s := range steps {
		reply = append(reply, s.Reply...)
	}
	if status != m.status || !equalFrames(frames, m.frames) || string(reply) != string(m.reply) || status == 0 && p.Begun() != m.begun() {
		t.Fatalf("input %q\nparser frames %v\n       replies %q, status %d, begun %v\nmodel  frames %v\n       replies %q, status %d, begun %v",
			data, frames, reply, status, p.Begun(), m.frames, m.reply, m.status, m.begun())
	}
	for _, f := range frames {
		checkAppendFrame(t, f)
	}
	whole := newResult(frames, steps, rest, err).with(&p)
	p = protocol.Parser{}
	split := newResult(parseSplit(t, &p, data, cut)).with(&p)
	if !split.equal(whole) {
		t.Fatalf("input %q cut at %d:\ngot  %v\nwant %v", data, cut, split, whole)
	}
}

// telnetTokens are the pieces random streams are made of.
var telnetTokens = []string{
	"ping", "checkin J004", "message hi", " ", "\t", "\r", "\n", "\r\n", "\r\n", "\r\n",
	"MESSAGE", " CAMP/1.0", "CAMP/1.0", "Content-Length: 3", "Content-Length: 70000", "Id: 7", ":", "x",
	"PING CAMP/1.0\r\n", "MESSAGE CAMP/1.0\r\n", "MESSAGE CAMP/1.0\r\n", "Content-Length: 3\r\n", "Content-Length: 3\r\n",
	"Content-Length: 1\r\n", "Id: 7\r\n", "Id: 7\r\n",
	tIAC + tIAC, tIP, tAO, tBRK, tEC, tEL, tNOP, tGA, tAYT, tSE, tIAC,
	tDO + tTM, tDO + "\x01", tWILL + "\x03", tDONT + "\x01", tWONT + tTM, tDO + "\n", tWILL + tIAC,
	tSB + "\x18\x00xterm" + tSE, tSB + "\x1f" + tIAC + tIAC + "\xf0\n" + tSE, tSB, tIAC + "\x00",
}

// TestTelnetModel compares the Parser with the model on random streams of
// requests and telnet commands, a fixed seed making failures repeatable.
func TestTelnetModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	long := strings.Repeat("a", protocol.MaxLine-2)
	for range 3000 {
		var b []byte
		for range rng.IntN(40) {
			switch r := rng.IntN(200); {
			case r == 0:
				b = append(b, long...)
			case r == 1:
				b = append(b, sbOf(protocol.MaxLine-1+rng.IntN(4))...)
			default:
				b = append(b, telnetTokens[rng.IntN(len(telnetTokens))]...)
			}
		}
		checkModel(t, b, rng.IntN(len(b)+1))
	}
}

// FuzzTelnet checks the Parser against the model on fuzzed requests.
func FuzzTelnet(f *testing.F) {
	f.Add([]byte(telnetStream), uint(40))
	for _, tt := range telnetSplitCases {
		f.Add([]byte(tt.give), uint(len(tt.give)/2))
	}
	f.Add([]byte(linuxTelnetHello+"checkin J004\r\n"), uint(7))
	f.Fuzz(func(t *testing.T, data []byte, cut uint) {
		checkModel(t, data, int(cut%(uint(len(data))+1)))
	})
}

// checkAppendFrame checks that a request frame written by AppendFrame is
// read back whole as the same frame, in one call unless it holds a 255,
// with no telnet answer.
func checkAppendFrame(t *testing.T, want frame) {
	t.Helper()
	f := protocol.Frame{Start: []byte(want.Start), Full: want.Full, Head: []byte(want.Head), Body: []byte(want.Body)}
	buf := protocol.AppendFrame(nil, &f)
	var p protocol.Parser
	frames, steps, rest, err := parseAll(t, &p, buf)
	if err != nil || len(rest) != 0 || len(frames) != 1 || frames[0] != want {
		t.Fatalf("AppendFrame(%v) = %q reads back as %v, left %q, err %v", want, buf, frames, rest, err)
	}
	if escaped := strings.Contains(want.Start+want.Head, "\xff"); !escaped && len(steps) != 1 {
		t.Fatalf("AppendFrame(%v) = %q took steps %v, want one", want, buf, steps)
	}
	for _, s := range steps {
		if s.Reply != "" {
			t.Fatalf("AppendFrame(%v) = %q queued telnet answer %q", want, buf, s.Reply)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name string
		give frame
		want string
	}{
		{name: "short form", give: frame{Start: "ping"}, want: "ping\r\n"},
		{name: "short form ending with CR", give: frame{Start: "ping\r"}, want: "ping\r\r\n"},
		{name: "255 in the start line", give: frame{Start: "message a\xffb"}, want: "message a\xff\xffb\r\n"},
		{name: "full form without headers", give: frame{Start: "PING CAMP/1.0", Full: true}, want: "PING CAMP/1.0\r\n\r\n"},
		{
			name: "full form with headers and body",
			give: frame{Start: "MESSAGE \xff CAMP/1.0", Full: true, Head: "X: \xff\xff\nContent-Length: 3\r\n", Body: "a\xffb"},
			want: "MESSAGE \xff\xff CAMP/1.0\r\nX: \xff\xff\xff\xff\nContent-Length: 3\r\n\r\na\xffb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := protocol.Frame{Start: []byte(tt.give.Start), Full: tt.give.Full, Head: []byte(tt.give.Head), Body: []byte(tt.give.Body)}
			if got := protocol.AppendFrame([]byte("x"), &f); string(got) != "x"+tt.want {
				t.Errorf("AppendFrame = %q, want %q", got, "x"+tt.want)
			}
			checkAppendFrame(t, tt.give)
		})
	}
}
