package protocol

import (
	"bytes"
	"strconv"
)

// Encoders append one part of a frame to dst and return the extended slice,
// in the manner of strconv.AppendInt. A frame is a start line
// (AppendStatus, AppendEvent or AppendRequest), any number of AppendHeader*
// calls, and one AppendBody, which also writes the empty line. Values must
// not contain CR or LF, nor in a request byte 255, which a server reads as
// telnet's IAC (AppendFrame escapes it); the encoders do not check.

// AppendStatus appends a response's status line, e.g. "CAMP/1.0 200 OK".
func AppendStatus(dst []byte, code int) []byte {
	dst = append(dst, Version...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, Reason(code)...)
	return append(dst, '\r', '\n')
}

// AppendEvent appends an event's start line: "NAME ARG CAMP/1.0", or
// "NAME CAMP/1.0" when arg is empty.
func AppendEvent(dst []byte, name string, arg []byte) []byte {
	dst = append(dst, name...)
	return appendArgVersion(dst, arg)
}

// AppendRequest appends a full-form request's start line:
// "METHOD ARGS CAMP/1.0".
func AppendRequest(dst []byte, m Method, args []byte) []byte {
	dst = append(dst, m.String()...)
	return appendArgVersion(dst, args)
}

func appendArgVersion(dst, arg []byte) []byte {
	if len(arg) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, arg...)
	}
	dst = append(dst, ' ')
	dst = append(dst, Version...)
	return append(dst, '\r', '\n')
}

// AppendHeader appends "Name: value".
func AppendHeader(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendHeaderString appends "Name: value".
func AppendHeaderString(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendHeaderInt appends "Name: v" in decimal.
func AppendHeaderInt(dst []byte, name string, v int) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = strconv.AppendInt(dst, int64(v), 10)
	return append(dst, '\r', '\n')
}

// AppendBody ends a frame. With a body it appends Content-Length, the empty
// line, the body and the CRLF that follows every body; without one, just
// the empty line.
func AppendBody(dst, body []byte) []byte {
	if len(body) == 0 {
		return append(dst, '\r', '\n')
	}
	dst = AppendHeaderInt(dst, HeaderContentLength, len(body))
	dst = append(dst, '\r', '\n')
	dst = append(dst, body...)
	return append(dst, '\r', '\n')
}

// AppendError appends a whole error response: status line, the request's Id
// if any, and msg as a text/plain body.
func AppendError(dst []byte, code int, id []byte, msg string) []byte {
	dst = AppendStatus(dst, code)
	if len(id) > 0 {
		dst = AppendHeader(dst, HeaderID, id)
	}
	dst = AppendHeaderString(dst, HeaderContentType, "text/plain; charset=utf-8")
	dst = AppendHeaderInt(dst, HeaderContentLength, len(msg))
	dst = append(dst, '\r', '\n')
	dst = append(dst, msg...)
	return append(dst, '\r', '\n')
}

// AppendFrame appends f, a request frame as a Parser returned it, in a form
// that a request Parser reads back as the same frame, consuming all of it:
// the start line and CRLF, and for a full-form frame the header lines as
// received, the empty line and the body. A byte 255 in the start line or a
// header, which only an IAC IAC can have put there, is written as IAC IAC
// again; reading such a frame back takes the Parser several calls (it
// consumes the escapes as telnet commands), any other frame one. It is how
// a server hands a frame on as bytes: a frame whose lines held telnet
// commands is not one stretch of the input, so the bytes Parse consumed for
// it do not hold it.
func AppendFrame(dst []byte, f *Frame) []byte {
	dst = appendEscaped(dst, f.Start)
	dst = append(dst, '\r', '\n')
	if !f.Full {
		return dst
	}
	dst = appendEscaped(dst, f.Head)
	dst = append(dst, '\r', '\n')
	return append(dst, f.Body...)
}

// appendEscaped appends b with every byte 255 doubled, as telnet does.
func appendEscaped(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, iac)
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, iac)
		b = b[i+1:]
	}
}
