package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// CampID is a camp id's number: J004 in the range J001-J384 is 4. The
// letter and width come from the IDRange it was parsed with.
type CampID uint32

// IDRange is the set of valid camp ids: one letter and a fixed number of
// digits between Min and Max, such as J001-J384.
type IDRange struct {
	Letter byte // upper-case
	Digits int
	Min    CampID
	Max    CampID
}

// DefaultIDs returns the default range, J001-J384.
func DefaultIDs() IDRange { return IDRange{Letter: 'J', Digits: 3, Min: 1, Max: 384} }

// ParseIDRange parses a range such as "J001-J384" or "J00001-J50000". Both
// ends must have the same letter and number of digits (1 to 9).
func ParseIDRange(s string) (IDRange, error) {
	lo, hi, ok := bytes.Cut([]byte(s), []byte{'-'})
	if !ok || len(lo) != len(hi) || len(lo) < 2 || len(lo) > 10 {
		return IDRange{}, fmt.Errorf("id range %q: want LETTER+DIGITS-LETTER+DIGITS, e.g. J001-J384", s)
	}
	r := IDRange{Letter: upper(lo[0]), Digits: len(lo) - 1}
	if r.Letter < 'A' || r.Letter > 'Z' || upper(hi[0]) != r.Letter {
		return IDRange{}, fmt.Errorf("id range %q: both ends must start with the same letter", s)
	}
	min, okLo := parseUint(lo[1:], 999_999_999)
	max, okHi := parseUint(hi[1:], 999_999_999)
	if !okLo || !okHi {
		return IDRange{}, fmt.Errorf("id range %q: the ends must be a letter and digits", s)
	}
	if min > max {
		return IDRange{}, fmt.Errorf("id range %q: start is above end", s)
	}
	r.Min, r.Max = CampID(min), CampID(max)
	return r, nil
}

// String returns the range as "J001-J384", or "" for the zero IDRange.
func (r IDRange) String() string {
	if r.Digits == 0 {
		return ""
	}
	b := r.Append(nil, r.Min)
	b = append(b, '-')
	return string(r.Append(b, r.Max))
}

// Set parses s into r, so that *IDRange is a flag.Value.
func (r *IDRange) Set(s string) error {
	parsed, err := ParseIDRange(s)
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}

// Size is the number of ids in the range.
func (r IDRange) Size() int { return int(r.Max-r.Min) + 1 }

// Parse validates a camp id, accepting either case for the letter.
func (r IDRange) Parse(b []byte) (CampID, error) {
	if len(b) != 1+r.Digits || upper(b[0]) != r.Letter {
		return 0, r.badID(b)
	}
	n, ok := parseUint(b[1:], int(r.Max))
	if !ok || CampID(n) < r.Min {
		return 0, r.badID(b)
	}
	return CampID(n), nil
}

func (r IDRange) badID(b []byte) error {
	return fmt.Errorf("%w: %s is not a camp id in %s", ErrBadArgs, snippet(b), r)
}

