// Package metrics is campfire's Prometheus instrumentation: the binding
// metric names of the side port's /metrics (dashboards and tests outside
// this repository read them), on a registry of their own with the Go and
// process collectors, never on client_golang's global default registry.
//
// The server calls it from its gnet event loops, several at once with
// -loops N, once or more per message, so every method on that path is an
// atomic add on a child metric resolved when New runs: labels are chosen by
// small integers (a protocol.Method, an index into the status codes, an
// EventKind, a close reason), never by strings, and nothing allocates. A
// nil *Metrics records nothing, so a server may run without metrics by
// passing nil.
//
// The connections gauge follows Accepted and Closed (each loop adds and
// subtracts its own), the campers, groups and sessions gauges are set by
// the loop that owns the camp.
package metrics
