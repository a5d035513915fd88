package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) lets a
// proxy in front of the server tell it who the client is: the proxy opens
// the connection and sends one header before the client's bytes.

const (
	// MaxProxyV1 is the longest version 1 header, CRLF included, as the
	// specification bounds it.
	MaxProxyV1 = 107
	// MaxProxyV2 is the longest version 2 header accepted, the 16 fixed
	// bytes included. The specification allows 16+65535; addresses take at
	// most 216 bytes and the TLVs proxies send (ALPN, SNI, TLS details,
	// cloud endpoint ids) a few hundred, so a longer header is refused
	// rather than buffered.
	MaxProxyV2 = 2048
)

// ErrProxy means the bytes are not a valid PROXY protocol header. ParseProxy
// wraps it with the detail.
var ErrProxy = errors.New("bad PROXY header")

// ProxyHeader is what a PROXY protocol header says about a connection.
type ProxyHeader struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local reports a version 2 LOCAL header: the proxy's own connection,
	// such as a health check, for which the real peer address stands.
	Local bool
	// Source and Dest are the client's address and the address it
	// connected to. Both are the zero AddrPort (not valid) when the header
	// carries no TCP addresses: LOCAL, v1 UNKNOWN, and v2 AF_UNSPEC,
	// AF_UNIX or a non-stream transport; the caller then keeps the real
	// peer address. An IPv4-mapped IPv6 address stays as sent (TCP6 and
	// AF_INET6 say IPv6): use Addr().Unmap() to compare it with IPv4 ones.
	Source, Dest netip.AddrPort
}

const (
	proxyV1Prefix = "PROXY "
	proxyV2Sig    = "\r\n\r\n\x00\r\nQUIT\n"
	proxyV2Fixed  = 16 // signature, version and command, family, length

	proxyLocal = 0x0
	proxyProxy = 0x1

	proxyUnspec = 0x0 // both a family and a transport
	proxyInet   = 0x1
	proxyInet6  = 0x2
	proxyUnix   = 0x3
	proxyStream = 0x1
	proxyDgram  = 0x2
)

// proxyAddrLen is the address block of each v2 family.
var proxyAddrLen = [...]int{proxyUnspec: 0, proxyInet: 12, proxyInet6: 36, proxyUnix: 216}

// ParseProxy reads the PROXY protocol header (version 1 or 2, told apart by
// their signatures) at the start of buf, which holds the first bytes of a
// connection.
//
// It returns n > 0 when buf starts with a whole, valid header of n bytes,
// described in h; the connection's own bytes follow it. It returns n == 0
// and no error when buf is a proper beginning of a valid header (call again
// with more). An error wrapping ErrProxy means the bytes cannot be a valid
// header: the caller closes the connection without writing anything. The
// error comes as soon as the bytes rule a header out: at the first byte
// that fits neither signature (so a client that forgot the header is
// refused at once, not after a timeout), at a v1 line of MaxProxyV1 bytes
// without CRLF or with a lone CR or LF, at a v2 version, command, family,
// transport or length that cannot be valid. ParseProxy neither allocates
// nor retains buf, and sets h only when n > 0.
func ParseProxy(buf []byte, h *ProxyHeader) (n int, err error) {
	if len(buf) == 0 {
		return 0, nil
	}
	switch buf[0] {
	case proxyV1Prefix[0]:
		return parseProxyV1(buf, h)
	case proxyV2Sig[0]:
		return parseProxyV2(buf, h)
	}
	return 0, fmt.Errorf("%w: not a PROXY signature: %s", ErrProxy, snippet(buf))
}

// hasPrefixSoFar reports whether buf and prefix agree as far as both go.
func hasPrefixSoFar(buf []byte, prefix string) bool {
	n := min(len(buf), len(prefix))
	return string(buf[:n]) == prefix[:n]
}

