// Package client is the Go side of a CAMP/1.0 conversation: a library that
// checks in, sends requests and receives events, and Main, the interactive
// terminal client behind `campfire client`.
//
// A Client owns one TCP connection, or with WithTLS one TLS connection to
// a TLS-terminating proxy in front of the server. Requests are written in full form
// (start line, an Id header, a Content-Length body) so that any text,
// newlines included, travels intact. Calls may run concurrently: each one
// queues a waiter and writes its frame under one lock, so the queue order is
// the wire order, and a single reader goroutine hands every response to the
// waiter at the head of the queue after checking the echoed Id. A call whose
// context ends returns at once; its waiter stays queued, so the response that
// still arrives is consumed and discarded rather than given to the next call.
// Events go to a bounded channel that the reader never blocks on: when it is
// full, events are dropped and counted (Dropped). When the connection ends,
// for whatever reason, every pending and later call fails with an error
// wrapping ErrClosed and the cause, and the Events channel is closed.
//
// Main reads commands from a terminal with github.com/ergochat/readline,
// which redraws the prompt and the half-typed line around events printed
// while the user types; from anything else (a pipe, a file) it reads plain
// lines and prints plain text, so that it can be scripted. Commands may be
// typed bare (mission 4) or after a slash (/mission 4), and /say or /msg
// sends the rest as a message. Any other line is a message, except one
// that may be a mistyped command (a first word within edit distance 2 of a
// command, 1 for the four-letter ones; a bare command whose arguments do
// not parse; one word while no session is known to run): that line is
// held with a question, so a typo never uses up one of the session's
// messages, and the next line answers it.
package client
