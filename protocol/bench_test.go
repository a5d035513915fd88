package protocol_test

import (
	"bytes"
	"testing"

	"campfire/protocol"
)

// benchParse parses raw, one whole request, as the server does: frame,
// request, arguments.
func benchParse(b *testing.B, raw []byte) {
	var p protocol.Parser
	var f protocol.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		n, ok, err := p.Parse(raw, &f)
		if n != len(raw) || !ok || err != nil {
			b.Fatalf("Parse = %d, %v, %v", n, ok, err)
		}
		r := f.Request()
		if _, err := protocol.ParseArgs(&r, protocol.DefaultIDs()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseShort(b *testing.B) {
	benchParse(b, []byte("checkin J004\r\n"))
}

func BenchmarkParseFull(b *testing.B) {
	benchParse(b, []byte("MESSAGE CAMP/1.0\r\nId: 17\r\nContent-Length: 9\r\n\r\nhello all"))
}

// BenchmarkParsePipelined parses a buffer of 100 pipelined requests of
// both forms, blank lines included, per op.
func BenchmarkParsePipelined(b *testing.B) {
	var buf []byte
	for range 25 {
		buf = append(buf, "ping\r\n"...)
		buf = append(buf, "message hello all\r\n"...)
		buf = append(buf, "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n\r\n"...)
		buf = append(buf, "MESSAGE CAMP/1.0\r\nId: 18\r\nContent-Length: 9\r\n\r\nhello all\r\n"...)
	}
	var p protocol.Parser
	var f protocol.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		frames := 0
		for rest := buf; len(rest) > 0; {
			n, ok, err := p.Parse(rest, &f)
			if n == 0 || err != nil {
				b.Fatalf("Parse = %d, %v, %v", n, ok, err)
			}
			rest = rest[n:]
			if !ok {
				continue
			}
			frames++
			r := f.Request()
			if _, err := protocol.ParseArgs(&r, protocol.DefaultIDs()); err != nil {
				b.Fatal(err)
			}
		}
		if frames != 100 {
			b.Fatalf("%d frames, want 100", frames)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	dst := make([]byte, 0, 256)
	id := []byte("17")
	keywords := []byte("Heap, Stack")
	b.ReportAllocs()
	for b.Loop() {
		dst = protocol.AppendStatus(dst[:0], protocol.StatusOK)
		dst = protocol.AppendHeader(dst, protocol.HeaderID, id)
		dst = protocol.AppendHeaderInt(dst, protocol.HeaderDay, 4)
		dst = protocol.AppendBody(dst, keywords)
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkEncodeEvent(b *testing.B) {
	dst := make([]byte, 0, 256)
	sender := []byte("J003")
	body := bytes.Repeat([]byte("m"), 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = protocol.AppendEvent(dst[:0], protocol.EventMessage, sender)
		dst = protocol.AppendHeaderInt(dst, protocol.HeaderGroup, 1)
		dst = protocol.AppendBody(dst, body)
	}
	b.SetBytes(int64(len(dst)))
}

// BenchmarkParseTelnet parses what telnet sends for Ctrl-C then a line
// with a command in it, answers taken as the server takes them: the cost
// of the copying path, next to BenchmarkParseShort.
func BenchmarkParseTelnet(b *testing.B) {
	raw := []byte("\xff\xf4\xff\xfd\x06chec\xff\xf1kin J004\r\n")
	var p protocol.Parser
	var f protocol.Frame
	reply := make([]byte, 0, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		for used := 0; ; {
			n, ok, err := p.Parse(raw[used:], &f)
			if n == 0 || err != nil {
				b.Fatalf("Parse = %d, %v, %v", n, ok, err)
			}
			used += n
			reply = p.AppendTelnetReply(reply[:0])
			if ok {
				break
			}
		}
		r := f.Request()
		if _, err := protocol.ParseArgs(&r, protocol.DefaultIDs()); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParseProxy parses one PROXY header with the connection's first
// request behind it, as a server does once per connection.
func benchParseProxy(b *testing.B, header string) {
	raw := []byte(header + "checkin J004\r\n")
	var h protocol.ProxyHeader
	b.ReportAllocs()
	b.SetBytes(int64(len(header)))
	for b.Loop() {
		if n, err := protocol.ParseProxy(raw, &h); n != len(header) || err != nil {
			b.Fatalf("ParseProxy = %d, %v", n, err)
		}
	}
}

func BenchmarkParseProxyV1TCP4(b *testing.B) { benchParseProxy(b, v1Spec) }
func BenchmarkParseProxyV1TCP6(b *testing.B) { benchParseProxy(b, v1TCP6) }
func BenchmarkParseProxyV2(b *testing.B)     { benchParseProxy(b, v2TCP4) }
