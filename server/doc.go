// Package server wires gnet to the protocol and groups packages: the camp
// service (CAMP/1.0) and the echo service.
//
// # How a request travels
//
// read → parse → carrier → camp → results → queue → flush. gnet reads a
// connection's socket on the event loop that owns it and calls the
// reactor's OnTraffic (reactor.go). The reactor knows connections, not
// CAMP: it hands the input to its service. The camp service (camp.go) peeks
// at gnet's inbound buffer and lets the connection's protocol.Parser cut
// whole frames out of it without copying; each frame becomes a command,
// which it hands to the carrier (carrier.go). The carrier brings the
// command to the loop that holds the camp, where campCore applies it to
// groups.Camp, the single-threaded state machine, and routes every frame
// the camp produced as a result (connection, bytes, last?) back to the loop
// of its connection. There campService.receive queues the bytes on the
// connection's output (output.go); at the end of the loop's round (every
// callback of one epoll_wait) flush writes each connection's output with
// one Write. A result marked last makes the
// connection linger: a FIN goes out once its output has drained, and the
// socket is closed when the client closes or the grace period is up.
//
// There is one path and several carriers. With one loop (the default) the
// camp is on the loop that read the request: the direct carrier applies
// the command at once and the results are queued straight away, with
// nothing copied. With several (-loops N, or -loops 0 for one per CPU) the
// camp stays on loop 0 and the loops carrier (loops.go) moves
// commands and results between loops in batches through per-loop lock-free
// inboxes. Neither the reactor nor the camp
// service knows which carrier runs.
//
// # The reactor
//
// reactor[X] is generic over the service's per-connection state, so the
// echo service carries nothing of CAMP. It owns what every TCP service
// needs: the connection cap and the per-IP cap (a 503 from the camp
// service, a silent close on the echo port), the idle, linger and frame
// lists, batched writes, the output limit, draining, and the one way a
// connection ends: finish (its last reply is queued; it lingers) or abort
// (it closes now), each with a closeReason (close.go). Every connection is
// logged once when it opens and once when it closes, with the client's
// address, the camper, the reason, how long it was open and the bytes both
// ways; these lines, the refusals and the check-ins go through zap's
// sampler (-log-sample) so that a flood cannot flood the log.
//
// The gnet facts this package is built around (gnet v2.10.0):
//
//   - A gnet.Conn is never touched after OnClose, and never off its own
//     loop: a conn records its state and its remote address, and a closed
//     conn is skipped wherever it is still referenced. OnClose can run
//     inside a Write that failed; the camp is never in the middle of a call
//     then, because its results are copied into output buffers before
//     anything is written.
//   - Nothing is bounded for us. Input is bounded by the parser's limits (a
//     frame is at most 33 lines of 4 KiB plus -max-body), by -frame-timeout
//     (a frame that has begun and is not complete in time gets 408) and,
//     while a connection is paused, by its unread input. Output is bounded
//     hard: before each request the service asks whether the connection's
//     unsent output (plus the replies its requests in flight may add) is
//     over -max-pending; if so it stops reading that connection until the
//     output drains, and closes it as a slow consumer when the output stays
//     over the limit past -slow-timeout. A connection never holds more than
//     the limit plus one reply of its own making; events from others that
//     find its output over twice the limit close it at once.
//   - An accept error such as EMFILE stops the engine, so the connection cap
//     (-max-conns, by default the open-file limit less 256) is enforced in
//     OnOpen, and an engine that stops on its own makes the command log it
//     and exit 1.
//   - Closing a socket that has unread input makes the kernel send a reset,
//     which can destroy a reply in flight: hence lingering.
//   - Idle connections are found without scanning: open connections sit
//     in a list ordered by last input, so the sweep stops at the first one
//     that has not expired. Stale frames are found by walking that list,
//     only while some connection has a partial frame: a list of their own
//     would cost every connection two more pointers.
//   - gnet has no callback for the end of a round (the events of one
//     epoll_wait), but it runs the tasks queued for a loop after them, and
//     a task queued during the round makes the next, non-blocking
//     epoll_wait return at once: so the round's first callback queues the
//     task that writes and hands on for the whole round (endCallback).
//   - gnet's task queues do not keep order under load (a task queued after
//     the urgent queue overflowed may run after a later one), so the loops
//     carrier never relies on them for order: each loop's inbox is a stack
//     that the receiver takes whole and reverses, and a task only wakes the
//     receiver.
//
// # Shutdown
//
// Shutdown (SIGINT, SIGTERM, Server.Shutdown) is one transition: new
// connections are refused (503 on the camp port, a silent close on the
// echo port), the camp refuses check-ins, every open connection gets
// SHUTDOWN and lingers (the echo service closes its connections at once),
// the campers are checked out once everyone has been told, and the engines
// stop when the clients have gone or -grace is over.
//
// # Loops
//
// The default is one event loop. Measured with make compare on 2 cores
// shared with the harness, 10,000 connections in groups of 4, 20,000
// messages/s offered (60,000 deliveries/s), five runs of each beside the
// conventional server, steal 0.1-5.5 % (README, Performance):
//
//	               p50 ms     p99 ms     p99.9 ms   CPU µs/delivery
//	1 loop         0.35–0.55  4.1–10.4   9.0–16     8.2–9.6
//	2 loops        0.24–0.47  4.8–10.4   12–24      12.3–13.3
//	conventional   0.49–1.23  11–22      23–33      15.2–16.5
//
// Most of the CPU is write(2), one per connection per round: on loopback
// each write also runs the receiver's TCP stack. Writing once per round
// rather than once per callback (endCallback) merges the frames a
// connection gets from several events of one round; a loop with longer
// rounds merges more. It took one loop from a saturated 13.2–13.8 µs per
// delivery (p50 73–243 ms) to the figures above, and two loops from
// 13.5–14.4 to 12.3–13.1 µs. Two loops now cost 1.38× one loop's CPU per
// delivery: a request from loop 1 crosses to the camp's loop and its
// results cross back, each hop a push onto an inbox and, when the
// receiving loop sleeps, an eventfd write to wake it. Saturated (1,000
// connections, 8 messages in flight per sender) one loop delivered
// 861,000–977,000 messages/s at 0.88–1.00 µs each, two loops
// 860,000–928,000 at 1.02–1.11 µs. Here, with the harness on the same
// cores, a second loop costs more than it brings; -loops 0 (one per CPU)
// is for a machine whose cores the server has to itself, which this one
// cannot show.
//
// A loop hands on what one round produced for another loop at the round's
// end, unless that loop has 16 batches or more waiting: then the batch
// stays open until it is full or the receiver has emptied its inbox (the
// receiver's drain schedules the round's end, endTask, of each loop that
// holds a batch for it). Every loop also drains its own inbox at the end of
// each round, before it writes, not only when the wake-up task runs.
// Saturated, holding took two loops from 431,000–459,000 to 499,000–512,000
// deliveries/s (2.3 to 1.9 µs each) on a slower host; holding until the
// receiver catches up, with the drains, from 460,000–581,000 to
// 560,000–738,000 in a later session (README).
//
// Empty batches are kept for reuse in a list bounded in bytes (4 MiB: with
// 1 MiB, saturated, it overflowed and emptied in turn, making 20 MB/s of
// garbage and about 20 GCs a second; see freeBudget). A sync.Pool, which
// every GC empties, made the garbage that brought on the next GC. serve's
// GC target of 25 costs no tail here: with GOGC=100, one GC per window,
// two loops had the same p99 (5.2–7.1 ms, 2 clean runs).
package server
