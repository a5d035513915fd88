package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"campfire/protocol"
)

// IDRangeError is a check-in the server refused with 400 before a run: the
// server's -ids range does not hold the ids this run would use.
type IDRangeError struct {
	// ID is the refused camp id.
	ID string
	// Tried is the range of ids the run would check in: the first -conns
	// ids of -ids.
	Tried protocol.IDRange
	// IDs is the -ids range the run was given.
	IDs protocol.IDRange
	// Message is the server's explanation (the 400's body), which names
	// its own range.
	Message string
}

func (e *IDRangeError) Error() string {
	return fmt.Sprintf("the server answered checkin %s with 400 (%s): this run checks in %s (-ids %s); give -ids the server's range",
		e.ID, e.Message, e.Tried, e.IDs)
}

// tried returns the ids a run of cfg checks in: the first Conns of IDs.
func (c *Config) tried() protocol.IDRange {
	r := c.IDs
	r.Max = r.Min + protocol.CampID(min(c.Conns, c.IDs.Size())) - 1
	return r
}

// CheckIDs checks in as the first and the last id a run of cfg would use,
// and checks out again, so that a server with another id range stops the
// run before it starts, with an *IDRangeError, rather than turning every
// check-in into a counted error. A server that cannot be reached is an
// error too. Other refusals (409, 503) are left for the run to count.
// The echo scenario checks no one in and is not checked. With several
// servers (-addr A,B,C: the nodes of one camp) the first is asked.
func CheckIDs(ctx context.Context, cfg Config) error {
	if cfg.Scenario == ScenarioEcho {
		return nil
	}
	tried := cfg.tried()
	ids := []protocol.CampID{tried.Min}
	if tried.Max != tried.Min {
		ids = append(ids, tried.Max)
	}
	tc, err := cfg.TLS.Config()
	if err != nil {
		return err
	}
	addr := cfg.Addr
	if addrs := splitAddrs(cfg.Addr); len(addrs) > 0 {
		addr = addrs[0]
	}
	for _, id := range ids {
		code, msg, err := checkinProbe(ctx, addr, tc, tried.Format(id))
		if err != nil {
			return err
		}
		if code == protocol.StatusBadRequest {
			return &IDRangeError{ID: tried.Format(id), Tried: tried, IDs: cfg.IDs, Message: msg}
		}
	}
	return nil
}

// checkinProbe checks in as id on a connection of its own (TLS with tc,
// when not nil), checks out if that worked, and returns the check-in's
// status and body.
func checkinProbe(ctx context.Context, addr string, tc *tls.Config, id string) (code int, body string, err error) {
	d := &net.Dialer{Timeout: dialTimeout}
	var c net.Conn
	if tc != nil {
		c, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(setupTimeout))
	rd := protocol.NewReader(c, 0)
	req := protocol.AppendBody(protocol.AppendRequest(nil, protocol.MethodCheckin, []byte(id)), nil)
	code, body, err = roundTrip(c, rd, req)
	if err != nil {
		return 0, "", fmt.Errorf("checkin %s: %w", id, err)
	}
	if code == protocol.StatusOK {
		req = protocol.AppendBody(protocol.AppendRequest(nil, protocol.MethodCheckout, nil), nil)
		if _, _, err := roundTrip(c, rd, req); err != nil {
			return 0, "", fmt.Errorf("checkout %s: %w", id, err)
		}
	}
	return code, body, nil
}

// roundTrip writes req and reads up to its response, skipping events.
func roundTrip(c net.Conn, rd *protocol.Reader, req []byte) (code int, body string, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, "", err
	}
	for {
		f, err := rd.Next()
		if err != nil {
			return 0, "", err
		}
		if code, ok := f.Status(); ok {
			return code, string(f.Body), nil
		}
	}
}
