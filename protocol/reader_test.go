package protocol_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"campfire/protocol"
)

// serverStream builds what a server might send: responses and events, some
// with bodies larger than the Reader's initial 4 KiB buffer, some with a
// start line of MaxLine bytes, each body followed by its CRLF.
func serverStream() (stream string, want []frame) {
	var b []byte
	add := func(start string, headers [][2]string, body string) {
		b = append(b, start...)
		b = append(b, "\r\n"...)
		head := ""
		for _, h := range headers {
			b = protocol.AppendHeaderString(b, h[0], h[1])
			head += h[0] + ": " + h[1] + "\r\n"
		}
		if body != "" {
			head += fmt.Sprintf("Content-Length: %d\r\n", len(body))
		}
		b = protocol.AppendBody(b, []byte(body))
		want = append(want, frame{Start: start, Full: true, Head: head, Body: body})
	}
	add("CAMP/1.0 200 OK", [][2]string{{"Group", "1"}}, "")
	add("JOINED J002 CAMP/1.0", [][2]string{{"Group", "1"}}, "")
	add("CAMP/1.0 200 OK", [][2]string{{"Id", "7"}, {"Day", "4"}}, "Heap, Stack")
	for i, size := range []int{4000, 4096, 5000, 9000, 1, 20000, 3} {
		body := strings.Repeat(string(rune('a'+i)), size-1) + "\n"
		add("MESSAGE J003 CAMP/1.0", [][2]string{{"Group", "1"}}, body)
	}
	add("MESSAGE "+strings.Repeat("x", protocol.MaxLine-len("MESSAGE  CAMP/1.0"))+" CAMP/1.0", nil, "")
	add("SHUTDOWN CAMP/1.0", nil, "")
	return string(b), want
}

func TestReader(t *testing.T) {
	stream, want := serverStream()
	tests := []struct {
		name string
		give func(r io.Reader) io.Reader
	}{
		{name: "whole reads", give: func(r io.Reader) io.Reader { return r }},
		{name: "one byte per read", give: iotest.OneByteReader},
		{name: "half reads", give: iotest.HalfReader},
		{name: "data with EOF", give: iotest.DataErrReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := protocol.NewReader(tt.give(strings.NewReader(stream)), 0)
			for i, w := range want {
				f, err := r.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if got := copyFrame(f); got != w {
					t.Fatalf("frame %d = %v\nwant       %v", i, got, w)
				}
			}
			if f, err := r.Next(); err != io.EOF {
				t.Fatalf("after the last frame: %v, %v; want io.EOF", f, err)
			}
		})
	}
}

func TestReaderEnd(t *testing.T) {
	errRead := errors.New("connection reset")
	tests := []struct {
		name    string
		give    io.Reader
		frames  int
		wantErr error
	}{
		{name: "empty stream", give: strings.NewReader(""), wantErr: io.EOF},
		{name: "blank lines only", give: strings.NewReader("\r\n\n  \r\n"), wantErr: io.EOF},
		{name: "after a frame", give: strings.NewReader("CAMP/1.0 200 OK\r\n\r\n"), frames: 1, wantErr: io.EOF},
		{name: "after a body and its CRLF", give: strings.NewReader("CAMP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi\r\n"), frames: 1, wantErr: io.EOF},
		{name: "after a frame and a lone CR", give: strings.NewReader("CAMP/1.0 200 OK\r\n\r\n\r"), frames: 1, wantErr: io.EOF},
		{name: "inside a start line", give: strings.NewReader("CAMP/1.0 20"), wantErr: io.ErrUnexpectedEOF},
		{name: "inside the headers", give: strings.NewReader("CAMP/1.0 200 OK\r\nGroup: 1\r\n"), wantErr: io.ErrUnexpectedEOF},
		{name: "inside a body", give: strings.NewReader("CAMP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhi"), wantErr: io.ErrUnexpectedEOF},
		{name: "inside a body of line ends", give: strings.NewReader("CAMP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n\r\n"), wantErr: io.ErrUnexpectedEOF},
		{name: "inside the second frame", give: strings.NewReader("SHUTDOWN CAMP/1.0\r\n\r\nJOINED"), frames: 1, wantErr: io.ErrUnexpectedEOF},
		{name: "read error", give: iotest.ErrReader(errRead), wantErr: errRead},
		{name: "read error after a frame", give: io.MultiReader(strings.NewReader("CAMP/1.0 200 OK\r\n\r\n"), iotest.ErrReader(errRead)), frames: 1, wantErr: errRead},
		{name: "short-form line", give: strings.NewReader("ping\r\n"), wantErr: protocol.ErrMalformed},
		{name: "body over the limit", give: strings.NewReader("CAMP/1.0 200 OK\r\nContent-Length: 65537\r\n"), wantErr: protocol.ErrBodyTooLarge},
		{name: "line over the limit", give: strings.NewReader(strings.Repeat("x", protocol.MaxLine+1)), wantErr: protocol.ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := protocol.NewReader(tt.give, 0)
			for i := range tt.frames {
				if _, err := r.Next(); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			f, err := r.Next()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Next() = %v, %v; want error %v", f, err, tt.wantErr)
			}
			if f != nil {
				t.Errorf("Next() returned a frame with error %v", err)
			}
		})
	}
}

