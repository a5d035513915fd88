package protocol

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