// parseProxyV1 reads "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN...\r\n".
func parseProxyV1(buf []byte, h *ProxyHeader) (int, error) {
	if !hasPrefixSoFar(buf, proxyV1Prefix) {
		return 0, fmt.Errorf("%w: not a PROXY signature: %s", ErrProxy, snippet(buf))
	}
	window := buf[:min(len(buf), MaxProxyV1)]
	// The line must end with CRLF and hold no other CR or LF.
	if cr := bytes.IndexByte(window, '\r'); cr >= 0 && cr+1 < len(buf) && buf[cr+1] != '\n' {
		return 0, fmt.Errorf("%w: v1 line with a CR not before LF: %s", ErrProxy, snippet(window))
	}
	lf := bytes.IndexByte(window, '\n')
	if lf < 0 {
		if len(window) == MaxProxyV1 {
			return 0, fmt.Errorf("%w: v1 line without CRLF in %d bytes: %s", ErrProxy, MaxProxyV1, snippet(window))
		}
		return 0, nil
	}
	if lf == 0 || buf[lf-1] != '\r' {
		return 0, fmt.Errorf("%w: v1 line ending with LF alone: %s", ErrProxy, snippet(window[:lf+1]))
	}
	// The prefix holds no CR, so the line holds all of it.
	line := buf[:lf-1]
	proto, rest, _ := bytes.Cut(line[len(proxyV1Prefix):], []byte{' '})
	var v6 bool
	switch string(proto) {
	case "UNKNOWN":
		// The receiver must ignore whatever follows UNKNOWN.
		*h = ProxyHeader{Version: 1}
		return lf + 1, nil
	case "TCP4":
	case "TCP6":
		v6 = true
	default:
		return 0, fmt.Errorf("%w: v1 protocol %s is none of TCP4, TCP6, UNKNOWN", ErrProxy, snippet(proto))
	}
	var fields [4][]byte
	for i := range fields {
		var ok bool
		fields[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < len(fields)-1) {
			return 0, fmt.Errorf("%w: v1 %s line needs 4 fields after it, one space apart: %s", ErrProxy, proto, snippet(line))
		}
	}
	src, ok := parseProxyAddr(fields[0], v6)
	if !ok {
		return 0, fmt.Errorf("%w: v1 bad %s source address: %s", ErrProxy, proto, snippet(fields[0]))
	}
	dst, ok := parseProxyAddr(fields[1], v6)
	if !ok {
		return 0, fmt.Errorf("%w: v1 bad %s destination address: %s", ErrProxy, proto, snippet(fields[1]))
	}
	sport, ok := parsePort(fields[2])
	if !ok {
		return 0, fmt.Errorf("%w: v1 bad source port: %s", ErrProxy, snippet(fields[2]))
	}
	dport, ok := parsePort(fields[3])
	if !ok {
		return 0, fmt.Errorf("%w: v1 bad destination port: %s", ErrProxy, snippet(fields[3]))
	}
	*h = ProxyHeader{Version: 1, Source: netip.AddrPortFrom(src, sport), Dest: netip.AddrPortFrom(dst, dport)}
	return lf + 1, nil
}

// parseProxyAddr parses an address of the family a v1 line names.
func parseProxyAddr(b []byte, v6 bool) (netip.Addr, bool) {
	if v6 {
		return parseIPv6(b)
	}
	return parseIPv4(b)
}

// parsePort parses a decimal port without leading zeros, as v1 requires.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	n, ok := parseUint(b, 65535)
	return uint16(n), ok
}

// parseProxyV2 reads the binary header: signature, version and command,
// family and transport, length, then that many bytes of addresses and TLVs.
func parseProxyV2(buf []byte, h *ProxyHeader) (int, error) {
	if !hasPrefixSoFar(buf, proxyV2Sig) {
		return 0, fmt.Errorf("%w: not a PROXY signature: %s", ErrProxy, snippet(buf))
	}
	if len(buf) <= len(proxyV2Sig) {
		return 0, nil
	}
	verCmd := buf[len(proxyV2Sig)]
	if verCmd>>4 != 2 {
		return 0, fmt.Errorf("%w: v2 version %d, want 2", ErrProxy, verCmd>>4)
	}
	cmd := verCmd & 0xf
	if cmd != proxyLocal && cmd != proxyProxy {
		return 0, fmt.Errorf("%w: v2 command %d is neither LOCAL nor PROXY", ErrProxy, cmd)
	}
	if len(buf) <= len(proxyV2Sig)+1 {
		return 0, nil
	}
	fam := buf[len(proxyV2Sig)+1]
	family, transport := fam>>4, fam&0xf
	// A LOCAL header's family is to be ignored; a PROXY header's must be
	// one the specification defines.
	if cmd == proxyProxy && (int(family) >= len(proxyAddrLen) || transport > proxyDgram) {
		return 0, fmt.Errorf("%w: v2 family and transport byte %#02x undefined", ErrProxy, fam)
	}
	if len(buf) < proxyV2Fixed {
		return 0, nil
	}
	size := proxyV2Fixed + int(binary.BigEndian.Uint16(buf[14:16]))
	if size > MaxProxyV2 {
		return 0, fmt.Errorf("%w: v2 header of %d bytes, over the limit of %d", ErrProxy, size, MaxProxyV2)
	}
	if cmd == proxyProxy && transport != proxyUnspec && size-proxyV2Fixed < proxyAddrLen[family] {
		return 0, fmt.Errorf("%w: v2 length %d too short for the family's %d address bytes", ErrProxy, size-proxyV2Fixed, proxyAddrLen[family])
	}
	if len(buf) < size {
		return 0, nil
	}
	*h = ProxyHeader{Version: 2, Local: cmd == proxyLocal}
	// Only TCP addresses describe the peer of this stream connection; for
	// the rest the specification lets the receiver fall back to the real
	// endpoints. TLVs after the addresses are skipped.
	if cmd == proxyProxy && transport == proxyStream {
		addrs := buf[proxyV2Fixed:size]
		switch family {
		case proxyInet:
			h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[0:4])), binary.BigEndian.Uint16(addrs[8:10]))
			h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[4:8])), binary.BigEndian.Uint16(addrs[10:12]))
		case proxyInet6:
			h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[0:16])), binary.BigEndian.Uint16(addrs[32:34]))
			h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[16:32])), binary.BigEndian.Uint16(addrs[34:36]))
		}
	}
	return size, nil
}