func TestReaderMaxBody(t *testing.T) {
	body := strings.Repeat("b", 100)
	stream := string(protocol.AppendBody(protocol.AppendStatus(nil, protocol.StatusOK), []byte(body)))
	r := protocol.NewReader(strings.NewReader(stream), 100)
	if f, err := r.Next(); err != nil || string(f.Body) != body {
		t.Fatalf("Next() with a body at the limit: %v", err)
	}
	r = protocol.NewReader(strings.NewReader(stream), 99)
	if _, err := r.Next(); !errors.Is(err, protocol.ErrBodyTooLarge) {
		t.Fatalf("Next() with a body over the limit: %v, want ErrBodyTooLarge", err)
	}
	// A limit too large to add to the header allowance must still let
	// frames grow past the initial buffer.
	big := strings.Repeat("b", 10000)
	stream = string(protocol.AppendBody(protocol.AppendStatus(nil, protocol.StatusOK), []byte(big)))
	r = protocol.NewReader(strings.NewReader(stream), math.MaxInt)
	if f, err := r.Next(); err != nil || string(f.Body) != big {
		t.Fatalf("Next() with the largest limit: %v", err)
	}
}

// TestReaderNoProgress checks that a reader returning nothing forever is an
// error, not a busy loop.
func TestReaderNoProgress(t *testing.T) {
	r := protocol.NewReader(emptyReader{}, 0)
	if _, err := r.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next() = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestFrameStatus(t *testing.T) {
	tests := []struct {
		give   string
		want   int
		wantOK bool
	}{
		{give: "CAMP/1.0 200 OK", want: 200, wantOK: true},
		{give: "CAMP/1.0 404 Not Found", want: 404, wantOK: true},
		{give: "CAMP/1.0 503", want: 503, wantOK: true},
		{give: "CAMP/1.0 20 OK"},
		{give: "CAMP/1.0 2000 OK"},
		{give: "CAMP/1.0 abc OK"},
		{give: "CAMP/1.0 -20 OK"},
		{give: "CAMP/1.0"},
		{give: "CAMP/1.0 "},
		{give: "CAMP/1.1 200 OK"},
		{give: "camp/1.0 200 OK"},
		{give: "JOINED J004 CAMP/1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			f := protocol.Frame{Start: []byte(tt.give), Full: true}
			got, ok := f.Status()
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Status() = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFrameEvent(t *testing.T) {
	tests := []struct {
		give     string
		wantName string
		wantArg  string
		wantOK   bool
	}{
		{give: "JOINED J004 CAMP/1.0", wantName: "JOINED", wantArg: "J004", wantOK: true},
		{give: "MESSAGE  J004\tCAMP/1.0", wantName: "MESSAGE", wantArg: "J004", wantOK: true},
		{give: "SHUTDOWN CAMP/1.0", wantName: "SHUTDOWN", wantOK: true},
		{give: "CAMP/1.0 200 OK"},
		{give: "CAMP/1.0 200 CAMP/1.0"},
		{give: "CAMP/1.0"},
		{give: "JOINED J004"},
		{give: "JOINED J004 camp/1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			f := protocol.Frame{Start: []byte(tt.give), Full: true}
			name, arg, ok := f.Event()
			if ok != tt.wantOK || string(name) != tt.wantName || string(arg) != tt.wantArg {
				t.Errorf("Event() = %q, %q, %v; want %q, %q, %v", name, arg, ok, tt.wantName, tt.wantArg, tt.wantOK)
			}
		})
	}
}

func TestFrameHeaders(t *testing.T) {
	f := protocol.Frame{
		Start: []byte("CAMP/1.0 200 OK"),
		Full:  true,
		Head:  []byte("Group: 1\r\nid:\t x-7 \r\nEmpty:\nGroup: 2\r\nContent-Length: 3\r\n"),
		Body:  []byte("abc"),
	}
	tests := []struct {
		give    string
		want    string
		wantNil bool
	}{
		{give: protocol.HeaderGroup, want: "1"},
		{give: "GROUP", want: "1"},
		{give: protocol.HeaderID, want: "x-7"},
		{give: protocol.HeaderContentLength, want: "3"},
		{give: "Empty", want: ""},
		{give: protocol.HeaderDay, wantNil: true},
		{give: "Grou", wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := f.Header(tt.give)
			if (got == nil) != tt.wantNil || string(got) != tt.want {
				t.Errorf("Header(%q) = %q (nil %v), want %q (nil %v)", tt.give, got, got == nil, tt.want, tt.wantNil)
			}
		})
	}

	var all []string
	for name, value := range f.Headers() {
		all = append(all, string(name)+"="+string(value))
	}
	want := []string{"Group=1", "id=x-7", "Empty=", "Group=2", "Content-Length=3"}
	if strings.Join(all, "|") != strings.Join(want, "|") {
		t.Errorf("Headers() = %q, want %q", all, want)
	}
	var first []string
	for name := range f.Headers() {
		first = append(first, string(name))
		break
	}
	if len(first) != 1 || first[0] != "Group" {
		t.Errorf("Headers() stopped early = %q, want [Group]", first)
	}

	var none protocol.Frame
	for name := range none.Headers() {
		t.Errorf("Headers() of a frame without headers yielded %q", name)
	}
	if got := none.Header(protocol.HeaderID); got != nil {
		t.Errorf("Header() of a frame without headers = %q", got)
	}
}
