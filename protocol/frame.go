package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math"
)

// Version is the exact version token that starts a response, ends an event
// and ends the start line of a full-form request.
const Version = "CAMP/1.0"

const (
	// MaxLine is the longest line, without its line end, either side accepts.
	MaxLine = 4096
	// MaxHeaders is the most header lines one frame may carry.
	MaxHeaders = 32
	// DefaultMaxBody is the default limit on Content-Length.
	DefaultMaxBody = 64 << 10
)

// Frame errors. A Parser returns them wrapped with a quoted snippet of the
// offending input; StatusOf maps them to the status the server answers with
// before it closes the connection.
var (
	// ErrLineTooLong means MaxLine+1 bytes arrived without a line end (431).
	ErrLineTooLong = errors.New("line too long")
	// ErrTooManyHeaders means a frame had more than MaxHeaders header lines (431).
	ErrTooManyHeaders = errors.New("too many header lines")
	// ErrBodyTooLarge means a Content-Length above the parser's limit (413).
	ErrBodyTooLarge = errors.New("body too large")
	// ErrMalformed means a bad header line or Content-Length (400).
	ErrMalformed = errors.New("malformed frame")
)

// StatusOf returns the status that answers a frame error: 431, 413 or 400.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrLineTooLong), errors.Is(err, ErrTooManyHeaders):
		return StatusHeaderFieldsTooLarge
	case errors.Is(err, ErrBodyTooLarge):
		return StatusContentTooLarge
	default:
		return StatusBadRequest
	}
}

// Frame is one parsed frame. Its slices point into the buffer given to
// Parser.Parse and are valid only as long as those bytes are: copy what must
// outlive them. The one exception is a request whose lines held telnet
// commands: its Start and Head point into the Parser's own buffer and are
// valid until the next call to Parse (its Body is still the caller's).
type Frame struct {
	// Start is the start line without its line end.
	Start []byte
	// Full reports a full-form frame: a start line that ends with (requests,
	// events) or begins with (responses) the version token, followed by
	// headers and an empty line. A short-form request has no headers or body.
	Full bool
	// Head is the raw header block: every header line with its line end.
	Head []byte
	// Body holds exactly Content-Length bytes.
	Body []byte
}

// Headers yields each header's name and trimmed value in the order sent.
func (f *Frame) Headers() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for rest := f.Head; len(rest) > 0; {
			line, tail, _ := bytes.Cut(rest, []byte{'\n'})
			rest = tail
			name, value, _ := splitHeader(dropCR(line))
			if !yield(name, value) {
				return
			}
		}
	}
}

// Header returns the trimmed value of the first header called name (compared
// without regard to case), or nil if there is none.
func (f *Frame) Header(name string) []byte {
	for n, v := range f.Headers() {
		if equalFold(n, name) {
			return v
		}
	}
	return nil
}

// Parser phases.
const (
	phaseStart = iota
	phaseHead
	phaseBody
)

// Parser cuts frames out of a byte stream. It is incremental: given the bytes
// received so far it either returns one frame, or reports how many leading
// bytes were empty lines to drop, or asks for more by consuming nothing. It
// remembers how far it got in an incomplete frame, so bytes that trickle in
// are scanned once, not once per call; for that, each call must be given the
// same unconsumed bytes as the last one, followed by whatever arrived since.
//
// In the lines of a request the Parser also takes out telnet commands and
// queues the answers they need (see AppendTelnetReply and the package
// documentation). Lines without a byte 255 never touch that machinery.
//
// A Parser holds a few integers and one pointer, nil until the connection
// sends a telnet command; it is meant to live in each connection's context.
// The zero Parser takes requests with DefaultMaxBody.
type Parser struct {
	// MaxBody is the largest Content-Length accepted; 0 means DefaultMaxBody.
	// Values above math.MaxInt32 count as math.MaxInt32.
	MaxBody int
	// Responses makes the parser read the server-to-client direction:
	// every start line must be a response or an event, and short-form
	// requests are malformed.
	Responses bool

	// The fields are packed so that a Parser is as small as it was before
	// it read telnet: its pointer took the place of a field that only
	// duplicated line.
	phase    uint8
	begun    bool  // the start line being read holds a byte other than SP, HT or CR
	headers  uint8 // header lines read so far, at most MaxHeaders+1
	scan     int32 // where the search for the next line end resumes
	line     int32 // start of the line being read; in the body phase, of the body
	startEnd int32 // end of the start line's content
	length   int32 // Content-Length, -1 if none was given
	clean    int32 // buf[:clean] holds no IAC (255): requests only
	tn       *telnet
}

