package web

import (
	"bytes"
	"context"
	_ "embed" // the camp page
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// DefaultAddr is the side port's address when -http-addr is not given.
const DefaultAddr = "127.0.0.1:2080"

// Defaults of Config.
const (
	DefaultMinInterval     = 500 * time.Millisecond
	DefaultHeartbeat       = time.Second
	DefaultSnapshotTimeout = 2 * time.Second
	DefaultMaxViewers      = 64
)

// writeTimeout bounds one response, or one frame of /api/events, to a
// client that does not read.
const writeTimeout = 10 * time.Second

//go:embed camp.html
var campPage []byte

// pagePolicy allows the page its own inline script and style and its own
// origin's event stream, and nothing else, so an accidental external
// reference fails in every browser (and in the browser test) at once.
const pagePolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
	"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Config is what the side port serves.
type Config struct {
	// Source is the server; required.
	Source Source
	// Gatherer is what /metrics serves (metrics.Metrics.Registry()); nil
	// leaves /metrics out (404).
	Gatherer prometheus.Gatherer
	// Log is required.
	Log *zap.Logger
	// Version is shown on the page and in the JSON, e.g.
	// version.Get().String().
	Version string
	// MinInterval is the least time between two snapshots, and how often a
	// viewer checks for a change (default DefaultMinInterval).
	MinInterval time.Duration
	// Heartbeat is the longest a viewer goes without a frame, so its
	// counters keep moving and a dead connection is noticed (default
	// DefaultHeartbeat).
	Heartbeat time.Duration
	// SnapshotTimeout is how long one Source.Snapshot may take (default
	// DefaultSnapshotTimeout).
	SnapshotTimeout time.Duration
	// MaxViewers caps the /api/events streams open at once; past it a new
	// one gets 503 (default DefaultMaxViewers).
	MaxViewers int
	// Pprof adds Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/, for measuring the server; off by default.
	Pprof bool
}

// Server is the side port. Its handlers are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *zap.Logger
	cache  *cache
	srv    *http.Server
	base   context.Context // every request's context derives from it
	cancel context.CancelFunc

	mu      sync.Mutex
	viewers int
}

// New returns a side port for cfg; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("web: Config.Source is nil")
	}
	if cfg.Log == nil {
		return nil, errors.New("web: Config.Log is nil")
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.SnapshotTimeout <= 0 {
		cfg.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = DefaultMaxViewers
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		log:    cfg.Log,
		base:   base,
		cancel: cancel,
		cache:  &cache{src: cfg.Source, min: cfg.MinInterval, timeout: cfg.SnapshotTimeout, base: base, now: time.Now},
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          zap.NewStdLog(cfg.Log.Named("http")),
	}
	return s, nil
}

// Handler returns the side port's routes, for tests and for a caller that
// serves them itself.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", bounded(http.HandlerFunc(s.page)))
	mux.Handle("GET /healthz", bounded(http.HandlerFunc(s.health)))
	mux.Handle("GET /readyz", bounded(http.HandlerFunc(s.health)))
	mux.Handle("GET /api/camp", bounded(http.HandlerFunc(s.camp)))
	mux.HandleFunc("GET /api/events", s.events) // sets a deadline per frame
	if s.cfg.Gatherer != nil {
		mux.Handle("GET /metrics", bounded(promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      zap.NewStdLog(s.log.Named("metrics")),
			ErrorHandling: promhttp.ContinueOnError,
		})))
	}
	if s.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// bounded gives a response writeTimeout to be written, so a client that
// does not read cannot hold a goroutine; the server has no WriteTimeout of
// its own because event streams last.
func bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
		h.ServeHTTP(w, r)
	})
}

