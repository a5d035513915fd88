package protocol

import (
	"bytes"
	"fmt"
)

// Telnet commands (RFC 854) and the one option the parser agrees to.
const (
	iac  = 255 // interpret as command
	dont = 254
	do   = 253
	wont = 252
	will = 251
	sb   = 250 // subnegotiation begins
	el   = 248 // erase line
	ec   = 247 // erase character
	ao   = 245 // abort output
	ip   = 244 // interrupt process
	brk  = 243 // break
	se   = 240 // subnegotiation ends

	timingMark = 6 // RFC 860
)

// keepHead is the largest copy buffer a Parser keeps between frames; a
// larger one, needed only by a frame of long lines full of telnet commands,
// is dropped once that frame is done.
const keepHead = 2 * (MaxLine + 2)

// telnet is the part of a Parser that only a connection sending telnet
// commands needs, so it is allocated on the first one.
//
// How the Parser handles a command: besides the line end, it looks for IAC
// in a request's lines, searching all the bytes it was given at once and
// remembering how far they are free of it (Parser.clean), so that a batch
// of pipelined requests costs one search, not one per line. A command found
// before the line end is taken out as soon as all its bytes have arrived
// (telnet sends IAC IP IAC DO TIMING-MARK without a line end and waits for
// the answer): the call that handles it consumes it and returns no frame. Whatever of the frame came before the
// command and must be kept (the partial line, and for a full-form request
// the lines read so far) is copied into head, because consuming the command
// consumes those bytes too and the caller's buffer must not be edited. From
// then until the frame's header block ends, each line is copied into head as
// it completes and consumed, so the caller's buffer always starts with the
// rest of the current line. The frame's Start and Head then point into head;
// its body, read by offset, stays in the caller's buffer.
type telnet struct {
	head  []byte // the frame's lines so far, commands taken out, then the current line's start
	line  int    // where the current line starts in head
	on    bool   // head holds the frame being read
	reply []byte // answers not yet taken by AppendTelnetReply
}

// partial returns the start of the current line held in head.
func (t *telnet) partial() []byte {
	return t.head[t.line:]
}

// addLine appends the rest of the current line, LF included, and returns
// the whole line's content (without LF and one CR).
func (t *telnet) addLine(rest []byte) []byte {
	t.head = append(t.head, rest...)
	content := dropCR(t.head[t.line : len(t.head)-1])
	t.line = len(t.head)
	return content
}

// AppendTelnetReply appends to dst the telnet answers that Parse has queued
// since the last call (IAC WILL TIMING-MARK, IAC WONT x, IAC DONT x) and
// forgets them. The caller writes them to the peer. Only a call to Parse
// that consumed a telnet command (n > 0, ok false) queues an answer, so a
// caller that takes the answers after each such call sends them in order
// with its replies to the frames around them; that matters for TIMING-MARK,
// whose answer ends the discarding of output that telnet began on Ctrl-C.
// Answers queue up until taken, three bytes per command at most.
func (p *Parser) AppendTelnetReply(dst []byte) []byte {
	if p.tn == nil || len(p.tn.reply) == 0 {
		return dst
	}
	dst = append(dst, p.tn.reply...)
	p.tn.reply = p.tn.reply[:0]
	return dst
}

// telnet handles the command whose IAC is at buf[i], inside the line that
// starts at p.line (no IAC lies between the two). It returns how many bytes
// to consume (the line's bytes before the command and the command), or 0 if
// the command has not fully arrived.
func (p *Parser) telnet(buf []byte, i int) (used int, err error) {
	start := int(p.line)
	// The bytes before the command belong to the line and count against
	// its length, as if the command were not there.
	if err := p.checkPartial(buf[start:i]); err != nil {
		return 0, err
	}
	size, err := commandSize(buf[i:])
	if err != nil {
		return 0, err
	}
	if size == 0 {
		p.noteText(buf[p.scan:i])
		p.scan = int32(i) // resume at the IAC, not past it
		return 0, nil
	}
	cmd := buf[i+1]
	switch cmd {
	case do:
		if opt := buf[i+2]; opt == timingMark {
			p.answer(will, opt)
		} else {
			p.answer(wont, opt)
		}
	case will:
		p.answer(dont, buf[i+2])
	}

	// keep is how long the partial line will be: the part in buf after the
	// command's edit, plus what is already copied.
	keep := i - start
	if p.copying() {
		keep += len(p.tn.partial())
	}
	switch cmd {
	case ip, ao, brk, el:
		keep = 0
	case ec:
		keep = max(keep-1, 0)
	case iac:
		keep++
	}
	if !p.copying() {
		if p.phase == phaseStart && keep == 0 {
			// Nothing of a frame is held: the command goes alone.
			p.line, p.scan, p.begun = 0, 0, false
			return i + size, nil
		}
		p.startCopy(buf[:start])
	}
	t := p.tn
	t.head = append(t.head, buf[start:i]...)
	t.head = t.head[:t.line+min(keep, len(t.partial()))]
	if cmd == iac {
		t.head = append(t.head, iac)
		if err := p.checkPartial(nil); err != nil {
			return 0, err
		}
	}
	p.line, p.scan = 0, 0
	if p.phase == phaseStart {
		p.begun = hasText(t.partial())
		if len(t.head) == 0 {
			t.on = false // all erased: back to reading in place
		}
	}
	return i + size, nil
}

// startCopy begins assembling the frame in the parser's buffer with read,
// the frame's complete lines so far.
func (p *Parser) startCopy(read []byte) {
	t := p.telnetState()
	t.head = append(t.head[:0], read...)
	t.line = len(read)
	t.on = true
}

// answer queues the reply IAC verb opt.
func (p *Parser) answer(verb, opt byte) {
	t := p.telnetState()
	t.reply = append(t.reply, iac, verb, opt)
}

func (p *Parser) telnetState() *telnet {
	if p.tn == nil {
		p.tn = &telnet{}
	}
	return p.tn
}

// commandSize returns the length of the telnet command at the start of b
// (b[0] is IAC), or 0 if it has not fully arrived. A subnegotiation runs to
// IAC SE, IAC IAC inside it being data; one that goes on for more than
// MaxLine bytes without ending is refused like an over-long line, so that
// waiting for its end is bounded.
func commandSize(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	switch b[1] {
	case will, wont, do, dont:
		if len(b) < 3 {
			return 0, nil
		}
		return 3, nil
	case sb:
		for k := 2; ; k += 2 {
			j := bytes.IndexByte(b[k:], iac)
			if j < 0 || k+j+1 >= len(b) {
				if len(b) > MaxLine {
					return 0, fmt.Errorf("%w: telnet subnegotiation of %d bytes without an end: %s", ErrLineTooLong, len(b), snippet(b))
				}
				return 0, nil
			}
			k += j
			if b[k+1] == se {
				// Every prefix shorter than the whole went unended.
				if k+1 > MaxLine {
					return 0, fmt.Errorf("%w: telnet subnegotiation of %d bytes: %s", ErrLineTooLong, k+2, snippet(b))
				}
				return k + 2, nil
			}
			// IAC IAC is a data byte; any other IAC x inside a
			// subnegotiation is skipped with it.
		}
	default:
		// IAC IAC, the editing commands, and NOP, GA and every other
		// two-byte command (or a stray byte after IAC).
		return 2, nil
	}
}
