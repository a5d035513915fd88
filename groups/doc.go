// Package groups is the campfire's state machine: it decides every rule of
// CAMP/1.0 section 2 (check-in, seating in groups of four, peer sessions,
// messages, directs, missions) and returns exactly the bytes to write and
// to whom. It sits between protocol, which knows bytes, and server, which
// knows sockets: the server parses a request with protocol, hands it to
// Camp.Handle with the connection it came from and the current time, then
// writes Result.Reply to that connection and each Delivery to its
// recipient, in order. It is pure (no goroutines, locks, sockets, logging
// or clock), so the gnet server calls it from its event loop, a
// conventional server calls it under a mutex, and every rule is a plain
// table test. Nothing it does per request scans all groups or all campers:
// campers are found by id in a map and by connection through the Seat the
// connection carries (no map: the Conn constraint), and the lowest group
// with a free seat and the lowest unused group number come from two
// min-heaps. A broadcast is encoded once into a reused buffer and the same
// bytes are handed out for every recipient, so a message to a group
// allocates nothing.
//
// Each walks the groups in ascending number, with their campers in seat
// order and their sessions, for a status page or to check out every
// camper of a cluster node that died; Len, Groups and Sessions are the
// totals, kept as counters. The order depends only on the camp's state,
// never on map order.
//
// A Camp is deterministic: fed the same calls with the same times, two
// Camps give the same bytes. Cluster mode builds on that: every node keeps
// a replica fed one ordered log. AppendSnapshot encodes the whole state
// (connections through a key function the server supplies, since only it
// knows what a connection is) and Restore builds a Camp from it that
// answers every later call exactly as the original would; a node that
// starts late restores a snapshot and replays the log after it. Digest
// hashes the logical state, not the connections, so that replicas can be
// compared after each entry.
//
// Choices made where the contract leaves room:
//
//   - Checks run in the contract's order, with a bad Id header first: 400
//     (the Id is not echoed), then 501, 401, 400 for arguments, and last the
//     state of the camp. For checkin, 409 (connection or id already checked
//     in) comes before 503 (full or draining).
//   - A 501's one-line body quotes the unknown request and names the known
//     ones (protocol.Known); help answers 200 with the full list.
//   - direct to yourself is allowed: you get 200, then your own DIRECT.
//   - Active is the time since check-in truncated to the millisecond, as
//     seconds with three decimals; a clock that went back gives 0.000.
//   - A camper who is not the host may leave during a session; it goes on.
//     The host leaving ends it: the rest get COMPLETE (Reason: host-left),
//     then LEFT. After a checkout, any request the server still passes on
//     for that connection is handled as from one that never checked in.
//   - peersession while a session runs is 409 even for its host; complete
//     with no session is 409 and, with one, 403 for anyone but the host.
//   - Draining refuses check-ins only; campers already in carry on.
//   - Within one broadcast, members get their frames in check-in order.
package groups
