package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"campfire/protocol"
)

// startProxied starts a camp service that expects PROXY headers, with its
// log observed.
func startProxied(t *testing.T, edit func(*Config)) (*Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.ProxyProtocol = true
	cfg.Grace = 2 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	s, err := Start(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, logs
}

func proxyV1(src string) []byte {
	return protocol.AppendProxyV1(nil, &protocol.ProxyHeader{Version: 1,
		Source: netip.MustParseAddrPort(src), Dest: netip.MustParseAddrPort("127.0.0.1:2022")})
}

func proxyV2(src string) []byte {
	return protocol.AppendProxyV2(nil, &protocol.ProxyHeader{Version: 2,
		Source: netip.MustParseAddrPort(src), Dest: netip.MustParseAddrPort("[::1]:2022")})
}

// exchange sends b and reads until the server closes or deadline.
func exchange(t *testing.T, addr string, b []byte, until string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	var got strings.Builder
	for !strings.Contains(got.String(), until) || until == "" {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			break
		}
	}
	return got.String()
}

// TestProxyHeader: the header's source address is the client's address in
// the log, for either version, and CAMP follows in the same write.
func TestProxyHeader(t *testing.T) {
	s, logs := startProxied(t, nil)
	tests := []struct {
		name   string
		header []byte
		camper string
		want   string
	}{
		{"v1", proxyV1("203.0.113.7:40001"), "J001", "203.0.113.7:40001"},
		{"v2 IPv6", proxyV2("[2001:db8::9]:40002"), "J002", "[2001:db8::9]:40002"},
		{"v2 LOCAL keeps the proxy's own address", protocol.AppendProxyV2(nil, &protocol.ProxyHeader{Version: 2, Local: true}), "J003", "127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := append(tt.header, "checkin "+tt.camper+"\r\ncheckout\r\n"...)
			got := exchange(t, s.Addr(), req, "Active")
			if !strings.Contains(got, "CAMP/1.0 200 OK\r\nGroup: 1") {
				t.Fatalf("reply %q", got)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				entries := logs.FilterMessage("checked in").FilterField(zap.String("camper", tt.camper)).All()
				if len(entries) == 1 {
					remote, _ := entries[0].ContextMap()["remote"].(string)
					if !strings.HasPrefix(remote, tt.want) {
						t.Errorf("checked in from %q, want %q", remote, tt.want)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no check-in logged for %s", tt.camper)
				}
				time.Sleep(10 * time.Millisecond) // polling the log with a deadline
			}
		})
	}
}

// TestProxyRefused: a connection without a valid header, or from a source
// that is not a trusted proxy, or whose header does not complete in time,
// is closed with nothing written.
func TestProxyRefused(t *testing.T) {
	s, _ := startProxied(t, func(cfg *Config) { cfg.FrameTimeout = 300 * time.Millisecond })
	untrusted, _ := startProxied(t, func(cfg *Config) { cfg.ProxyTrusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	tests := []struct {
		name string
		addr string
		give []byte
	}{
		{"no header", s.Addr(), []byte("ping\r\n")},
		{"malformed v1", s.Addr(), []byte("PROXY TCP4 1.2.3.4 5.6.7.8 x 2022\r\nping\r\n")},
		{"over-long v1", s.Addr(), []byte("PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n")},
		{"truncated v2 then nothing", s.Addr(), proxyV2("192.0.2.1:1")[:20]},
		{"incomplete v1 then nothing", s.Addr(), []byte("PROXY TCP4 192.0.2.1 ")},
		{"untrusted source", untrusted.Addr(), append(proxyV1("192.0.2.1:1"), "ping\r\n"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := nc.Write(tt.give); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(nc)
			if len(got) > 0 {
				t.Errorf("got %q, want nothing", got)
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("still open after 5s")
			}
		})
	}
}

// TestProxyPerIP: the per-IP cap counts the client's address from the
// header, not the proxy's.
func TestProxyPerIP(t *testing.T) {
	s, _ := startProxied(t, func(cfg *Config) { cfg.MaxConnsPerIP = 1 })
	dialAs := func(src string) (net.Conn, *bufio.Reader) {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(append(proxyV1(src), "ping\r\n"...)); err != nil {
			t.Fatal(err)
		}
		return nc, bufio.NewReader(nc)
	}
	status := func(r *bufio.Reader) string {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		return strings.TrimSpace(line)
	}
	_, a := dialAs("198.51.100.1:1000")
	if got := status(a); got != "CAMP/1.0 200 OK" {
		t.Fatalf("first from 198.51.100.1: %q", got)
	}
	_, b := dialAs("198.51.100.1:1001")
	if got := status(b); got != "CAMP/1.0 503 Service Unavailable" {
		t.Fatalf("second from 198.51.100.1: %q, want 503", got)
	}
	_, c := dialAs("198.51.100.2:1000")
	if got := status(c); got != "CAMP/1.0 200 OK" {
		t.Fatalf("first from 198.51.100.2: %q", got)
	}
}
