package web

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errNoSnapshot is what a Source that returns neither a snapshot nor an
// error is taken to have said.
var errNoSnapshot = errors.New("source returned no snapshot")

// entry is one answer of the Source, shared by every viewer.
type entry struct {
	snap *Snapshot // nil if err is not
	err  error
	at   time.Time // when it was fetched, on this process's clock
	// version counts the different camps seen: it moves only when a
	// snapshot shows a camp unlike the one before (Time aside), so a viewer
	// sends a frame "on change" by comparing versions.
	version uint64
}

// cache shares one snapshot among all viewers and asks the Source for a
// new one at most once per min. Only one fetch runs at a time; callers that
// arrive during it wait for its result.
type cache struct {
	src     Source
	min     time.Duration
	timeout time.Duration   // patience with one Snapshot call
	base    context.Context // ends when the side port shuts down
	now     func() time.Time

	mu       sync.Mutex
	cur      *entry
	last     *Snapshot     // the last snapshot fetched, for the version
	version  uint64        // of last
	fetching chan struct{} // closed when the fetch in flight ends; nil if none
}

// get returns an entry no older than min, fetching one if need be. It
// returns ctx's error only if ctx ends while it waits for another caller's
// fetch; an error of the Source comes back in the entry.
func (c *cache) get(ctx context.Context) (*entry, error) {
	for {
		c.mu.Lock()
		if c.cur != nil && c.now().Sub(c.cur.at) < c.min {
			e := c.cur
			c.mu.Unlock()
			return e, nil
		}
		if ch := c.fetching; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		c.fetching = ch
		c.mu.Unlock()

		// The fetch serves every waiter, so it runs on the side port's
		// context, not on the caller's, which may end first.
		fctx, cancel := context.WithTimeout(c.base, c.timeout)
		snap, err := c.src.Snapshot(fctx)
		cancel()
		if err == nil && snap == nil {
			err = errNoSnapshot
		}

		c.mu.Lock()
		e := &entry{snap: snap, err: err, at: c.now()}
		if err == nil {
			if c.last == nil || !sameCamp(c.last, snap) {
				c.version++
			}
			c.last = snap
		}
		e.version = c.version
		c.cur = e
		c.fetching = nil
		close(ch)
		c.mu.Unlock()
		return e, nil
	}
}
