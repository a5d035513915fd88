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
// connection's output (output.go); at the end of the callback flush writes
// each connection's output with one Write. A result marked last makes the
// connection linger: a FIN goes out once its output has drained, and the
// socket is closed when the client closes or the grace period is up.
//
// There is one path and several carriers. With one loop (-loops 1, or a
// machine with one CPU) the camp is on the loop that read the request: the
// direct carrier applies the command at once and the results are queued
// straight away, with nothing copied. With several (the default is one per
// CPU) the camp stays on loop 0 and the loops carrier (loops.go) moves
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
// The default is one event loop per CPU. Measured with make compare on 2
// cores shared with the harness, 10,000 connections in groups of 4, 20,000
// messages/s offered (60,000 deliveries/s), every run beside the
// conventional server, steal at most 1.2% and other programs' CPU at most
// 0.5% (README, Performance):
//
//	               p50 ms     p99 ms     p99.9 ms   CPU µs/delivery
//	1 loop         2.6–77     45–482     60–552     12.1–13.6   (3 runs)
//	2 loops        0.29–0.80  4.5–28     13–63      12.2–14.1   (5 runs)
//	conventional   0.38–0.66  5.0–34     12–59      13.5–16.5   (5 runs)
//
// One loop needs about 0.7 of a core, 80% of it write(2), one per frame; it
// cannot borrow the other core, and its threads waited for a CPU 37–42% as
// long as they ran (schedstat): running or waiting, the loop is never idle,
// so its queue builds for seconds at a time (a per-second p99 of 70–160 ms
// between seconds of 4–6 ms). perf stat agrees: 29–31 epoll_wait/s, the
// loop finding events every time (in runs with other programs on the
// machine). Not the GC: one cycle per 20 s window. Two loops need about
// 0.37 of a core each; a request crosses to loop 0 and its results come
// back in batches, at the same CPU per delivery as one loop. In a clean
// run they made 65,500 write/s for 80,000 frames/s (wake-ups included),
// 20,000 read/s, 17,500 epoll_wait/s and 2,000 futex/s; the conventional
// server 80,000 write/s, 40,000 read/s, 5,900 epoll_wait/s, 3,800 futex/s.
//
// A loop hands on what one callback produced for another loop at the
// callback's end, unless that loop has 16 batches or more waiting: then
// the batch stays open until it is full or the receiver has emptied its
// inbox (the receiver's drain schedules a flush task on each loop that
// holds a batch for it). Every loop also drains its own inbox at the end of
// each callback, not only when the wake-up task runs. Saturated, holding
// took two loops from 431,000–459,000 to 499,000–512,000 deliveries/s
// (2.3 to 1.9 µs each) on a slower host than the figures above; holding
// until the receiver catches up, with the drains, from 460,000–581,000 to
// 560,000–738,000 in a later session (README).
//
// Empty batches are kept for reuse in a list bounded in bytes (4 MiB: with
// 1 MiB, saturated, it overflowed and emptied in turn, making 20 MB/s of
// garbage and about 20 GCs a second; see freeBudget). A
// sync.Pool, which every GC empties, made the garbage that brought on the
// next GC: 10 per window where one loop has 1; 5 with free lists kept
// per loop (the figures above), fewer as the heap settles. A list of 16
// batches made new ones all the time: 220 bytes per message in
// BenchmarkMessage with 2 loops, 28 with the byte bound. serve's GC target of 25 costs no tail here:
// with GOGC=100, one GC per window, two loops had the same p99 (5.2–7.1 ms,
// 2 clean runs).
//
// Saturated (1,000 connections, 8 messages in flight per sender), two
// loops delivered 640,000–688,000 messages/s at 1.39–1.50 µs of CPU each,
// one loop 551,000–623,000 at 1.39–1.61 µs: there writes merge, several
// frames per connection per flush.
package server
