package server

// closeReason says why a connection ended. Every connection ends through
// one path (loop.finish for a last reply, loop.abort for the rest) and
// records exactly one reason, which the close log line and the metrics
// carry.
type closeReason uint8

// The reasons a connection ends. The zero closeReason means "not ending":
// a result that is not a connection's last carries it.
const (
	// closeClient: the client closed or reset its side.
	closeClient closeReason = iota + 1
	// closeCheckout: the camper checked out; the 200 was its last reply.
	closeCheckout
	// closeBadFrame: the input could not be framed (400, 413, 431).
	closeBadFrame
	// closeIdle: nothing arrived for the idle time.
	closeIdle
	// closeFrameTimeout: a frame began and was not complete in time (408).
	closeFrameTimeout
	// closeSlowConsumer: the unsent output stayed over the limit.
	closeSlowConsumer
	// closeWriteError: a write to the socket failed.
	closeWriteError
	// closeShutdown: the server shut down (SHUTDOWN was the last frame).
	closeShutdown
	// closeOverCap: refused at connect, over the connection cap or the
	// per-IP cap (503, or nothing on the echo port).
	closeOverCap
	// closeDone: the echo service sent its one echo.
	closeDone
	// closeBadProxy: a PROXY protocol header was missing, malformed or
	// from an untrusted source.
	closeBadProxy
	// closeNodeDown: in cluster mode, the node holding the connection was
	// declared down by the camp.
	closeNodeDown
	closeReasons // the number of reasons plus one
)

var closeReasonNames = [...]string{
	closeClient:       "client closed",
	closeCheckout:     "checkout",
	closeBadFrame:     "bad frame",
	closeIdle:         "idle",
	closeFrameTimeout: "frame timeout",
	closeSlowConsumer: "slow consumer",
	closeWriteError:   "write error",
	closeShutdown:     "shutdown",
	closeOverCap:      "over cap",
	closeDone:         "done",
	closeBadProxy:     "bad proxy header",
	closeNodeDown:     "node down",
}

// String returns the reason as the log and the metrics label write it.
func (r closeReason) String() string {
	if r == 0 || r >= closeReasons {
		return "none"
	}
	return closeReasonNames[r]
}

// CloseReasons lists every close reason's name, in order, for a metrics
// label set.
func CloseReasons() []string {
	names := make([]string, 0, closeReasons-1)
	for r := closeClient; r < closeReasons; r++ {
		names = append(names, r.String())
	}
	return names
}
