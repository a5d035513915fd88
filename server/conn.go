package server

import (
	"net"

	"github.com/panjf2000/gnet/v2"
)

// Connection states. A conn moves only forward through them.
const (
	// stateOpen: input is read and answered.
	stateOpen uint8 = iota + 1
	// stateLinger: the last reply is queued. Input is discarded, a FIN goes
	// out once the output has drained, and the socket is closed when the
	// client closes its side or the linger time is up. Closing at once would
	// make the kernel reset a socket with unread input and could destroy the
	// reply in flight.
	stateLinger
	// stateClosing: gnet has been asked to close the connection.
	stateClosing
	// stateClosed: OnClose ran. The gnet.Conn must never be touched again:
	// its fd may already belong to a new connection.
	stateClosed
)

// conn is the reactor's per-connection context, generic over X, the
// service's own per-connection state (the camp service's parser and
// camper; nothing for the echo service). It lives on the event loop that
// owns the connection and is only touched there, except for the fields of
// X that a service documents otherwise.
type conn[X any] struct {
	gc gnet.Conn
	// out collects the frames queued for this connection during one event;
	// flush writes it with one call and gives the buffer back, so it is nil
	// between events. A pointer keeps the struct small.
	out *[]byte
	// remote is the socket's remote address, kept because gc is gone after
	// OnClose and other loops must not read gc at all.
	remote *net.TCPAddr
	// peer is what is known of the client beyond the socket (a PROXY
	// header's address, the per-IP count); nil for most connections.
	peer *peerAddr
	// seen is the unix nanoseconds of the last input (open) or of when
	// lingering began (linger); it orders the active and linger lists.
	seen   int64
	opened int64 // unix nanoseconds the connection was accepted
	// begun is when the partial frame waiting in the input began, 0 if none.
	begun      int64
	prev, next *conn[X] // neighbours in the active or linger list
	bytesIn    uint64
	bytesOut   uint64
	state      uint8
	loop       uint8       // index of the owning loop in reactor.loops
	why        closeReason // why it ended, once it has
	dirty      bool        // queued in loop.dirty
	fin        bool        // our write side is shut down
	paused     bool        // input is left unread while the output is over the limit
	x          X
}

// connList is an intrusive doubly-linked list of conns in the order they
// were last touched: touching a conn moves it to the back, so the conns that
// have waited longest are always at the front and a sweep stops at the
// first one that has not expired. A conn is in at most one list (active or
// linger).
type connList[X any] struct {
	head, tail *conn[X]
	len        int
}

func (l *connList[X]) pushBack(c *conn[X]) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

func (l *connList[X]) remove(c *conn[X]) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.len--
}

// moveToBack is remove then pushBack, skipped when c is already last.
func (l *connList[X]) moveToBack(c *conn[X]) {
	if l.tail == c {
		return
	}
	l.remove(c)
	l.pushBack(c)
}
