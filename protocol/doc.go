// Package protocol is the CAMP/1.0 wire format: frames, requests, responses
// and events, in both directions.
//
// It knows bytes and nothing else. The server hands it the bytes gnet has
// buffered for a connection; a Parser cuts whole frames out of them without
// copying and reports "need more" without error, so the same Parser works on
// a slowly typing telnet user and on a pipelining robot. In requests it also
// takes telnet commands (RFC 854) out of the lines as soon as they arrive
// and queues the answers the contract requires (AppendTelnetReply), so that
// a real telnet client, Ctrl-C included, works; only a frame whose lines
// held such commands is copied. Encoders append to a caller's buffer
// (AppendStatus, AppendEvent, AppendHeader, AppendBody, ...) so that a
// broadcast frame is built once and written to every peer. Reader is the
// blocking counterpart for clients: it reads responses and events off a
// connection with the same grammar. ParseArgs turns a request's arguments
// into a Command, accepting every spelling the contract lists, and IDRange
// validates camp ids such as J004 against a configured range. ParseProxy
// reads the PROXY protocol header (HAProxy's versions 1 and 2) that a proxy
// in front of the server sends first, and AppendProxyV1 and AppendProxyV2
// write one, for tests and load generators.
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
//   - Telnet commands are handled in requests only. In the server-to-client
//     direction (Parser.Responses, Reader) byte 255 is data: the server
//     sends no telnet commands, and a client reading them would misread a
//     body.
//   - IAC IP, AO, BRK, EC and EL edit the line being typed, never lines
//     already ended: in a full-form request they leave the start line and
//     earlier header lines alone. A line erased and then ended is an empty
//     line, which ends a header block like any other.
//   - Telnet command bytes do not count towards MaxLine; IAC IAC counts as
//     the one data byte it stands for. The line's limit is checked when a
//     command arrives, so EC cannot rescue a line that was already over it.
//   - A subnegotiation may hold anything, line ends included, up to IAC SE
//     (IAC IAC inside it is data, any other IAC x is skipped); one that has
//     run for more than MaxLine bytes without ending is a 431.
//   - IAC followed by a byte that names no command drops both bytes; IAC AYT
//     is ignored like NOP, as the contract lists. Every DO and WILL is
//     answered, repeats included: refusing cannot start a negotiation loop.
//   - A frame has begun (Parser.Begun, for the frame timeout) once its start
//     line holds a byte other than space, tab or CR, telnet commands not
//     being bytes of the line: a line of blanks is ignored like an empty one.
//     A start line erased back to nothing is no longer a frame in progress.
//   - A PROXY header is refused at the first byte that rules it out, so a
//     client that speaks CAMP/1.0 straight away is refused at once. A v2
//     header may be at most MaxProxyV2 bytes; its TLVs are skipped unread
//     (a CRC32C one is not checked).
//   - A PROXY header yields a client address only for TCP (v1 TCP4, TCP6;
//     v2 AF_INET, AF_INET6 over STREAM). UNKNOWN, LOCAL, AF_UNSPEC, AF_UNIX
//     and datagram transports are accepted without one, so the real peer
//     address stands, as the specification allows; a LOCAL header's family
//     byte is ignored, as it says.
//   - A v1 IPv6 address is read as net/netip reads one (groups of one to
//     four hex digits in either case, one "::", a dotted IPv4 tail), which
//     covers what inet_ntop writes; a zone is refused. An IPv4-mapped
//     address stays IPv6.
//   - Mission days accept "4", "day4" and "day 4" (any case); an integer too
//     large for int is an integer with no mission (404), as is 0 or a
//     negative number.
package protocol
