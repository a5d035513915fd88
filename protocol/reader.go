package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// Reader reads server-to-client frames (responses and events) from a
// stream, blocking until a whole frame has arrived. It buffers on its own:
// the buffer starts small and grows only as far as the largest frame the
// limits allow. A Reader is not safe for concurrent use.
type Reader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
	max        int
	p          Parser
	f          Frame
}

// NewReader returns a Reader of frames from r whose bodies are at most
// maxBody bytes (0 means DefaultMaxBody; above math.MaxInt32 means
// math.MaxInt32).
func NewReader(r io.Reader, maxBody int) *Reader {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	// The Parser accepts no more than this; capping here also keeps the
	// buffer limit below from overflowing.
	maxBody = min(maxBody, math.MaxInt32)
	return &Reader{
		r:   r,
		buf: make([]byte, 4096),
		max: (MaxHeaders+1)*(MaxLine+2) + maxBody + 2,
		p:   Parser{MaxBody: maxBody, Responses: true},
	}
}

// Next returns the next frame. The frame and its slices are valid until the
// next call to Next. At the end of the stream it returns io.EOF if no part
// of a frame had arrived, io.ErrUnexpectedEOF otherwise.
func (r *Reader) Next() (*Frame, error) {
	for {
		n, ok, err := r.p.Parse(r.buf[r.start:r.end], &r.f)
		if err != nil {
			return nil, err
		}
		r.start += n
		if ok {
			return &r.f, nil
		}
		if n > 0 {
			continue
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, making room first.
func (r *Reader) fill() error {
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		} else {
			size := min(2*len(r.buf), r.max)
			if size <= len(r.buf) {
				return fmt.Errorf("%w: frame larger than %d bytes", ErrMalformed, r.max)
			}
			r.buf = append(r.buf, make([]byte, size-len(r.buf))...)
		}
	}
	n, err := r.r.Read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		return io.ErrNoProgress
	}
	if errors.Is(err, io.EOF) && r.end > r.start {
		if len(bytes.Trim(r.buf[r.start:r.end], " \t\r\n")) > 0 {
			return io.ErrUnexpectedEOF
		}
	}
	return err
}

// Status returns a response's status code; ok is false if f is not a
// well-formed response.
func (f *Frame) Status() (code int, ok bool) {
	if !hasVersionPrefix(f.Start) {
		return 0, false
	}
	rest := f.Start[len(Version)+1:]
	num, _, _ := bytes.Cut(rest, []byte{' '})
	if len(num) != 3 {
		return 0, false
	}
	return parseUint(num, 999)
}

// Event returns an event's name and argument (the camp id of JOINED, LEFT,
// PEERSESSION, COMPLETE, MESSAGE and DIRECT); ok is false if f is not an
// event.
func (f *Frame) Event() (name, arg []byte, ok bool) {
	if hasVersionPrefix(f.Start) || !hasVersionSuffix(f.Start) {
		return nil, nil, false
	}
	line := bytes.Trim(f.Start[:len(f.Start)-len(Version)], " \t")
	name, arg = cutSpace(line)
	return name, arg, true
}