// Parse reads at most one frame from the start of buf.
//
// It returns n > 0 and ok true when f holds a whole frame of n bytes; n > 0
// and ok false when the first n bytes held no frame and are to be dropped
// (empty lines, telnet commands, or lines of a request that telnet commands
// made the parser copy, see Frame); n == 0 and ok false when buf holds only
// part of a frame (call again with more). A non-nil error means the stream
// cannot be framed any further: the caller answers with StatusOf(err) and
// closes. Parse never reads past len(buf), never returns n > len(buf) and
// never writes to buf.
func (p *Parser) Parse(buf []byte, f *Frame) (n int, ok bool, err error) {
	if t := p.tn; t != nil && !t.on && cap(t.head) > keepHead {
		// The last frame that needed a copy was large; it is no longer
		// valid, so its buffer need not stay with the connection.
		t.head = nil
	}
	if int(p.scan) > len(buf) || int(p.clean) > len(buf) {
		// The caller broke the contract and gave fewer bytes than last
		// time; start the frame over rather than index out of range.
		p.reset()
		p.clean = 0
	}
	for {
		if p.phase == phaseBody {
			end := int(p.line) + int(p.length)
			if len(buf) < end {
				return 0, false, nil
			}
			p.fill(buf, f, end, true)
			return p.consumed(end), true, nil
		}
		content, next, used, err := p.nextLine(buf)
		switch {
		case err != nil:
			return 0, false, err
		case used > 0:
			return p.consumed(used), false, nil
		case next == 0:
			return 0, false, nil
		}
		copied := p.copying()
		switch p.phase {
		case phaseStart:
			if len(trimBlanks(content)) == 0 {
				p.reset()
				return p.consumed(next), false, nil
			}
			// A start line begins the buffer (the caller's or, when
			// copied, the parser's), so its content ends at its length.
			p.startEnd = int32(len(content))
			full, err := p.classify(content)
			if err != nil {
				return 0, false, err
			}
			if !full {
				p.fill(buf, f, next, false)
				return p.consumed(next), true, nil
			}
			p.phase = phaseHead
		case phaseHead:
			if len(content) == 0 {
				// The header block ends: line now marks the body.
				p.line, p.scan = int32(next), int32(next)
				if p.length <= 0 {
					p.fill(buf, f, next, true)
					return p.consumed(next), true, nil
				}
				p.phase = phaseBody
				continue
			}
			if err := p.header(content); err != nil {
				return 0, false, err
			}
		}
		if copied {
			// The line now lives in the parser's buffer: consume it, so
			// that the caller's buffer starts with the next line.
			p.line, p.scan = 0, 0
			return p.consumed(next), false, nil
		}
		p.line, p.scan = int32(next), int32(next)
	}
}

// consumed returns n, the bytes a call consumes, after moving what is
// known free of IAC along with them.
func (p *Parser) consumed(n int) int {
	p.clean = max(p.clean-int32(n), 0)
	return n
}

// Begun reports whether a frame is in progress: a byte of a start line other
// than space, tab or CR has arrived (telnet commands are not bytes of a
// line), and the frame is not complete. It describes the bytes given to the
// last call of Parse once that call has asked for more (n == 0, no error);
// after a call that consumed bytes, call Parse again first. A server starts
// its frame timeout when Begun turns true and stops it when a frame is
// returned; empty lines and telnet negotiation never start it.
func (p *Parser) Begun() bool {
	return p.phase != phaseStart || p.begun
}

