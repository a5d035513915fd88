package server

import (
	"time"

	"go.uber.org/zap"
)

// Echo rules of the echo service (docs/PROTOCOL.md).
const (
	echoMin   = 4    // bytes that must be waiting before anything is echoed
	echoChunk = 1024 // most bytes sent back by one echo
)

// echoService is the raw echo service. Once at least echoMin bytes are
// waiting it sends back at most echoChunk of them exactly as received and,
// unless keepOpen, closes the connection (lingering, so the echo arrives
// even when more input was sent). With keepOpen it echoes chunk after chunk
// while at least echoMin bytes wait; the chunks of one event go out in one
// write, which on a byte stream is the same as one write per chunk. It has
// no frames: a connection refused or shut down is closed without a word.
type echoService struct {
	r        *reactor[struct{}]
	keepOpen bool
}

type echoConn = conn[struct{}]

type echoLoop = loop[struct{}]

func newEchoService(cfg Config, log *zap.Logger) *echoService {
	e := &echoService{keepOpen: cfg.KeepOpen}
	e.r = newReactor("echo", cfg, log, service[struct{}](e))
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

func (e *echoService) input(l *echoLoop, c *echoConn, now time.Time) {
	if l.full(c, 0) {
		l.pause(c, now)
		return
	}
	n := echoable(c.gc.InboundBuffered(), e.keepOpen)
	if n == 0 {
		return
	}
	buf, _ := c.gc.Peek(n)
	l.queue(c, buf)
	if e.keepOpen {
		l.consume(c, n)
		return
	}
	// The echo was the last reply: the rest of the input is thrown away.
	l.finish(c, closeDone, now)
	l.consume(c, c.gc.InboundBuffered())
}

func (e *echoService) open(*echoConn) {}

func (e *echoService) ended(*echoLoop, *echoConn, closeReason, time.Time) {}

// frameTimeout never runs: the echo service reports no partial frames.
func (e *echoService) frameTimeout(l *echoLoop, c *echoConn, now time.Time) {
	l.abort(c, closeFrameTimeout, now)
}

func (e *echoService) goodbye() []byte              { return nil }
func (e *echoService) refusal(bool) []byte          { return nil }
func (e *echoService) endRound(*echoLoop)           {}
func (e *echoService) describe(*echoConn) zap.Field { return zap.Skip() }
