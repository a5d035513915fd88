// Package cluster is the NATS JetStream layer of campfire's cluster mode:
// one camp over many nodes, each keeping a full replica of the camp, with
// one JetStream stream (the log) as the total order of every change.
//
// A Node connects to NATS (an embedded nats-server routed to the other
// nodes, or an external NATS system), creates the camp's stream and
// snapshot store or checks that they were made for the same camp
// configuration, and then:
//
//   - appends the server's records to the log (Append, then Flush once per
//     event): entries are packed into few messages and published
//     asynchronously with a bounded window of unacknowledged messages, so
//     no request costs a serial round trip; an entry the log has not taken
//     within the cluster timeout is reported to Handler.Failed by its tag;
//   - reads the whole log in order with an ordered consumer and hands it to
//     the Handler from one goroutine, as batches of everything available;
//   - loads the newest snapshot first, and reports Handler.CaughtUp once it
//     has read the log up to its own arrival (a node-up entry), so the
//     server opens its port only then;
//   - sends heartbeats, and declares a member that has been silent for the
//     node timeout down with a node-down entry; membership (node-up and
//     node-down entries) is applied by the same rules on every node, the
//     entries of non-members are ignored everywhere, and a node that reads
//     its own node-down is told to close its connections (Handler.CutOff);
//   - asks one node (the member with the lowest name) for a snapshot every
//     so often (Batch.Snapshot, answered by SaveSnapshot), keeps the newest
//     two, and purges the log behind them.
//
// The package knows nothing of the camp: a data entry is an opaque record
// of the server's, and a snapshot opaque bytes. What it guarantees: every
// node sees the same entries in the same order, each node's entries in the
// order it appended them, and the same membership at every sequence.
package cluster
