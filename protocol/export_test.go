package protocol

import "net/netip"

// InParser reports whether b lies inside p's own copy buffer, where a
// request that held telnet commands is assembled.
func InParser(p *Parser, b []byte) bool {
	if p.tn == nil || len(b) == 0 {
		return false
	}
	h := p.tn.head[:cap(p.tn.head)]
	off := cap(h) - cap(b)
	return off >= 0 && off+len(b) <= len(p.tn.head) && &h[off] == &b[0]
}

// ParseIPv4 and ParseIPv6 expose the allocation-free address parsers of
// PROXY v1, to be compared with net/netip.
func ParseIPv4(b []byte) (netip.Addr, bool) { return parseIPv4(b) }
func ParseIPv6(b []byte) (netip.Addr, bool) { return parseIPv6(b) }
