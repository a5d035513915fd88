package bench

import (
	"net"
	"net/netip"
	"testing"
)

func TestParseSources(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    []string // first, last
		wantLen int
		wantErr bool
	}{
		{name: "range", give: "127.0.0.2-127.0.0.40", want: []string{"127.0.0.2", "127.0.0.40"}, wantLen: 39},
		{name: "single", give: "127.0.0.9", want: []string{"127.0.0.9", "127.0.0.9"}, wantLen: 1},
		{name: "list and ranges", give: "127.0.0.2, 127.0.0.5-127.0.0.7", want: []string{"127.0.0.2", "127.0.0.7"}, wantLen: 4},
		{name: "across an octet", give: "127.0.0.254-127.0.1.1", want: []string{"127.0.0.254", "127.0.1.1"}, wantLen: 4},
		{name: "not loopback", give: "10.0.0.1", wantErr: true},
		{name: "range leaving loopback", give: "127.0.0.1-128.0.0.1", wantErr: true},
		{name: "reversed", give: "127.0.0.9-127.0.0.2", wantErr: true},
		{name: "IPv6", give: "::1", wantErr: true},
		{name: "garbage", give: "127.0.0.x", wantErr: true},
		{name: "empty", give: " , ", wantErr: true},
		{name: "too many", give: "127.0.0.0-127.1.0.0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSources(tt.give)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSources(%q) = %v, want an error", tt.give, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSources(%q): %v", tt.give, err)
			}
			if len(got) != tt.wantLen || got[0].String() != tt.want[0] || got[len(got)-1].String() != tt.want[1] {
				t.Errorf("ParseSources(%q) = %d addresses %v..%v, want %d %v", tt.give, len(got), got[0], got[len(got)-1], tt.wantLen, tt.want)
			}
		})
	}
}

func TestDialersRoundRobin(t *testing.T) {
	srcs, err := ParseSources("127.0.0.2-127.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	ds := NewDialers(srcs, net.Dialer{})
	tests := []struct {
		give int
		want string
	}{
		{0, "127.0.0.2"}, {1, "127.0.0.3"}, {2, "127.0.0.4"}, {3, "127.0.0.2"}, {7, "127.0.0.3"}, {9999, "127.0.0.2"},
	}
	for _, tt := range tests {
		got := ds.For(tt.give).LocalAddr.(*net.TCPAddr).IP.String()
		if got != tt.want {
			t.Errorf("For(%d) binds %s, want %s", tt.give, got, tt.want)
		}
	}
	if d := NewDialers(nil, net.Dialer{}).For(5); d.LocalAddr != nil {
		t.Errorf("without sources, For binds %v", d.LocalAddr)
	}
}

// TestDialersBind dials a listener through spread dialers and checks the
// server sees each connection come from its source address.
func TestDialersBind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	ds := NewDialers(srcs, net.Dialer{})
	for i := range 4 {
		c, err := ds.For(i).Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got := s.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
		s.Close()
		if want := srcs[i%2].String(); got != want {
			t.Errorf("connection %d came from %s, want %s", i, got, want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		give    string
		wantErr bool
	}{
		{"127.0.0.1:2022", false},
		{"127.9.9.9:1", false},
		{"localhost:2022", false},
		{"[::1]:2022", false},
		{"10.1.2.3:2022", true},
		{"example.com:80", true},
		{"0.0.0.0:2022", true},
		{"127.0.0.1", true},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.give); (err != nil) != tt.wantErr {
			t.Errorf("checkLoopback(%q) = %v, want error %v", tt.give, err, tt.wantErr)
		}
	}
}
