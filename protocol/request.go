package protocol

// Method is a known request. The zero Method is an unknown one (501).
type Method uint8

// The requests of CAMP/1.0.
const (
	MethodCheckin Method = iota + 1
	MethodCheckout
	MethodMission
	MethodPeerSession
	MethodComplete
	MethodMessage
	MethodDirect
	MethodPing
	MethodHelp
)

var methodNames = [...]string{
	MethodCheckin:     "CHECKIN",
	MethodCheckout:    "CHECKOUT",
	MethodMission:     "MISSION",
	MethodPeerSession: "PEERSESSION",
	MethodComplete:    "COMPLETE",
	MethodMessage:     "MESSAGE",
	MethodDirect:      "DIRECT",
	MethodPing:        "PING",
	MethodHelp:        "HELP",
}

// String returns the method's canonical upper-case name.
func (m Method) String() string {
	if m == 0 || int(m) >= len(methodNames) {
		return "UNKNOWN"
	}
	return methodNames[m]
}

// LookupMethod returns the method called name, compared without regard to
// case, or 0 if there is none.
func LookupMethod(name []byte) Method {
	for m := MethodCheckin; int(m) < len(methodNames); m++ {
		if equalFold(name, methodNames[m]) {
			return m
		}
	}
	return 0
}

// Events the server sends.
const (
	EventJoined      = "JOINED"
	EventLeft        = "LEFT"
	EventPeerSession = "PEERSESSION"
	EventComplete    = "COMPLETE"
	EventMessage     = "MESSAGE"
	EventDirect      = "DIRECT"
	EventShutdown    = "SHUTDOWN"
)

// Header names, in the canonical form the server writes.
const (
	HeaderActive        = "Active"
	HeaderContentLength = "Content-Length"
	HeaderContentType   = "Content-Type"
	HeaderDay           = "Day"
	HeaderGroup         = "Group"
	HeaderID            = "Id"
	HeaderMaxCount      = "Max-Count"
	HeaderReason        = "Reason"
	HeaderRemaining     = "Remaining"
)

// Reasons a peer session ends, sent in the Reason header of COMPLETE.
const (
	ReasonHost     = "host"
	ReasonLimit    = "limit"
	ReasonHostLeft = "host-left"
)

// Known names every request, for the one-line body of a 501.
const Known = "checkin, checkout, mission, peersession, complete, message, direct, ping, help"

// Help is the body of the response to help and of a 501.
const Help = `requests (case-insensitive; full form: end the line with CAMP/1.0, add headers and a body):
  checkin ID            check in, e.g. checkin J004
  checkout              check out and close the connection
  mission DAY           the day's mission keywords, e.g. mission 4 or mission day4
  peersession N         start a peer session of N messages in your group (or maxCount=N)
  complete              end the peer session you started
  message TEXT          send TEXT to the others in your group's peer session
  direct ID TEXT        send TEXT to camper ID (or direct to ID TEXT)
  ping                  check the connection
  help                  this list`

// MaxIDHeader is the longest Id header value a request may carry.
const MaxIDHeader = 64

// Request is a request frame split into its parts. Its slices point into
// the same buffer as the Frame it came from.
type Request struct {
	// Method is the request, or 0 if Name is not a known one.
	Method Method
	// Name is the method token as sent.
	Name []byte
	// Args is the rest of the start line, trimmed, without the version token.
	Args []byte
	// Full reports a full-form request.
	Full bool
	// ID is the request's Id header, to be echoed in the response; nil if
	// absent or invalid.
	ID []byte
	// BadID reports an Id header that is not 1–64 visible ASCII characters;
	// the request is answered with 400 (the frame itself is fine).
	BadID bool
	// Body is the full-form body.
	Body []byte
}

// Request splits a request frame. It does not allocate.
func (f *Frame) Request() Request {
	line := f.Start
	if f.Full {
		line = line[:len(line)-len(Version)]
	}
	line = trimBlanks(line)
	name, args := cutSpace(line)
	r := Request{Method: LookupMethod(name), Name: name, Args: args, Full: f.Full, Body: f.Body}
	if id := f.Header(HeaderID); id != nil {
		if validID(id) {
			r.ID = id
		} else {
			r.BadID = true
		}
	}
	return r
}

// validID reports whether an Id header value is 1–64 visible ASCII characters.
func validID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxIDHeader {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// cutSpace splits b at its first run of spaces or tabs; rest is trimmed.
func cutSpace(b []byte) (first, rest []byte) {
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return b[:i], trimBlanks(b[i:])
		}
	}
	return b, nil
}
