package bench

import "time"

// Pacer is a token bucket that spreads sends evenly at a fixed rate. It
// reads no clock itself: the caller passes the time since its start to
// Take, which makes pacing deterministic to test. A Pacer is owned by one
// goroutine.
type Pacer struct {
	interval time.Duration // between tokens; 0 means no limit
	burst    int           // most tokens handed out by one Take
	next     time.Duration // when the next token is due
	missed   int64         // tokens dropped because the caller fell behind
}

// NewPacer returns a pacer of rate tokens per second, the first due at
// start, that hands out at most
// burst tokens at once (a sender woken late catches up by at most burst
// sends; anything beyond is counted as missed, not sent in a flood). A rate
// of 0 or less means no limit: every Take returns burst tokens.
func NewPacer(rate float64, burst int, start time.Duration) *Pacer {
	p := &Pacer{burst: max(burst, 1), next: start}
	if rate > 0 {
		p.interval = max(time.Duration(float64(time.Second)/rate), 1)
	}
	return p
}

// Take returns how many sends are due at now and, when none is, how long to
// wait for the next.
func (p *Pacer) Take(now time.Duration) (n int, wait time.Duration) {
	if p.interval == 0 {
		return p.burst, 0
	}
	if now < p.next {
		return 0, p.next - now
	}
	due := int64((now-p.next)/p.interval) + 1
	p.next += time.Duration(due) * p.interval
	if due > int64(p.burst) {
		p.missed += due - int64(p.burst)
		due = int64(p.burst)
	}
	return int(due), 0
}

// Missed is the number of tokens dropped so far because Take was called too
// late to use them within the burst.
func (p *Pacer) Missed() int64 { return p.missed }