// Append appends id in upper-case canonical form, such as J004.
func (r IDRange) Append(dst []byte, id CampID) []byte {
	dst = append(dst, r.Letter)
	var digits [10]byte
	s := strconv.AppendUint(digits[:0], uint64(id), 10)
	for i := len(s); i < r.Digits; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Format returns id in canonical form.
func (r IDRange) Format(id CampID) string { return string(r.Append(nil, id)) }

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// ErrBadArgs is wrapped by every error ParseArgs returns (400).
var ErrBadArgs = errors.New("bad arguments")

// MaxPeerSession is the largest message cap a peer session may have.
const MaxPeerSession = 1_000_000

// Command is a request's arguments, parsed.
type Command struct {
	// ID is the camper of checkin and the target of direct.
	ID CampID
	// Day is the mission day. A decimal integer too large for int is
	// reported as math.MaxInt, which has no mission.
	Day int
	// Max is the peer session's message cap, 1..MaxPeerSession.
	Max int
	// Text is the text of message and direct: the rest of the start line in
	// short form, the body in full form. It is never empty.
	Text []byte
}

// ParseArgs parses the arguments of r, which must have a known Method,
// accepting every spelling of the contract. The error, which wraps
// ErrBadArgs, is the explanation for a 400.
func ParseArgs(r *Request, ids IDRange) (Command, error) {
	var c Command
	args := r.Args
	switch r.Method {
	case MethodCheckin:
		id, err := ids.Parse(args)
		if len(args) == 0 {
			return c, fmt.Errorf("%w: checkin needs a camp id, e.g. checkin %s", ErrBadArgs, ids.Format(ids.Min))
		}
		c.ID = id
		return c, err
	case MethodMission:
		if len(args) == 0 {
			return c, fmt.Errorf("%w: mission needs a day, e.g. mission 4", ErrBadArgs)
		}
		day, err := parseDay(args)
		c.Day = day
		return c, err
	case MethodPeerSession:
		if len(args) == 0 {
			return c, fmt.Errorf("%w: peersession needs a message count, e.g. peersession 3", ErrBadArgs)
		}
		n, err := parseMaxCount(args)
		c.Max = n
		return c, err
	case MethodMessage:
		text, err := r.text(args)
		c.Text = text
		return c, err
	case MethodDirect:
		first, rest := cutSpace(args)
		if equalFold(first, "to") && len(rest) > 0 {
			first, rest = cutSpace(rest)
		}
		if len(first) == 0 {
			return c, fmt.Errorf("%w: direct needs a camp id and text, e.g. direct %s hi", ErrBadArgs, ids.Format(ids.Min))
		}
		id, err := ids.Parse(first)
		if err != nil {
			return c, err
		}
		text, err := r.text(rest)
		c.ID, c.Text = id, text
		return c, err
	case 0:
		return c, fmt.Errorf("%w: unknown request %s", ErrBadArgs, snippet(r.Name))
	}
	if len(args) > 0 {
		return c, fmt.Errorf("%w: %s takes no arguments", ErrBadArgs, r.Method)
	}
	return c, nil
}

// text returns the text of message or direct: rest in short form, the body
// in full form (where rest must be empty).
func (r *Request) text(rest []byte) ([]byte, error) {
	if r.Full {
		if len(rest) > 0 {
			return nil, fmt.Errorf("%w: in full form the text is the body, not %s", ErrBadArgs, snippet(rest))
		}
		rest = r.Body
	}
	if len(rest) == 0 {
		return nil, fmt.Errorf("%w: empty text", ErrBadArgs)
	}
	return rest, nil
}

// parseDay accepts "4", "day4" and "day 4" in any case, with an optional
// sign. A number too large for int comes back as math.MaxInt.
func parseDay(args []byte) (int, error) {
	b := args
	if len(b) >= 3 && equalFold(b[:3], "day") {
		b = bytes.TrimLeft(b[3:], " \t")
	}
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	if !isDigits(b) {
		return 0, fmt.Errorf("%w: mission day %s is not a decimal integer", ErrBadArgs, snippet(args))
	}
	const max = int(^uint(0) >> 1)
	day := 0
	for _, c := range b {
		if day > (max-int(c-'0'))/10 {
			day = max
			break
		}
		day = day*10 + int(c-'0')
	}
	if neg {
		day = -day
	}
	return day, nil
}

// parseMaxCount accepts "3" and "maxCount=3" (any case, spaces around =).
func parseMaxCount(args []byte) (int, error) {
	b := args
	if key, value, ok := bytes.Cut(b, []byte{'='}); ok {
		if !equalFold(trimBlanks(key), "maxcount") {
			return 0, fmt.Errorf("%w: peersession takes N or maxCount=N, not %s", ErrBadArgs, snippet(args))
		}
		b = trimBlanks(value)
	}
	n, ok := parseUint(b, MaxPeerSession)
	if !ok || n < 1 {
		return 0, fmt.Errorf("%w: peersession count %s is not an integer in 1..%d", ErrBadArgs, snippet(args), MaxPeerSession)
	}
	return n, nil
}
