package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"campfire/protocol"
)

// PROXY protocol: behind a proxy every connection comes from the proxy, so
// the proxy opens each one with a header (HAProxy's version 1 or 2) that
// names the real client. With -proxy-protocol the reactor reads that header
// before anything else, on the CAMP and echo ports alike, and from then on
// the client's address is the connection's remote address everywhere: the
// log, the per-IP cap, the live page. A connection that does not start with
// a valid header from a trusted source is closed with nothing written: it
// is not a client of ours.

// DefaultProxyTrusted is the default -proxy-trusted: proxies on this host.
const DefaultProxyTrusted = "127.0.0.0/8,::1/128"

// ParsePrefixes parses a comma-separated list of CIDR prefixes, such as
// -proxy-trusted takes.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("prefix %q: want an address/bits such as 10.0.0.0/8", f)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("prefixes %q: want at least one", s)
	}
	return out, nil
}

// trusted reports whether a is one of the proxies allowed to send a PROXY
// header.
func trusted(prefixes []netip.Prefix, ta *net.TCPAddr) bool {
	if ta == nil {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// readProxyHeader reads c's PROXY header. It returns true once the header
// is in and c may go on to the service; false while it is incomplete or
// when c was closed for a bad header or the per-IP cap.
func (l *loop[X]) readProxyHeader(c *conn[X], now time.Time) bool {
	buf, _ := c.gc.Peek(-1)
	var h protocol.ProxyHeader
	n, err := protocol.ParseProxy(buf, &h)
	switch {
	case err != nil:
		l.r.quiet.Warn("connection closed: bad PROXY header", zap.Stringer("remote", remoteAddr(c)), zap.Error(err))
		l.abort(c, closeBadProxy, now)
		return false
	case n == 0:
		// The frame timeout bounds how long a header may take.
		l.partial(c, true, false, now)
		return false
	}
	l.partial(c, false, false, now)
	l.consume(c, n)
	c.peer.pending = false
	if !h.Local && h.Source.IsValid() {
		c.peer.addr = netip.AddrPortFrom(h.Source.Addr().Unmap(), h.Source.Port())
	}
	if !l.r.admitIP(c) {
		if bye := l.r.svc.refusal(false); bye != nil {
			l.queue(c, bye)
			l.finish(c, closeOverCap, now)
		} else {
			l.abort(c, closeOverCap, now)
		}
		return false
	}
	l.r.quiet.Info("connection opened", zap.Stringer("remote", remoteAddr(c)), zap.Stringer("proxy", addrString{tcp: c.remote}))
	return c.gc.InboundBuffered() > 0
}
