package client

import (
	"bytes"
	"fmt"
)

// EventKind says which event the server sent.
type EventKind uint8

// The events of CAMP/1.0.
const (
	// Joined: From checked in to the group.
	Joined EventKind = iota + 1
	// Left: From checked out of the group or disconnected.
	Left
	// PeerSession: From started a peer session of MaxCount messages.
	PeerSession
	// Complete: the peer session From started ended for Reason.
	Complete
	// Message: From said Text in the group's peer session.
	Message
	// Direct: From sent Text to this camper alone.
	Direct
	// Shutdown: the server is going down; the connection closes next.
	Shutdown
)

var kindNames = [...]string{
	Joined:      "JOINED",
	Left:        "LEFT",
	PeerSession: "PEERSESSION",
	Complete:    "COMPLETE",
	Message:     "MESSAGE",
	Direct:      "DIRECT",
	Shutdown:    "SHUTDOWN",
}

// String returns the event's name on the wire, such as "JOINED".
func (k EventKind) String() string {
	if k == 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("EventKind(%d)", k)
	}
	return kindNames[k]
}

// kindOf returns the kind of the event called name, or 0.
func kindOf(name []byte) EventKind {
	for k := Joined; int(k) < len(kindNames); k++ {
		if bytes.EqualFold(name, []byte(kindNames[k])) {
			return k
		}
	}
	return 0
}

// Event is one event the server sent. Fields an event does not carry are
// zero.
type Event struct {
	Kind EventKind
	// From is the camp id the event is about: who joined, left, started or
	// ended a session, or sent a message.
	From string
	// Group is the group of a group event (all but Direct and Shutdown).
	Group int
	// MaxCount is the message cap of PeerSession.
	MaxCount int
	// Reason is why a session completed: "host", "limit" or "host-left".
	Reason string
	// Text is the text of Message and Direct.
	Text string
}
