package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"campfire/internal/version"
	"campfire/protocol"
)

// The binding metric names.
const (
	NameConnections         = "campfire_connections"
	NameConnectionsAccepted = "campfire_connections_accepted_total"
	NameConnectionsClosed   = "campfire_connections_closed_total"
	NameCampers             = "campfire_campers"
	NameGroups              = "campfire_groups"
	NameSessions            = "campfire_sessions"
	NameRequests            = "campfire_requests_total"
	NameEvents              = "campfire_events_total"
	NameReceivedBytes       = "campfire_received_bytes_total"
	NameSentBytes           = "campfire_sent_bytes_total"
	NameSlowConsumers       = "campfire_slow_consumers_total"
	NameRequestSeconds      = "campfire_request_seconds"
	NameBuildInfo           = "campfire_build_info"
)

// UnknownLabel is the label value of a method, close reason or code that
// New did not resolve in advance (a bug in the caller, or an unknown
// request's method).
const UnknownLabel = "unknown"

// Codes are the statuses a CAMP/1.0 response may carry, resolved in
// advance for campfire_requests_total. A code not listed is still counted,
// under its own label, at the price of an allocation the first time.
var codes = [...]int{
	protocol.StatusOK,
	protocol.StatusBadRequest,
	protocol.StatusUnauthorized,
	protocol.StatusForbidden,
	protocol.StatusNotFound,
	408, // Request Timeout: a frame not complete in -frame-timeout
	protocol.StatusConflict,
	protocol.StatusContentTooLarge,
	protocol.StatusHeaderFieldsTooLarge,
	protocol.StatusNotImplemented,
	protocol.StatusServiceUnavailable,
}

// maxCode bounds the status codes looked up in a table; any other is
// counted the slow way.
const maxCode = 600

// RequestBuckets are the upper bounds, in seconds, of campfire_request_seconds:
// a request is handled on the loop in microseconds, and one forwarded
// across loops waits for a task queue, up to milliseconds.
var requestBuckets = []float64{
	1e-6, 2.5e-6, 5e-6,
	1e-5, 2.5e-5, 5e-5,
	1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3,
	1e-2, 2.5e-2, 5e-2,
	0.1, 1,
}

// RequestBuckets returns the bucket bounds of campfire_request_seconds.
func RequestBuckets() []float64 { return append([]float64(nil), requestBuckets...) }

// EventKind is an event frame the server writes; it labels
// campfire_events_total. The zero EventKind is none.
type EventKind uint8

// The events of CAMP/1.0.
const (
	EventJoined EventKind = iota + 1
	EventLeft
	EventPeerSession
	EventComplete
	EventMessage
	EventDirect
	EventShutdown
	eventKinds // the number of kinds plus one
)

var eventNames = [...]string{
	EventJoined:      protocol.EventJoined,
	EventLeft:        protocol.EventLeft,
	EventPeerSession: protocol.EventPeerSession,
	EventComplete:    protocol.EventComplete,
	EventMessage:     protocol.EventMessage,
	EventDirect:      protocol.EventDirect,
	EventShutdown:    protocol.EventShutdown,
}

// String returns the event's label, lower-case as in the contract
// ("joined"), or "none".
func (e EventKind) String() string {
	if e == 0 || e >= eventKinds {
		return "none"
	}
	return strings.ToLower(eventNames[e])
}

// LookupEvent returns the EventKind of an event name as protocol spells it
// (protocol.EventJoined, ...), compared without regard to case, or 0.
func LookupEvent(name string) EventKind {
	for e := EventJoined; e < eventKinds; e++ {
		if strings.EqualFold(name, eventNames[e]) {
			return e
		}
	}
	return 0
}

// Config says what New cannot know by itself.
type Config struct {
	// CloseReasons names the server's close reasons, which start at 1:
	// CloseReasons[r-1] is the reason label of Closed(r). Names must be
	// distinct and not empty.
	CloseReasons []string
	// Build labels campfire_build_info; the zero Info means version.Get().
	Build version.Info
}

// Metrics holds every campfire metric, each label combination resolved.
// Its methods are safe for concurrent use and, for valid arguments, do not
// allocate.
type Metrics struct {
	reg *prometheus.Registry

	connections prometheus.Gauge
	accepted    prometheus.Counter
	closed      []prometheus.Counter // closed[r-1] for reason r
	closedVec   *prometheus.CounterVec
	campers     prometheus.Gauge
	groups      prometheus.Gauge
	sessions    prometheus.Gauge
	requestsVec *prometheus.CounterVec
	// requests[m][i] counts method m answered with codes[i]; m 0 is an
	// unknown method.
	requests  [][len(codes)]prometheus.Counter
	codeIndex [maxCode]uint8 // codeIndex[code] is 1 + the index of code in codes, or 0
	events    [eventKinds]prometheus.Counter
	received  prometheus.Counter
	sent      prometheus.Counter
	slow      prometheus.Counter
	latency   prometheus.Histogram
}