// parseIPv4 parses a dotted quad of decimal numbers 0-255 without leading
// zeros, allocation-free (netip.ParseAddr takes a string).
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range ip {
		field := b
		if i < 3 {
			var ok bool
			field, b, ok = bytes.Cut(b, []byte{'.'})
			if !ok {
				return netip.Addr{}, false
			}
		}
		if len(field) == 0 || len(field) > 3 || len(field) > 1 && field[0] == '0' {
			return netip.Addr{}, false
		}
		n, ok := parseUint(field, 255)
		if !ok {
			return netip.Addr{}, false
		}
		ip[i] = byte(n)
	}
	return netip.AddrFrom4(ip), true
}

// parseIPv6 parses an IPv6 address as netip.ParseAddr does (groups of one
// to four hex digits, one "::" standing for at least one zero group, an
// optional dotted quad as the last 32 bits) but without a zone, which no
// header may carry, and allocation-free.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // where "::" stands in ip
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
	}
	i := 0
	for i < 16 && len(b) > 0 {
		acc, digits := 0, 0
		for ; digits < len(b); digits++ {
			d := hexDigit(b[digits])
			if d < 0 {
				break
			}
			if digits == 4 {
				return netip.Addr{}, false
			}
			acc = acc<<4 | d
		}
		if digits == 0 {
			return netip.Addr{}, false
		}
		if digits < len(b) && b[digits] == '.' {
			// A dotted quad must be the last 32 bits: it must fit, and
			// the checks after the loop see that without "::" exactly six
			// groups came before it.
			if i+4 > 16 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			a4 := v4.As4()
			copy(ip[i:], a4[:])
			i += 4
			b = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		b = b[digits:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			b = b[1:]
		}
	}
	if len(b) > 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// proxyAddrs returns h's addresses as one family, IPv4 if both are and
// IPv6 otherwise (an IPv4 address then IPv4-mapped), without zones, or ok
// false if h has no valid pair.
func proxyAddrs(h *ProxyHeader) (src, dst netip.AddrPort, v6, ok bool) {
	if h.Local || !h.Source.IsValid() || !h.Dest.IsValid() {
		return src, dst, false, false
	}
	s, d := h.Source.Addr().WithZone(""), h.Dest.Addr().WithZone("")
	if v6 = !s.Is4() || !d.Is4(); v6 {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return netip.AddrPortFrom(s, h.Source.Port()), netip.AddrPortFrom(d, h.Dest.Port()), v6, true
}

// AppendProxyV1 appends a version 1 header for h: TCP4 when both addresses
// are IPv4, TCP6 otherwise (an IPv4 one written IPv4-mapped), and UNKNOWN
// when h is Local or lacks a valid Source or Dest. Zones are dropped.
func AppendProxyV1(dst []byte, h *ProxyHeader) []byte {
	dst = append(dst, proxyV1Prefix...)
	src, to, v6, ok := proxyAddrs(h)
	switch {
	case !ok:
		return append(dst, "UNKNOWN\r\n"...)
	case v6:
		dst = append(dst, "TCP6 "...)
	default:
		dst = append(dst, "TCP4 "...)
	}
	dst = src.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = to.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(src.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(to.Port()), 10)
	return append(dst, '\r', '\n')
}

// AppendProxyV2 appends a version 2 header for h: LOCAL with no addresses
// when h is Local; otherwise PROXY over TCP, IPv4 when both addresses are,
// IPv6 otherwise (an IPv4 one IPv4-mapped), or AF_UNSPEC when h lacks a
// valid Source or Dest. It writes no TLVs.
func AppendProxyV2(dst []byte, h *ProxyHeader) []byte {
	dst = append(dst, proxyV2Sig...)
	src, to, v6, ok := proxyAddrs(h)
	switch {
	case h.Local:
		return append(dst, 0x20|proxyLocal, proxyUnspec, 0, 0)
	case !ok:
		return append(dst, 0x20|proxyProxy, proxyUnspec, 0, 0)
	case v6:
		dst = append(dst, 0x20|proxyProxy, proxyInet6<<4|proxyStream, 0, byte(proxyAddrLen[proxyInet6]))
		s, d := src.Addr().As16(), to.Addr().As16()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
	default:
		dst = append(dst, 0x20|proxyProxy, proxyInet<<4|proxyStream, 0, byte(proxyAddrLen[proxyInet]))
		s, d := src.Addr().As4(), to.Addr().As4()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
	}
	dst = binary.BigEndian.AppendUint16(dst, src.Port())
	return binary.BigEndian.AppendUint16(dst, to.Port())
}
