package server

import (
	"time"

	"go.uber.org/zap"
)

// Echo rules of PROTOCOL.md section 3.
const (
	echoMin   = 4    // bytes that must be waiting before anything is echoed
	echoChunk = 1024 // most bytes sent back by one echo
)

// echo is the raw echo service. Once at least echoMin bytes are waiting it
// sends back at most echoChunk of them exactly as received and, unless
// keepOpen, closes the connection (lingering, so the echo arrives even when
// more input was sent). With keepOpen it echoes chunk after chunk while at
// least echoMin bytes wait; the chunks of one event go out in one write,
// which on a byte stream is the same as one write per chunk.
type echo struct {
	r        *reactor
	keepOpen bool
}

func newEcho(cfg Config, log *zap.Logger) *echo {
	e := &echo{keepOpen: cfg.KeepOpen}
	e.r = newReactor("echo", cfg, log, e)
	return e
}

// echoable returns how many of buffered bytes the echo rules send back now.
func echoable(buffered int, keepOpen bool) int {
	if buffered < echoMin {
		return 0
	}
	if !keepOpen {
		return min(buffered, echoChunk)
	}
	if tail := buffered % echoChunk; tail > 0 && tail < echoMin {
		return buffered - tail
	}
	return buffered
}

func (e *echo) traffic(l *loop, c *conn, now time.Time) {
	n := echoable(c.gc.InboundBuffered(), e.keepOpen)
	if n == 0 {
		return
	}
	buf, _ := c.gc.Peek(n)
	l.queue(c, buf)
	if e.keepOpen {
		_, _ = c.gc.Discard(n)
		return
	}
	// The echo was the last reply: the rest of the input is thrown away
	// (gnet's Discard(-1) discards everything buffered).
	l.finish(c, now)
	_, _ = c.gc.Discard(-1)
}

func (e *echo) gone(*loop, *conn, time.Time) {}

// drain sends nothing: the echo service has no frames.
func (e *echo) drain(*loop, *conn) {}

func (e *echo) endEvent(*loop) {}