// Listen opens the side port's listener. addr empty means no side port:
// nil, nil. If addr cannot be bound and the operator gave it (explicit:
// -http-addr or CAMPFIRE_HTTP_ADDR was set), that is an error; if it is the
// default, which another server on the machine may hold, Listen logs a
// warning and returns nil, nil, and the server runs without a side port.
func Listen(addr string, explicit bool, log *zap.Logger) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	if explicit {
		return nil, fmt.Errorf("http side port -http-addr %s: %w", addr, err)
	}
	log.Warn("http side port not available, serving without it (set -http-addr to choose another)",
		zap.String("addr", addr), zap.Error(err))
	return nil, nil
}

// Serve serves the side port on l until Shutdown, and then returns nil.
func (s *Server) Serve(l net.Listener) error {
	s.log.Info("http side port", zap.String("addr", l.Addr().String()))
	err := s.srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("http side port: %w", err)
}

// Shutdown stops the side port: it ends every event stream and waits for
// the other requests to finish, or, when ctx ends first, closes their
// connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("http side port shutdown: %w", err)
	}
	return nil
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "camp.html", time.Time{}, bytes.NewReader(campPage))
}

// health serves /healthz and /readyz: 200 "ok" while the server serves,
// 503 and the reason while it does not.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ok, why := s.cfg.Source.Health()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		if why == "" {
			why = "unavailable"
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, why)
		return
	}
	fmt.Fprintln(w, "ok")
}

// camp serves /api/camp: the View of the current snapshot that the query
// asks for (without one, the whole camp).
func (s *Server) camp(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e, err := s.cache.get(r.Context())
	if err != nil {
		return // the client went away
	}
	if e.err != nil {
		http.Error(w, "camp snapshot: "+e.err.Error(), http.StatusServiceUnavailable)
		return
	}
	body, err := json.Marshal(view(e.snap, q, s.cfg.Version))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	_, _ = w.Write(append(body, '\n'))
}

// events serves /api/events: a Server-Sent Events stream of Views, one
// "camp" event whenever the camp changed (checked every MinInterval) and at
// least one per Heartbeat; an "unavailable" event carries the reason when
// the Source fails. It ends when the client goes or the side port shuts
// down.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !s.addViewer() {
		http.Error(w, "too many viewers", http.StatusServiceUnavailable)
		return
	}
	defer s.dropViewer()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold frames back
	ctx := r.Context()
	var (
		buf      bytes.Buffer
		sent     uint64    // version of the last camp sent
		sentAt   time.Time // when the last frame went
		failedAt time.Time // when the last "unavailable" went
	)
	buf.WriteString("retry: 1000\n\n")
	tick := time.NewTicker(s.cfg.MinInterval)
	defer tick.Stop()
	for {
		e, err := s.cache.get(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		switch {
		case e.err != nil:
			if now.Sub(failedAt) >= s.cfg.Heartbeat {
				failedAt = now
				msg, _ := json.Marshal(map[string]string{"error": e.err.Error()})
				writeEvent(&buf, "unavailable", msg)
			}
		case e.version != sent || now.Sub(sentAt) >= s.cfg.Heartbeat:
			data, err := json.Marshal(view(e.snap, q, s.cfg.Version))
			if err != nil {
				s.log.Error("camp view", zap.Error(err))
				return
			}
			writeEvent(&buf, "camp", data)
			sent, sentAt, failedAt = e.version, now, time.Time{}
		}
		if buf.Len() > 0 {
			_ = rc.SetWriteDeadline(now.Add(writeTimeout))
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			buf.Reset()
		}
		select {
		case <-ctx.Done(): // the client went, or Shutdown ended the base context
			return
		case <-tick.C:
		}
	}
}

// writeEvent appends one Server-Sent Event; data is compact JSON, which
// has no line ends.
func writeEvent(buf *bytes.Buffer, name string, data []byte) {
	buf.WriteString("event: ")
	buf.WriteString(name)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

func (s *Server) addViewer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.viewers >= s.cfg.MaxViewers {
		return false
	}
	s.viewers++
	return true
}

func (s *Server) dropViewer() {
	s.mu.Lock()
	s.viewers--
	s.mu.Unlock()
}
