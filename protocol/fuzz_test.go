package protocol_test

import (
	"bytes"
	"strings"
	"testing"

	"campfire/protocol"
)

// FuzzParse feeds arbitrary bytes to a Parser, whole, in two halves and (for
// short inputs) one byte at a time, and checks that all three agree, that n
// stays within the buffer and that frames lie within the consumed bytes or
// the parser's copy (parseAll checks those); requests are also checked
// against the reference model. It also encodes a request from fuzzed parts
// and checks that parsing gives the same parts back.
func FuzzParse(f *testing.F) {
	f.Add([]byte("checkin J004\r\nping\n"), uint(5), false, uint8(0), "J004", []byte(nil), "")
	f.Add([]byte("MESSAGE CAMP/1.0\r\nContent-Length: 9\r\nId: 7\r\n\r\nhello all\r\n"), uint(30), false, uint8(5), "", []byte("hello\r\nall"), "7")
	f.Add([]byte("\r\n \t\n\nCHECKIN J004 CAMP/1.0\nId: 17\n\n"), uint(3), false, uint8(6), "to J005", []byte("CAMP/1.0\r\n\r\n"), "req-1")
	f.Add([]byte("CAMP/1.0 200 OK\r\nGroup: 1\r\n\r\nMESSAGE J003 CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi\r\n"), uint(17), true, uint8(2), "day 4", []byte("x"), "")
	f.Add([]byte("PING CAMP/1.0\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx"), uint(20), false, uint8(3), "maxCount = 3", []byte(nil), strings.Repeat("i", 70))
	f.Add([]byte("ping\r\r\nPING CAMP/1.0\r\nbad header\r\n\r\n"), uint(6), false, uint8(8), "  padded  ", []byte(nil), "a b")
	f.Add([]byte(strings.Repeat("a", protocol.MaxLine)+"\r\n"), uint(protocol.MaxLine), false, uint8(7), "", []byte(nil), "")
	f.Add([]byte("ping\n"), uint(0), true, uint8(1), "", []byte(nil), "\x00\xff")
	f.Add([]byte("chec\xff\xfd\x06kin J004\r\nPING\xff\xf1 CAMP/1.0\r\nI\xff\xf8Id: 1\r\n\r\nmessage a\xff\xffb\xff\xf7\r\n"), uint(9), false, uint8(4), "", []byte("\xff"), "")

	f.Fuzz(func(t *testing.T, data []byte, cut uint, responses bool, method uint8, args string, body []byte, id string) {
		p := protocol.Parser{Responses: responses}
		whole := newResult(parseAll(t, &p, data)).with(&p)

		cut %= uint(len(data)) + 1
		p = protocol.Parser{Responses: responses}
		if got := newResult(parseSplit(t, &p, data, int(cut))).with(&p); !got.equal(whole) {
			t.Fatalf("cut at %d:\ngot  %v\nwant %v", cut, got, whole)
		}
		if len(data) <= 512 {
			p = protocol.Parser{Responses: responses}
			if got := newResult(parseTrickle(t, &p, data)).with(&p); !got.equal(whole) {
				t.Fatalf("one byte at a time:\ngot  %v\nwant %v", got, whole)
			}
		}
		useFrames(t, data, responses)
		if !responses {
			checkModel(t, data, int(cut))
		}

		roundTrip(t, protocol.Method(1+int(method)%9), args, body, id)
	})
}

// useFrames runs every accessor on every frame of data, which must not
// panic whatever the frame holds.
func useFrames(t *testing.T, data []byte, responses bool) {
	p := protocol.Parser{Responses: responses}
	for {
		var f protocol.Frame
		n, ok, err := p.Parse(data, &f)
		if err != nil || n == 0 {
			return
		}
		data = data[n:]
		if !ok {
			continue
		}
		if responses {
			f.Status()
			f.Event()
			continue
		}
		r := f.Request()
		if r.Method != 0 {
			c, err := protocol.ParseArgs(&r, protocol.DefaultIDs())
			if err == nil && (r.Method == protocol.MethodMessage || r.Method == protocol.MethodDirect) && len(c.Text) == 0 {
				t.Fatalf("ParseArgs(%q) accepted empty text", f.Start)
			}
		}
	}
}

// roundTrip encodes a full-form request from fuzzed parts, made valid, and
// checks that the parser gives the same parts back.
func roundTrip(t *testing.T, m protocol.Method, args string, body []byte, id string) {
	// Arguments are one line without the line end or telnet's IAC,
	// trimmed, short enough for the start line to fit in MaxLine.
	args = strings.NewReplacer("\r", "", "\n", "", "\xff", "").Replace(args)
	args = strings.Trim(args, " \t")
	if limit := protocol.MaxLine - len(m.String()) - len(" ") - len(" "+protocol.Version); len(args) > limit {
		args = strings.TrimRight(args[:limit], " \t")
	}
	if len(body) > protocol.DefaultMaxBody {
		body = body[:protocol.DefaultMaxBody]
	}
	// The Id keeps only visible ASCII, at most MaxIDHeader characters.
	id = strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f {
			return -1
		}
		return r
	}, id)
	if len(id) > protocol.MaxIDHeader {
		id = id[:protocol.MaxIDHeader]
	}

	buf := protocol.AppendRequest(nil, m, []byte(args))
	if id != "" {
		buf = protocol.AppendHeaderString(buf, protocol.HeaderID, id)
	}
	buf = protocol.AppendBody(buf, body)

	var p protocol.Parser
	var f protocol.Frame
	n, ok, err := p.Parse(buf, &f)
	if err != nil || !ok {
		t.Fatalf("Parse(%q) = %d, %v, %v", buf, n, ok, err)
	}
	wantN := len(buf)
	if len(body) > 0 {
		wantN -= len("\r\n") // the CRLF after a body is not part of the frame
	}
	if n != wantN {
		t.Fatalf("Parse(%q) consumed %d bytes, want %d", buf, n, wantN)
	}
	r := f.Request()
	if r.Method != m || string(r.Args) != args || !bytes.Equal(r.Body, body) || string(r.ID) != id || r.BadID || !r.Full {
		t.Fatalf("Request() = %+v\nwant method %v, args %q, body %q, id %q", r, m, args, body, id)
	}
	if n, ok, err := p.Parse(buf[n:], &f); n != len(buf)-wantN || ok || err != nil {
		t.Fatalf("after the frame: Parse = %d, %v, %v; want the empty line dropped", n, ok, err)
	}
}