// nextLine finds the line that starts at p.line. It returns the line's
// content (without LF and one CR) and the offset just past its LF, or
// next == 0 if the line is not complete yet. In a request, a telnet command
// found before the line end is handled first: used > 0 is how many bytes
// it took, to be consumed.
func (p *Parser) nextLine(buf []byte) (content []byte, next, used int, err error) {
	start, scan := int(p.line), int(p.scan)
	i := bytes.IndexByte(buf[scan:], '\n')
	if !p.Responses {
		stop := len(buf)
		if i >= 0 {
			stop = scan + i
		}
		if int(p.clean) < stop {
			// Search all the rest for IAC at once, not line by line:
			// pipelined requests then cost one search per batch.
			if j := bytes.IndexByte(buf[p.clean:], iac); j >= 0 {
				p.clean += int32(j)
			} else {
				p.clean = int32(len(buf))
			}
			// Lines before this one had no IAC, or would have been
			// copied, so an IAC before its end is in it.
			if int(p.clean) < stop {
				used, err := p.telnet(buf, int(p.clean))
				return nil, 0, used, err
			}
		}
	}
	if i < 0 {
		p.noteText(buf[scan:])
		p.scan = int32(len(buf))
		if err := p.checkPartial(buf[start:]); err != nil {
			return nil, 0, 0, err
		}
		return nil, 0, 0, nil
	}
	end := scan + i
	if p.copying() {
		content = p.tn.addLine(buf[:end+1])
	} else {
		content = dropCR(buf[start:end])
	}
	if len(content) > MaxLine {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes: %s", ErrLineTooLong, len(content), snippet(content))
	}
	return content, end + 1, 0, nil
}

// checkPartial fails if the line being read, of which tail is the part in
// the caller's buffer, has grown past MaxLine without a line end. One byte
// more is allowed if it is a CR, which the LF may yet make a line end.
func (p *Parser) checkPartial(tail []byte) error {
	seen, last := len(tail), byte(0)
	if seen > 0 {
		last = tail[seen-1]
	}
	if p.copying() {
		held := p.tn.partial()
		seen += len(held)
		if len(tail) == 0 && len(held) > 0 {
			last = held[len(held)-1]
		}
	}
	if seen > MaxLine+1 || seen == MaxLine+1 && last != '\r' {
		return fmt.Errorf("%w: %d bytes without a line end: %s", ErrLineTooLong, seen, snippet(tail))
	}
	return nil
}

// noteText records whether b, newly arrived bytes of a start line, begin a
// frame.
func (p *Parser) noteText(b []byte) {
	if p.phase == phaseStart && !p.begun {
		p.begun = hasText(b)
	}
}

// hasText reports whether b holds a byte other than space, tab and CR.
func hasText(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return true
		}
	}
	return false
}

// classify decides whether a start line begins a full-form frame.
func (p *Parser) classify(line []byte) (full bool, err error) {
	p.length, p.headers = -1, 0
	if p.Responses {
		if hasVersionPrefix(line) || hasVersionSuffix(line) {
			return true, nil
		}
		return false, fmt.Errorf("%w: start line is neither a response nor an event: %s", ErrMalformed, snippet(line))
	}
	return hasVersionSuffix(line), nil
}

