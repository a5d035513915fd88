// Package bench is campfire's load harness and the conventional baseline
// server it is compared against.
//
// The harness (Main without -serve-baseline) runs in its own process and
// drives a CAMP/1.0 server over loopback: it dials from a spread of local
// addresses (one source address runs out of ephemeral ports long before
// 10,000 connections), checks everyone in, and then runs one scenario:
// peers (group members exchange timestamped messages in peer sessions at a
// paced total rate), checkin (connect, check in, check out, repeat) or echo
// (pipelined round trips against the echo service). It talks the wire
// format through the protocol package's encoders and Reader directly, never
// through the client library, and allocates nothing per message in steady
// state: each sender patches the timestamp into a pre-encoded frame, and
// each connection's reader records latencies into a small batch that it
// flushes into its shard's HdrHistogram once per batch, so there is no lock
// per sample. It samples the server's RSS and CPU from /proc when given its
// pid, and reports a summary table and, on request, JSON.
//
// The baseline server (Main with -serve-baseline, or StartBaseline) is the
// design a Go programmer would write first: stdlib net, one goroutine per
// connection, a sync.Mutex around the same groups.Camp state machine, and a
// write mutex per connection. It exists so that the gnet server's CPU and
// memory per connection have something honest to be measured against.
package bench
