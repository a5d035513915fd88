// Package server wires gnet to the protocol and groups packages: the
// challenge service (CAMP/1.0) and the echo service.
//
// Each service is one gnet engine, by default with one event loop. gnet's
// acceptor hands connections to that loop, and every OnOpen, OnTraffic and
// OnClose runs on it, so the group state machine (groups.Camp) lives in the
// handler with no lock: OnTraffic peeks at gnet's inbound buffer, the per-connection
// protocol.Parser cuts whole frames out of it without copying, the camp
// answers each, and the handler discards what was used. Replies and events
// are appended to a per-connection output buffer while an event is handled
// and written with one Write per connection at its end (flush), so a
// connection that is sent many frames in one event costs one syscall, and a
// broadcast frame is encoded once by the camp and copied to each peer.
//
// The gnet facts this package is built around (see ../shared/GNET.md):
//
//   - A gnet.Conn is never touched after OnClose: the per-connection context
//     records the state, and a closed conn is skipped wherever it is still
//     referenced. OnClose can run inside a Write that failed (in flush); the
//     camp is never in the middle of a call then, because its results are
//     copied into output buffers before anything is written.
//   - Nothing is bounded for us: input is bounded by the parser's limits
//     (a frame is at most 33 lines of 4 KiB plus -max-body), output by
//     -max-pending, checked after every flush (a slow consumer is closed and
//     checked out; its group hears LEFT).
//   - An accept error such as EMFILE stops the engine, so the connection cap
//     (-max-conns, by default the open-file limit less 256) is enforced in
//     OnOpen with a 503, and an engine that stops on its own makes the
//     command log it and exit 1.
//   - Closing a socket that has unread input makes the kernel send a reset,
//     which can destroy a reply in flight. After a connection's last reply
//     (checkout, a frame error, the echo) it lingers: input is discarded, a
//     FIN goes out once the output has drained, and the socket is closed
//     when the client closes or -grace has passed.
//   - Idle connections are found without scanning: open connections sit in
//     a list ordered by last input, so the sweep (every tick, on the loop)
//     stops at the first one that has not expired.
//
// With -loops N > 1, connections are spread over N loops and the camp stays
// on loop 0, the owner: the other loops cut frames out of their input and
// forward them, and the owner hands replies and events back, in one batch
// per event through gnet's task queues (forward.go). The state machine is
// still single-threaded; only the write(2) calls, which are almost all of
// the CPU, are spread.
//
// Measured with bench/compare.sh on 2 cores shared with the harness:
// 10,000 connections in groups of 4, 20,000 messages/s offered (60,000
// deliveries/s); ranges over several runs:
//
//	loops  CPU µs/delivery  p50           p99          RSS/conn
//	1      11.7–13.2        0.8–9 ms      56–163 ms    1048–1133 B
//	2      15.3–16.4        0.7–1.3 ms    20–78 ms     1147–1212 B
//	conventional (goroutine per conn, mutex):
//	       14.9–17.0        0.3–0.8 ms    6–27 ms      ~15 KiB
//
// One loop is the default: it uses the least CPU and memory. Its limit is
// one core of write(2) calls, one per delivered frame (90% of its CPU in
// the profile); near that limit latency grows, and more loops help. At
// 5,000 messages/s one loop's latency matches the conventional server's
// (p50 242 µs against 219 µs) at 0.87× its CPU.
//
// Shutdown (SIGINT, SIGTERM, Server.Shutdown) refuses new connections with
// 503, sends SHUTDOWN to every connection, lets them linger until the
// clients have gone or -grace is over, then stops the engines.
package server