// header checks one header line and records Content-Length.
func (p *Parser) header(line []byte) error {
	p.headers++
	if p.headers > MaxHeaders {
		return fmt.Errorf("%w: more than %d", ErrTooManyHeaders, MaxHeaders)
	}
	name, value, ok := splitHeader(line)
	if !ok {
		return fmt.Errorf("%w: bad header line: %s", ErrMalformed, snippet(line))
	}
	if !equalFold(name, "Content-Length") {
		return nil
	}
	if p.length >= 0 {
		return fmt.Errorf("%w: repeated Content-Length", ErrMalformed)
	}
	limit := p.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	// The parser keeps offsets in int32; a larger limit would let a
	// Content-Length wrap around and desynchronize the stream.
	limit = min(limit, math.MaxInt32)
	n, ok := parseUint(value, limit)
	if !ok {
		if isDigits(value) {
			return fmt.Errorf("%w: Content-Length %s over the limit of %d", ErrBodyTooLarge, snippet(value), limit)
		}
		return fmt.Errorf("%w: bad Content-Length: %s", ErrMalformed, snippet(value))
	}
	p.length = int32(n)
	return nil
}

// fill sets f to the frame that ends at end and resets the parser. A
// short-form frame is its start line alone. The start line and headers are
// in buf, or in the parser's buffer if they had to be copied; the body is
// always in buf.
func (p *Parser) fill(buf []byte, f *Frame, end int, full bool) {
	// A full frame is filled once its header block has ended, when line
	// marks the body.
	lines, headEnd := buf, int(p.line)
	if p.copying() {
		lines, headEnd = p.tn.head, len(p.tn.head)
	}
	f.Start = lines[:p.startEnd]
	f.Full = full
	f.Head, f.Body = nil, nil
	if full {
		if headStart := skipLine(lines, int(p.startEnd)); headStart < headEnd {
			f.Head = trimBlank(lines[headStart:headEnd])
		}
		if p.length > 0 {
			f.Body = buf[p.line:end]
		}
	}
	p.reset()
}

func (p *Parser) reset() {
	p.phase, p.begun, p.headers, p.scan, p.line, p.startEnd, p.length = phaseStart, false, 0, 0, 0, 0, -1
	if p.tn != nil {
		p.tn.on = false
	}
}

// copying reports whether the frame being read is assembled in the
// parser's buffer.
func (p *Parser) copying() bool {
	return p.tn != nil && p.tn.on
}

// skipLine returns the offset just past the LF at or after i.
func skipLine(buf []byte, i int) int {
	return i + bytes.IndexByte(buf[i:], '\n') + 1
}

// trimBlank drops the empty line that ends a header block.
func trimBlank(head []byte) []byte {
	head = bytes.TrimSuffix(head, []byte{'\n'})
	head = bytes.TrimSuffix(head, []byte{'\r'})
	return head
}

func dropCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

// splitHeader splits "Name: value". The name must be a non-empty token.
func splitHeader(line []byte) (name, value []byte, ok bool) {
	name, value, ok = bytes.Cut(line, []byte{':'})
	if !ok || len(name) == 0 {
		return nil, nil, false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return nil, nil, false
		}
	}
	// A header that is present but empty (Id:) must not look absent:
	// trimBlanks keeps value's memory, never nil.
	return name, trimBlanks(value), true
}

// trimBlanks returns b without leading and trailing spaces and tabs, a
// slice of b (empty, not nil, if b is blank and not nil). It is
// bytes.Trim(b, " \t") without the character set that call builds each
// time, which cost a third of cutting a frame.
func trimBlanks(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

func hasVersionSuffix(line []byte) bool {
	n := len(line) - len(Version)
	return n > 0 && (line[n-1] == ' ' || line[n-1] == '\t') && string(line[n:]) == Version &&
		len(trimBlanks(line[:n])) > 0
}

func hasVersionPrefix(line []byte) bool {
	return len(line) > len(Version) && string(line[:len(Version)]) == Version && line[len(Version)] == ' '
}

// equalFold compares ASCII b and s without regard to case, allocation-free.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseUint parses a decimal number of at most limit. ok is false if b is
// not all digits or the number is above limit.
func parseUint(b []byte, limit int) (n int, ok bool) {
	if !isDigits(b) {
		return 0, false
	}
	for _, c := range b {
		n = n*10 + int(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}

// snippet quotes at most the first 40 bytes of b for an error message.
func snippet(b []byte) string {
	const max = 40
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
