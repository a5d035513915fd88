package protocol_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"campfire/protocol"
)

// The headers below are the ones HAProxy's proxy-protocol.txt gives or
// describes byte for byte: the v1 example of section 2.1 and its longest
// lines, and v2 headers laid out as its struct proxy_hdr_v2 and union
// proxy_addr say (HAProxy's "send-proxy-v2" writes TCP over IPv4 as
// \x21\x11 with length 12, and a health check as LOCAL \x20\x00 with
// length 0). The TLV case is shaped like an AWS Network Load Balancer's:
// type 0xEA, subtype 0x01, the VPC endpoint id.
const (
	v2Sig = "\r\n\r\n\x00\r\nQUIT\n"

	v1Spec        = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
	v1TCP6        = "PROXY TCP6 2001:db8::1 2001:db8::11 56324 2022\r\n"
	v1TCP6Longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
	v1Unknown     = "PROXY UNKNOWN\r\n"
	v1Worst       = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

	v2TCP4  = v2Sig + "\x21\x11\x00\x0c" + "\xc0\xa8\x00\x01" + "\xc0\xa8\x00\x0b" + "\xdc\x04" + "\x01\xbb"
	v2TCP6  = v2Sig + "\x21\x21\x00\x24" + "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" + "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x11" + "\xdc\x04" + "\x07\xe6"
	v2Local = v2Sig + "\x20\x00\x00\x00"
	v2AWS   = v2Sig + "\x21\x11\x00\x26" + "\x0a\x00\x00\x05" + "\x0a\x00\x00\x0a" + "\xdc\x04" + "\x07\xe6" +
		"\xea\x00\x17\x01vpce-08d2bf15fac5001c9"
)

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseProxy(t *testing.T) {
	unix := v2Sig + "\x21\x31\x00\xd8" + "/var/run/src.sock" + strings.Repeat("\x00", 108-17) + "/var/run/dst.sock" + strings.Repeat("\x00", 108-17)
	tests := []struct {
		name    string
		give    string
		want    protocol.ProxyHeader
		wantN   int
		wantErr bool
		errAt   int // for an error, the length of the shortest prefix refused, if checked
	}{
		{
			name:  "v1 example of the specification, a request after it",
			give:  v1Spec + "GET / HTTP/1.1\r\n",
			want:  protocol.ProxyHeader{Version: 1, Source: addrPort("192.168.0.1:56324"), Dest: addrPort("192.168.0.11:443")},
			wantN: len(v1Spec),
		},
		{
			name:  "v1 TCP6",
			give:  v1TCP6 + "checkin J004\r\n",
			want:  protocol.ProxyHeader{Version: 1, Source: addrPort("[2001:db8::1]:56324"), Dest: addrPort("[2001:db8::11]:2022")},
			wantN: len(v1TCP6),
		},
		{
			name:  "v1 TCP6 of the longest addresses",
			give:  v1TCP6Longest,
			want:  protocol.ProxyHeader{Version: 1, Source: addrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Dest: addrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")},
			wantN: len(v1TCP6Longest),
		},
		{
			name:  "v1 TCP6 IPv4-mapped and upper case",
			give:  "PROXY TCP6 ::FFFF:10.0.0.1 ::1 0 1\r\n",
			want:  protocol.ProxyHeader{Version: 1, Source: addrPort("[::ffff:10.0.0.1]:0"), Dest: addrPort("[::1]:1")},
			wantN: len("PROXY TCP6 ::FFFF:10.0.0.1 ::1 0 1\r\n"),
		},
		{
			name:  "v1 UNKNOWN",
			give:  v1Unknown + "ping\r\n",
			want:  protocol.ProxyHeader{Version: 1},
			wantN: len(v1Unknown),
		},
		{
			name:  "v1 UNKNOWN of the longest line, the rest ignored",
			give:  v1Worst,
			want:  protocol.ProxyHeader{Version: 1},
			wantN: protocol.MaxProxyV1,
		},
		{
			name:  "v2 TCP over IPv4",
			give:  v2TCP4 + "checkin J004\r\n",
			want:  protocol.ProxyHeader{Version: 2, Source: addrPort("192.168.0.1:56324"), Dest: addrPort("192.168.0.11:443")},
			wantN: len(v2TCP4),
		},
		{
			name:  "v2 TCP over IPv6",
			give:  v2TCP6,
			want:  protocol.ProxyHeader{Version: 2, Source: addrPort("[2001:db8::1]:56324"), Dest: addrPort("[2001:db8::11]:2022")},
			wantN: len(v2TCP6),
		},
		{
			name:  "v2 LOCAL",
			give:  v2Local + "ping\r\n",
			want:  protocol.ProxyHeader{Version: 2, Local: true},
			wantN: len(v2Local),
		},
		{
			name:  "v2 LOCAL with addresses and any family byte",
			give:  v2Sig + "\x20\xff\x00\x04abcd",
			want:  protocol.ProxyHeader{Version: 2, Local: true},
			wantN: 20,
		},
		{
			name:  "v2 TLVs are skipped",
			give:  v2AWS + "ping\r\n",
			want:  protocol.ProxyHeader{Version: 2, Source: addrPort("10.0.0.5:56324"), Dest: addrPort("10.0.0.10:2022")},
			wantN: len(v2AWS),
		},
		{
			name:  "v2 AF_UNSPEC",
			give:  v2Sig + "\x21\x00\x00\x00",
			want:  protocol.ProxyHeader{Version: 2},
			wantN: 16,
		},
		{
			name:  "v2 UDP over IPv4 keeps the real peer",
			give:  v2Sig + "\x21\x12\x00\x0c" + "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02",
			want:  protocol.ProxyHeader{Version: 2},
			wantN: 28,
		},
		{
			name:  "v2 AF_UNIX keeps the real peer",
			give:  unix,
			want:  protocol.ProxyHeader{Version: 2},
			wantN: len(unix),
		},
		{
			name:  "v2 of the largest size",
			give:  v2Sig + "\x21\x11\x07\xf0" + strings.Repeat("\x01", protocol.MaxProxyV2-16),
			want:  protocol.ProxyHeader{Version: 2, Source: addrPort("1.1.1.1:257"), Dest: addrPort("1.1.1.1:257")},
			wantN: protocol.MaxProxyV2,
		},
		{name: "a request without a header", give: "checkin J004\r\n", wantErr: true, errAt: 1},
		{name: "a request that starts like PROXY", give: "PING\r\n", wantErr: true, errAt: 2},
		{name: "telnet negotiation", give: "\xff\xfd\x06", wantErr: true, errAt: 1},
		{name: "v1 without its space", give: "PROXY\r\n", wantErr: true, errAt: 6},
		{name: "v1 lower case", give: "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", wantErr: true, errAt: 1},
		{name: "v1 over 107 bytes", give: "PROXY UNKNOWN " + strings.Repeat("f", 92) + "\r\n", wantErr: true, errAt: protocol.MaxProxyV1},
		{name: "v1 line ending with LF alone", give: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nping", wantErr: true, errAt: 31},
		{name: "v1 line with a lone CR", give: "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", wantErr: true, errAt: 20},
		{name: "v1 empty protocol", give: "PROXY \r\n", wantErr: true},
		{name: "v1 unknown protocol", give: "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", wantErr: true},
		{name: "v1 UNKNOWN run on", give: "PROXY UNKNOWNX\r\n", wantErr: true},
		{name: "v1 two spaces", give: "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", wantErr: true},
		{name: "v1 missing a port", give: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", wantErr: true},
		{name: "v1 a field too many", give: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", wantErr: true},
		{name: "v1 trailing space", give: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", wantErr: true},
		{name: "v1 IPv4 leading zero", give: "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", wantErr: true},
		{name: "v1 IPv4 octet over 255", give: "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", wantErr: true},
		{name: "v1 IPv4 of three octets", give: "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", wantErr: true},
		{name: "v1 TCP4 with IPv6", give: "PROXY TCP4 ::1 ::1 1 2\r\n", wantErr: true},
		{name: "v1 TCP6 with IPv4", give: "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", wantErr: true},
		{name: "v1 TCP6 with a zone", give: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", wantErr: true},
		{name: "v1 TCP6 with two ellipses", give: "PROXY TCP6 1::2::3 ::1 1 2\r\n", wantErr: true},
		{name: "v1 port over 65535", give: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", wantErr: true},
		{name: "v1 port with a leading zero", give: "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", wantErr: true},
		{name: "v1 negative port", give: "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", wantErr: true},
		{name: "v2 signature broken", give: v2Sig[:8] + "X", wantErr: true, errAt: 9},
		{name: "v2 version 1", give: v2Sig + "\x11\x11\x00\x0c", wantErr: true, errAt: 13},
		{name: "v2 version 3", give: v2Sig + "\x31\x11\x00\x0c", wantErr: true, errAt: 13},
		{name: "v2 unknown command", give: v2Sig + "\x22\x11\x00\x0c", wantErr: true, errAt: 13},
		{name: "v2 unknown family", give: v2Sig + "\x21\x41\x00\x0c", wantErr: true, errAt: 14},
		{name: "v2 unknown transport", give: v2Sig + "\x21\x13\x00\x0c", wantErr: true, errAt: 14},
		{name: "v2 longer than the limit", give: v2Sig + "\x21\x11\x07\xf1", wantErr: true, errAt: 16},
		{name: "v2 longest length", give: v2Sig + "\x21\x11\xff\xff", wantErr: true, errAt: 16},
		{name: "v2 IPv4 addresses past the length", give: v2Sig + "\x21\x11\x00\x08" + "\x01\x02\x03\x04\x05\x06\x07\x08", wantErr: true, errAt: 16},
		{name: "v2 IPv6 addresses past the length", give: v2Sig + "\x21\x21\x00\x0c" + strings.Repeat("\x01", 12), wantErr: true, errAt: 16},
		{name: "v2 UNIX addresses past the length", give: v2Sig + "\x21\x31\x00\x24" + strings.Repeat("\x01", 36), wantErr: true, errAt: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(tt.give)
			checkProxySplit(t, buf)
			var h protocol.ProxyHeader
			n, err := protocol.ParseProxy(buf, &h)
			if tt.wantErr {
				if !errors.Is(err, protocol.ErrProxy) || n != 0 {
					t.Fatalf("ParseProxy = %d, %v; want an ErrProxy", n, err)
				}
				if tt.errAt > 0 {
					if n, err := protocol.ParseProxy(buf[:tt.errAt-1], &h); n != 0 || err != nil {
						t.Errorf("ParseProxy of the first %d bytes = %d, %v; want need more", tt.errAt-1, n, err)
					}
					if _, err := protocol.ParseProxy(buf[:tt.errAt], &h); !errors.Is(err, protocol.ErrProxy) {
						t.Errorf("ParseProxy of the first %d bytes = %v; want an ErrProxy", tt.errAt, err)
					}
				}
				return
			}
			if err != nil || n != tt.wantN {
				t.Fatalf("ParseProxy = %d, %v; want %d", n, err, tt.wantN)
			}
			if h != tt.want {
				t.Errorf("header = %+v\nwant     %+v", h, tt.want)
			}
		})
	}
}

// checkProxySplit checks every beginning of buf against buf whole: a
// beginning shorter than the header needs more, never fails; one that holds
// the header gives the same header; one that fails means buf fails too.
func checkProxySplit(t *testing.T, buf []byte) {
	t.Helper()
	var whole protocol.ProxyHeader
	wantN, wantErr := protocol.ParseProxy(buf, &whole)
	for cut := range len(buf) {
		var h protocol.ProxyHeader
		n, err := protocol.ParseProxy(buf[:cut], &h)
		switch {
		case n < 0 || n > cut:
			t.Fatalf("ParseProxy(%q) = %d for %d bytes", buf[:cut], n, cut)
		case err != nil:
			if wantErr == nil {
				t.Fatalf("ParseProxy(%q) = %v, but the whole %q gives a header of %d bytes", buf[:cut], err, buf, wantN)
			}
			if !errors.Is(err, protocol.ErrProxy) {
				t.Fatalf("ParseProxy(%q) = %v, not an ErrProxy", buf[:cut], err)
			}
		case n > 0:
			if n != wantN || h != whole {
				t.Fatalf("ParseProxy(%q) = %d, %+v; the whole gives %d, %+v, %v", buf[:cut], n, h, wantN, whole, wantErr)
			}
		case wantN > 0 && cut >= wantN:
			t.Fatalf("ParseProxy(%q) needs more, holding the whole header of %d bytes", buf[:cut], wantN)
		}
	}
}

// TestParseIP compares the allocation-free address parsers with
// net/netip on addresses of every shape.
func TestParseIP(t *testing.T) {
	tests := []string{
		"0.0.0.0", "255.255.255.255", "1.2.3.4", "01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3",
		"1.2.3.4.", ".1.2.3", "1.2.3.-4", "1.2.3.4 ", "", "1234.1.1.1",
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7:8::", "1::2::3", ":1", "1:", ":::", "12345::", "abcd:EF01::", "g::", "::ffff:1.2.3.4",
		"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:1.2.3.4", "::1.2.3.4", "1.2.3.4::", "::1.2.3",
		"fe80::1%eth0", "::ffff:01.2.3.4", "0:0:0:0:0:0:0:0", "::0:1", "1:2:3:4:5:6::7", "1::2:3:4:5:6:7",
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			compareIP(t, s)
		})
	}
}

// compareIP checks that ParseIPv4 accepts exactly what netip takes for an
// IPv4 address and ParseIPv6 exactly what it takes for an IPv6 address
// without a zone, with the same result.
func compareIP(t *testing.T, s string) {
	t.Helper()
	want, err := netip.ParseAddr(s)
	want4 := err == nil && want.Is4()
	want6 := err == nil && want.Is6() && want.Zone() == ""
	if got, ok := protocol.ParseIPv4([]byte(s)); ok != want4 || ok && got != want {
		t.Fatalf("ParseIPv4(%q) = %v, %v; netip says %v, %v", s, got, ok, want, err)
	}
	if got, ok := protocol.ParseIPv6([]byte(s)); ok != want6 || ok && got != want {
		t.Fatalf("ParseIPv6(%q) = %v, %v; netip says %v, %v", s, got, ok, want, err)
	}
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::ffff:1.2.3.4", "2001:db8::1", "1:2:3:4:5:6:7:8", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(compareIP)
}

func TestAppendProxy(t *testing.T) {
	tests := []struct {
		name   string
		give   protocol.ProxyHeader
		wantV1 string
		wantV2 string
	}{
		{
			name:   "IPv4",
			give:   protocol.ProxyHeader{Source: addrPort("192.168.0.1:56324"), Dest: addrPort("192.168.0.11:443")},
			wantV1: v1Spec,
			wantV2: v2TCP4,
		},
		{
			name:   "IPv6",
			give:   protocol.ProxyHeader{Source: addrPort("[2001:db8::1]:56324"), Dest: addrPort("[2001:db8::11]:2022")},
			wantV1: v1TCP6,
			wantV2: v2TCP6,
		},
		{
			name:   "IPv4 and IPv6 become IPv6",
			give:   protocol.ProxyHeader{Source: addrPort("1.2.3.4:1"), Dest: addrPort("[::1]:2")},
			wantV1: "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n",
			wantV2: v2Sig + "\x21\x21\x00\x24" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" + "\x00\x01\x00\x02",
		},
		{
			name:   "zones dropped",
			give:   protocol.ProxyHeader{Source: addrPort("[fe80::1%eth0]:1"), Dest: addrPort("[fe80::2%eth0]:2")},
			wantV1: "PROXY TCP6 fe80::1 fe80::2 1 2\r\n",
			wantV2: v2Sig + "\x21\x21\x00\x24" + "\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" + "\xfe\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02" + "\x00\x01\x00\x02",
		},
		{
			name:   "no addresses",
			give:   protocol.ProxyHeader{Source: addrPort("1.2.3.4:1")},
			wantV1: v1Unknown,
			wantV2: v2Sig + "\x21\x00\x00\x00",
		},
		{
			name:   "LOCAL",
			give:   protocol.ProxyHeader{Local: true, Source: addrPort("1.2.3.4:1"), Dest: addrPort("1.2.3.4:2")},
			wantV1: v1Unknown,
			wantV2: v2Local,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := protocol.AppendProxyV1([]byte("x"), &tt.give); string(got) != "x"+tt.wantV1 {
				t.Errorf("AppendProxyV1 = %q, want %q", got, "x"+tt.wantV1)
			}
			if got := protocol.AppendProxyV2([]byte("x"), &tt.give); string(got) != "x"+tt.wantV2 {
				t.Errorf("AppendProxyV2 = %q, want %q", got, "x"+tt.wantV2)
			}
		})
	}
}

// FuzzParseProxy checks that ParseProxy never panics, stays within buf and
// agrees with itself on every beginning of the input, and that headers
// from the encoders, built from fuzzed addresses, read back as written.
func FuzzParseProxy(f *testing.F) {
	for _, s := range []string{v1Spec, v1TCP6, v1Unknown, v1Worst, v2TCP4, v2TCP6, v2Local, v2AWS, "checkin J004\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"} {
		f.Add([]byte(s+"ping\r\n"), []byte("\xc0\xa8\x00\x01"), []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint16(56324), uint16(443), false, false)
	}
	f.Fuzz(func(t *testing.T, data, src, dst []byte, sport, dport uint16, v2, local bool) {
		var h protocol.ProxyHeader
		n, err := protocol.ParseProxy(data, &h)
		if n < 0 || n > len(data) || err != nil && n != 0 {
			t.Fatalf("ParseProxy(%q) = %d, %v", data, n, err)
		}
		if err != nil && !errors.Is(err, protocol.ErrProxy) {
			t.Fatalf("ParseProxy(%q) = %v, not an ErrProxy", data, err)
		}
		if n > 0 && (h.Version != 1 && h.Version != 2 || h.Source.IsValid() != h.Dest.IsValid() || h.Local && h.Source.IsValid()) {
			t.Fatalf("ParseProxy(%q) = %+v", data, h)
		}
		checkProxySplit(t, data)

		give := protocol.ProxyHeader{Local: local && v2, Source: fuzzAddrPort(src, sport), Dest: fuzzAddrPort(dst, dport)}
		want := give
		want.Version = 1
		encode := protocol.AppendProxyV1
		if v2 {
			want.Version, encode = 2, protocol.AppendProxyV2
		}
		switch {
		case want.Local || !give.Source.IsValid() || !give.Dest.IsValid():
			want.Source, want.Dest = netip.AddrPort{}, netip.AddrPort{}
		case give.Source.Addr().Is4() != give.Dest.Addr().Is4():
			// One IPv4 address and one IPv6: both travel as IPv6.
			want.Source = netip.AddrPortFrom(netip.AddrFrom16(give.Source.Addr().As16()), sport)
			want.Dest = netip.AddrPortFrom(netip.AddrFrom16(give.Dest.Addr().As16()), dport)
		}
		buf := encode(nil, &give)
		buf = append(buf, data...)
		if n, err := protocol.ParseProxy(buf, &h); n != len(buf)-len(data) || err != nil || h != want {
			t.Fatalf("ParseProxy(%q) = %d, %+v, %v; want %d, %+v", buf, n, h, err, len(buf)-len(data), want)
		}
	})
}

// fuzzAddrPort makes an address from fuzzed bytes: IPv4 from 4, IPv6 from
// 16 (IPv4-mapped kept), none from any other length.
func fuzzAddrPort(b []byte, port uint16) netip.AddrPort {
	switch len(b) {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b)), port)
	case 16:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b)), port)
	}
	return netip.AddrPort{}
}