// New returns the metrics, registered with a registry of their own together
// with the Go and process collectors.
func New(cfg Config) (*Metrics, error) {
	if err := checkReasons(cfg.CloseReasons); err != nil {
		return nil, err
	}
	build := cfg.Build
	if build == (version.Info{}) {
		build = version.Get()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameConnections, Help: "Connections open now, on every service.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameConnectionsAccepted, Help: "Connections accepted, including those refused over a cap right after.",
		}),
		closedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameConnectionsClosed, Help: "Connections closed, by the reason the server recorded.",
		}, []string{"reason"}),
		campers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameCampers, Help: "Campers checked in now.",
		}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameGroups, Help: "Groups with at least one camper now.",
		}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameSessions, Help: "Peer sessions running now.",
		}),
		requestsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRequests, Help: "Requests answered, by method (lower-case, unknown for a 501) and status code.",
		}, []string{"method", "code"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameReceivedBytes, Help: "Bytes read from CAMP connections.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameSentBytes, Help: "Bytes written to CAMP connections.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameSlowConsumers, Help: "Connections closed because their unsent output stayed over -max-pending.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameRequestSeconds,
			Help:    "Seconds from a whole request frame parsed to its reply queued.",
			Buckets: requestBuckets,
		}),
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameEvents, Help: "Event frames written, one per recipient.",
	}, []string{"event"})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: NameBuildInfo,
		Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{
			"version": build.Version, "revision": build.Revision, "goversion": build.Go,
		},
	})
	buildInfo.Set(1)

	for _, r := range cfg.CloseReasons {
		m.closed = append(m.closed, m.closedVec.WithLabelValues(r))
	}
	for i, c := range codes {
		m.codeIndex[c] = uint8(i + 1)
	}
	for meth := protocol.Method(0); meth == 0 || meth.String() != "UNKNOWN"; meth++ {
		var row [len(codes)]prometheus.Counter
		name := methodLabel(meth)
		for i, c := range codes {
			row[i] = m.requestsVec.WithLabelValues(name, strconv.Itoa(c))
		}
		m.requests = append(m.requests, row)
	}
	for e := EventJoined; e < eventKinds; e++ {
		m.events[e] = events.WithLabelValues(e.String())
	}

	for _, c := range []prometheus.Collector{
		m.connections, m.accepted, m.closedVec, m.campers, m.groups, m.sessions,
		m.requestsVec, events, m.received, m.sent, m.slow, m.latency, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// checkReasons rejects close reason names that would make labels collide.
func checkReasons(names []string) error {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		switch {
		case n == "":
			return fmt.Errorf("metrics: close reason %d: %w", i+1, errEmptyReason)
		case seen[n]:
			return fmt.Errorf("metrics: close reason %q: %w", n, errDuplicateReason)
		case n == UnknownLabel:
			return fmt.Errorf("metrics: close reason %q: %w", n, errReservedReason)
		}
		seen[n] = true
	}
	return nil
}

var (
	errEmptyReason     = errors.New("empty name")
	errDuplicateReason = errors.New("named twice")
	errReservedReason  = errors.New("reserved for reasons out of range")
)

// methodLabel is a method's label: its name lower-case as in the contract,
// or UnknownLabel for the zero Method (an unknown request, answered 501).
func methodLabel(m protocol.Method) string {
	if m == 0 || m.String() == "UNKNOWN" {
		return UnknownLabel
	}
	return strings.ToLower(m.String())
}

// Registry is the registry every campfire metric is on; serve it with
// promhttp.HandlerFor.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Accepted records a connection the server accepted (on any service). Every
// Accepted is matched by exactly one Closed.
func (m *Metrics) Accepted() {
	if m == nil {
		return
	}
	m.accepted.Inc()
	m.connections.Inc()
}

// Closed records that a connection ended for reason r, a value from 1 to
// len(Config.CloseReasons). A reason out of that range is counted under
// reason="unknown".
func (m *Metrics) Closed(r int) {
	if m == nil {
		return
	}
	m.connections.Dec()
	if r < 1 || r > len(m.closed) {
		m.closedVec.WithLabelValues(UnknownLabel).Inc() // a bug in the caller: allocation allowed
		return
	}
	m.closed[r-1].Inc()
}

// SetCampers sets the number of campers checked in.
func (m *Metrics) SetCampers(n int) {
	if m == nil {
		return
	}
	m.campers.Set(float64(n))
}

// SetGroups sets the number of groups with a camper in them.
func (m *Metrics) SetGroups(n int) {
	if m == nil {
		return
	}
	m.groups.Set(float64(n))
}

// SetSessions sets the number of peer sessions running.
func (m *Metrics) SetSessions(n int) {
	if m == nil {
		return
	}
	m.sessions.Set(float64(n))
}

// Request records a request of method meth (0 for an unknown one) answered
// with status code, and d, the time from its whole frame parsed to its reply
// queued.
func (m *Metrics) Request(meth protocol.Method, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.latency.Observe(d.Seconds())
	if int(meth) >= len(m.requests) {
		meth = 0
	}
	if code >= 0 && code < maxCode {
		if i := m.codeIndex[code]; i > 0 {
			m.requests[meth][i-1].Inc()
			return
		}
	}
	m.requestsVec.WithLabelValues(methodLabel(meth), strconv.Itoa(code)).Inc() // not a CAMP status: allocation allowed
}

// Event records n frames of event e written (one per recipient). An
// EventKind out of range is ignored.
func (m *Metrics) Event(e EventKind, n int) {
	if m == nil || e == 0 || e >= eventKinds || n <= 0 {
		return
	}
	m.events[e].Add(float64(n))
}

// Received records n bytes read from a CAMP connection.
func (m *Metrics) Received(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.received.Add(float64(n))
}

// Sent records n bytes written to a CAMP connection.
func (m *Metrics) Sent(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.sent.Add(float64(n))
}

// SlowConsumer records a connection closed as a slow consumer. The close
// itself is recorded by Closed as well, with its reason.
func (m *Metrics) SlowConsumer() {
	if m == nil {
		return
	}
	m.slow.Inc()
}
