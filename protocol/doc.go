// Package protocol is the CAMP/1.0 wire format: frames, requests, responses
// and events, in both directions.
//
// It knows bytes and nothing else. The server hands it the bytes gnet has
// buffered for a connection; a Parser cuts whole frames out of them without
// copying and reports "need more" without error, so the same Parser works on
// a slowly typing telnet user and on a pipelining robot. Encoders append to a
// caller's buffer (AppendStatus, AppendEvent, AppendHeader, AppendBody, ...)
// so that a broadcast frame is built once and written to every peer. Reader
// is the blocking counterpart for clients: it reads responses and events off
// a connection with the same grammar. ParseArgs turns a request's arguments
// into a Command, accepting every spelling the contract lists, and IDRange
// validates camp ids such as J004 against a configured range.
//
// Choices this package makes where the contract leaves room:
//
//   - A start line made only of spaces and tabs is ignored like an empty one.
//   - A full-form request may carry at most MaxHeaders header lines; more is
//     431, like an over-long line. A repeated Content-Length is a malformed
//     frame (400); unknown headers are ignored.
//   - The version token counts only as the last of at least two tokens:
//     "checkin J004 CAMP/1.0" is full form, "CAMP/1.0" alone is a request
//     named CAMP/1.0 (501).
//   - A full-form message or direct whose start line carries text besides the
//     arguments is a 400: in full form the text is the body.
//   - Requests that take no arguments (checkout, complete, ping, help) answer
//     400 when given some, so that a typo is not silently taken as a command.
//   - Mission days accept "4", "day4" and "day 4" (any case); an integer too
//     large for int is an integer with no mission (404), as is 0 or a
//     negative number.
package protocol
