// Package web is the serve command's HTTP side port (-http-addr): the
// Prometheus metrics, health checks for a load balancer or an orchestrator,
// a JSON snapshot of the camp, and the live camp page, which a teacher or
// an engineer keeps on a second screen.
//
// It never touches the camp. What it shows comes through a Source, which
// the server implements: Snapshot asks the camp's event loop (through
// gnet's task queue) for a plain copy of who sits where, and Health reads
// what the loop publishes. One snapshot is shared by every viewer and
// taken at most once per Config.MinInterval, so a hundred open pages cost
// the loop what one does, and no page costs it nothing.
//
// Each /api/events viewer is served by its own request goroutine, which
// sends a frame when the camp changed (checked at MinInterval) or at least
// once per Config.Heartbeat, and ends when the client goes or the side port
// shuts down. At 19,000 campers a frame carries one page of groups, not the
// camp: the page asks for a page number, a page size and a filter, and the
// browser draws a few dozen cards whatever the size of the camp.
//
// The page (camp.html) is one file embedded in the binary, with its styles
// and script inline and nothing fetched from elsewhere, so it works on a
// machine with no internet; its Content-Security-Policy forbids anything
// else.
package web
