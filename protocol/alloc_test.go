package protocol_test

import (
	"bytes"
	"testing"

	"campfire/protocol"
)

// The hot paths run once per request and per delivered frame; they must not
// allocate.
func TestZeroAllocs(t *testing.T) {
	body := bytes.Repeat([]byte("m"), 64)
	var (
		p   protocol.Parser
		f   protocol.Frame
		dst = make([]byte, 0, 1024)
		tn  = []byte("chec\xff\xfd\x06kin J004\xff\xf1\r\n")
		rf  = protocol.Frame{Start: []byte("CAMP/1.0 200 OK"), Full: true, Head: []byte("Id: 1\r\nGroup: 2\r\n")}
	)
	parse := func(raw []byte, want protocol.Method) func() {
		return func() {
			n, ok, err := p.Parse(raw, &f)
			if n != len(raw) || !ok || err != nil {
				t.Fatalf("Parse = %d, %v, %v", n, ok, err)
			}
			r := f.Request()
			if r.Method != want {
				t.Fatalf("Method = %v, want %v", r.Method, want)
			}
			if _, err := protocol.ParseArgs(&r, protocol.DefaultIDs()); err != nil {
				t.Fatal(err)
			}
		}
	}
	var h protocol.ProxyHeader
	parseProxy := func(header string, family int) func() {
		raw := []byte(header + "ping\r\n")
		return func() {
			n, err := protocol.ParseProxy(raw, &h)
			if n != len(header) || err != nil || h.Source.Addr().Is4() != (family == 4) {
				t.Fatalf("ParseProxy = %d, %+v, %v", n, h, err)
			}
		}
	}
	tests := []struct {
		name string
		give func()
	}{
		{name: "parse short form", give: parse([]byte("checkin J004\r\n"), protocol.MethodCheckin)},
		{name: "parse full form with Id and body", give: parse([]byte("MESSAGE CAMP/1.0\r\nId: 17\r\nContent-Length: 9\r\n\r\nhello all"), protocol.MethodMessage)},
		{name: "parse full direct", give: parse([]byte("DIRECT to J005 CAMP/1.0\r\nId: abc\r\nContent-Length: 2\r\n\r\nhi"), protocol.MethodDirect)},
		{name: "parse a line holding telnet commands, once warm", give: func() {
			for used := 0; ; {
				n, ok, err := p.Parse(tn[used:], &f)
				if n == 0 || err != nil {
					t.Fatalf("Parse = %d, %v, %v", n, ok, err)
				}
				used += n
				dst = p.AppendTelnetReply(dst[:0])
				if ok {
					break
				}
			}
			if r := f.Request(); r.Method != protocol.MethodCheckin || string(r.Args) != "J004" {
				t.Fatalf("Request() = %+v", r)
			}
		}},
		{name: "parse PROXY v1 TCP4", give: parseProxy(v1Spec, 4)},
		{name: "parse PROXY v1 TCP6", give: parseProxy(v1TCP6, 6)},
		{name: "parse PROXY v2 with TLVs", give: parseProxy(v2AWS, 4)},
		{name: "encode response", give: func() {
			dst = protocol.AppendStatus(dst[:0], protocol.StatusOK)
			dst = protocol.AppendHeader(dst, protocol.HeaderID, []byte("17"))
			dst = protocol.AppendHeaderInt(dst, protocol.HeaderDay, 4)
			dst = protocol.AppendBody(dst, []byte("Heap, Stack"))
		}},
		{name: "encode event", give: func() {
			dst = protocol.AppendEvent(dst[:0], protocol.EventMessage, []byte("J003"))
			dst = protocol.AppendHeaderInt(dst, protocol.HeaderGroup, 1)
			dst = protocol.AppendBody(dst, body)
		}},
		{name: "encode error", give: func() {
			dst = protocol.AppendError(dst[:0], protocol.StatusBadRequest, []byte("17"), "empty text")
		}},
		{name: "read a response's parts", give: func() {
			if code, ok := rf.Status(); !ok || code != 200 {
				t.Fatal("Status")
			}
			if rf.Header(protocol.HeaderGroup) == nil {
				t.Fatal("Header")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tt.give); got != 0 {
				t.Errorf("%v allocations per run, want 0", got)
			}
		})
	}
}
