package server

import (
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"campfire/protocol"
)

// Connection states. A conn moves only forward through them.
const (
	// stateOpen: requests are read and answered.
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

// conn is the per-connection context. It lives on the event loop and is
// only touched there. It is kept small: an idle checked-in connection costs
// this struct (96 bytes), gnet's own, and the camper in groups.
type conn struct {
	gc     gnet.Conn
	parser protocol.Parser
	// out collects the frames queued for this connection during one event;
	// flush writes it with one call and gives the buffer back, so it is nil
	// between events. A pointer keeps the struct in a smaller size class.
	out   *[]byte
	seen  int64 // unix nanoseconds of the last input, or when lingering began
	prev  *conn // neighbours in the active or linger list
	next  *conn
	state uint8
	loop  uint8 // index of the owning loop in reactor.loops
	dirty bool  // queued in loop.dirty
	fin   bool  // our write side is shut down
	// halted: the input could not be framed; it is discarded while the
	// error reply travels through the camp's loop.
	halted bool
	// done is the camp owner's own record that the connection has had its
	// last reply or has left; only the owner loop reads or writes it.
	done bool
}

// connList is an intrusive doubly-linked list of conns ordered by seen:
// touching a conn moves it to the back, so the conns that have waited
// longest are always at the front and a sweep stops at the first one that
// has not expired.
type connList struct {
	head, tail *conn
	len        int
}

func (l *connList) pushBack(c *conn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

func (l *connList) remove(c *conn) {
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
func (l *connList) moveToBack(c *conn) {
	if l.tail == c {
		return
	}
	l.remove(c)
	l.pushBack(c)
}

// shutdownWrite sends a FIN after the queued output. The error is ignored:
// a socket that cannot be shut down is about to be closed anyway.
func shutdownWrite(c *conn) {
	c.fin = true
	_ = unix.Shutdown(c.gc.Fd(), unix.SHUT_WR)
}
