package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Source is what the side port knows of the server. The server implements
// it; its methods are called from HTTP goroutines, concurrently.
type Source interface {
	// Snapshot returns the camp as it is now. The server makes it on the
	// camp's event loop and must give up when ctx is done (the loop is
	// stopped or busy past the side port's patience). The web package
	// shares the Snapshot among viewers and never modifies it; the server
	// must not either once it is returned.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Health reports whether the server is serving normally; when it is
	// not (draining, or in cluster mode not caught up with the log), why
	// says so in a few words, e.g. "draining".
	Health() (ok bool, why string)
}

// Snapshot is the camp at one moment, as the server copied it off its loop.
type Snapshot struct {
	// Time is when the loop made the snapshot; the page measures "checked
	// in since" and messages per second against it, not the browser's clock.
	Time time.Time `json:"time"`
	// Started is when the server started.
	Started time.Time `json:"started"`
	// Draining reports that the server is shutting down.
	Draining bool `json:"draining"`
	// Totals are the camp-wide counts.
	Totals Totals `json:"totals"`
	// Groups are every group with a camper in it, by ascending number.
	Groups []Group `json:"groups"`
}

// Totals are camp-wide counts.
type Totals struct {
	Connections int `json:"connections"` // CAMP connections open, checked in or not
	Campers     int `json:"campers"`     // campers checked in
	Groups      int `json:"groups"`      // groups with a camper in them
	Sessions    int `json:"sessions"`    // peer sessions running
	// Messages is the number of message and direct requests answered 200
	// since the server started; the page shows its rate.
	Messages uint64 `json:"messages"`
}

// Group is one group and who sits in it.
type Group struct {
	Number int `json:"number"`
	// Campers are the group's campers in seat order (seat 1 first), at
	// most four.
	Campers []Camper `json:"campers"`
	// Session is the peer session running in the group, or nil.
	Session *Session `json:"session"`
}

// Camper is one checked-in camper.
type Camper struct {
	ID     string    `json:"id"`     // camp id as the server writes it, e.g. J004
	Remote string    `json:"remote"` // the connection's remote address, HOST:PORT
	Since  time.Time `json:"since"`  // when it checked in
}

// Session is a running peer session.
type Session struct {
	Host string `json:"host"` // the camp id of the camper who started it
	Max  int    `json:"max"`  // messages it accepts in all
	Used int    `json:"used"` // messages accepted so far
}

// sameCamp reports whether a and b show the same camp, whatever their Time.
func sameCamp(a, b *Snapshot) bool {
	if a.Started != b.Started || a.Draining != b.Draining || a.Totals != b.Totals || len(a.Groups) != len(b.Groups) {
		return false
	}
	for i := range a.Groups {
		ga, gb := &a.Groups[i], &b.Groups[i]
		if ga.Number != gb.Number || len(ga.Campers) != len(gb.Campers) || (ga.Session == nil) != (gb.Session == nil) {
			return false
		}
		if ga.Session != nil && *ga.Session != *gb.Session {
			return false
		}
		for j := range ga.Campers {
			ca, cb := &ga.Campers[j], &gb.Campers[j]
			if ca.ID != cb.ID || ca.Remote != cb.Remote || !ca.Since.Equal(cb.Since) {
				return false
			}
		}
	}
	return true
}

// query selects what part of the camp a viewer sees: the groups that match
// Filter, one page of Size groups at a time.
type query struct {
	// Filter keeps, if it is a number, the group of that number, and
	// otherwise the groups one of whose campers has an id or a remote
	// address containing it (ids compared without regard to case, as the
	// server writes them upper-case; ":40005" finds a port). Empty keeps
	// every group.
	Filter string
	// Page is the page to show, from 1; past the last page, the last.
	Page int
	// Size is the number of groups on a page; 0 shows every group on one.
	Size int
}

// MaxFilter is the longest filter a query may carry.
const MaxFilter = 64

// MaxPageSize is the largest page a query may ask for (a page of every
// group is Size 0).
const MaxPageSize = 1000

var errBadQuery = errors.New("bad query")

// parseQuery reads a query from a URL's page, size and q parameters.
func parseQuery(v url.Values) (query, error) {
	q := query{Page: 1, Filter: strings.TrimSpace(v.Get("q"))}
	if len(q.Filter) > MaxFilter {
		return query{}, fmt.Errorf("%w: q longer than %d bytes", errBadQuery, MaxFilter)
	}
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return query{}, fmt.Errorf("%w: page %q: want an integer from 1", errBadQuery, s)
		}
		q.Page = n
	}
	if s := v.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxPageSize {
			return query{}, fmt.Errorf("%w: size %q: want an integer from 0 to %d", errBadQuery, s, MaxPageSize)
		}
		q.Size = n
	}
	return q, nil
}

// View is what /api/camp and each /api/events frame carry: the snapshot's
// totals and the groups of one page.
type View struct {
	Time     time.Time `json:"time"`
	Started  time.Time `json:"started"`
	Draining bool      `json:"draining"`
	Version  string    `json:"version"`
	Totals   Totals    `json:"totals"`
	Page     Page      `json:"page"`
	Groups   []Group   `json:"groups"`
}

// Page says where a View's groups are in the filtered camp.
type Page struct {
	Number  int    `json:"number"`  // this page, from 1
	Pages   int    `json:"pages"`   // pages in all (at least 1)
	Size    int    `json:"size"`    // groups per page; 0 for all on one
	Matched int    `json:"matched"` // groups that match the filter
	Filter  string `json:"filter"`
}

// view cuts the page q asks for out of s.
func view(s *Snapshot, q query, version string) View {
	groups := s.Groups
	if q.Filter != "" {
		groups = filter(groups, q.Filter)
	}
	p := Page{Number: 1, Pages: 1, Size: q.Size, Matched: len(groups), Filter: q.Filter}
	if q.Size > 0 {
		p.Pages = max(1, (len(groups)+q.Size-1)/q.Size)
		p.Number = min(q.Page, p.Pages)
		lo := (p.Number - 1) * q.Size
		groups = groups[lo:min(lo+q.Size, len(groups))]
	}
	if groups == nil {
		groups = []Group{}
	}
	return View{
		Time: s.Time, Started: s.Started, Draining: s.Draining, Version: version,
		Totals: s.Totals, Page: p, Groups: groups,
	}
}

// filter returns the groups that match f (see query.Filter), in a new slice.
func filter(groups []Group, f string) []Group {
	out := []Group{}
	if num, err := strconv.Atoi(f); err == nil {
		for _, g := range groups {
			if g.Number == num {
				out = append(out, g)
			}
		}
		return out
	}
	upper := strings.ToUpper(f) // the server writes camp ids upper-case
	for _, g := range groups {
		for _, c := range g.Campers {
			if strings.Contains(c.ID, upper) || strings.Contains(c.Remote, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
