package bench

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxSources bounds a source range so that a typo cannot ask for millions
// of addresses.
const maxSources = 4096

// ParseSources parses a list of local IPv4 addresses to dial from: single
// addresses and ranges of the last octet(s), comma-separated, such as
// "127.0.0.2-127.0.0.40" or "127.0.0.2,127.0.0.5-127.0.0.9". Every address
// must be a loopback address, because load only ever goes to loopback.
func ParseSources(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		loText, hiText, isRange := strings.Cut(part, "-")
		lo, err := netip.ParseAddr(loText)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", part, err)
		}
		hi := lo
		if isRange {
			if hi, err = netip.ParseAddr(hiText); err != nil {
				return nil, fmt.Errorf("source %q: %w", part, err)
			}
		}
		if !lo.Is4() || !hi.Is4() || !lo.IsLoopback() || !hi.IsLoopback() {
			return nil, fmt.Errorf("source %q: only IPv4 loopback addresses (127.0.0.0/8) are allowed", part)
		}
		if hi.Less(lo) {
			return nil, fmt.Errorf("source %q: start is above end", part)
		}
		for a := lo; ; a = a.Next() {
			if len(out) == maxSources {
				return nil, fmt.Errorf("sources %q: more than %d addresses", s, maxSources)
			}
			out = append(out, a)
			if a == hi {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sources %q: no address", s)
	}
	return out, nil
}

// Dialers hands out dialers bound to source addresses in round-robin order,
// so that connection i uses source i mod len(sources).
type Dialers struct {
	dialers []net.Dialer
}

// NewDialers returns dialers for sources; with no sources, the system picks
// the local address.
func NewDialers(sources []netip.Addr, d net.Dialer) *Dialers {
	if len(sources) == 0 {
		return &Dialers{dialers: []net.Dialer{d}}
	}
	ds := &Dialers{dialers: make([]net.Dialer, len(sources))}
	for i, a := range sources {
		ds.dialers[i] = d
		ds.dialers[i].LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	return ds
}

// For returns the dialer of connection i.
func (ds *Dialers) For(i int) *net.Dialer {
	return &ds.dialers[i%len(ds.dialers)]
}

// checkLoopback refuses a target outside 127.0.0.0/8 (or ::1): the harness
// is a load generator and must not be pointed at anything else.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: load only goes to loopback (127.0.0.0/8)", addr)
	}
	return nil
}
