package cluster

import (
	"fmt"
	"os"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxPayload is the embedded server's largest message: the log's messages
// are bounded by Config.MaxMessage, but one entry may be as large as the
// server's body limit, and snapshot chunks are 128 KiB.
const maxPayload = 8 << 20

// embedded is a nats-server run inside the node.
type embedded struct {
	ns      *natsserver.Server
	tempDir string // removed on shutdown when the store is in memory
}

// startEmbedded starts a JetStream server named after the node, routed to
// the other nodes, and waits until it takes connections.
func startEmbedded(cfg *Config, p *plan, log *zap.Logger) (*embedded, error) {
	e := &embedded{}
	storeDir := cfg.StoreDir
	if storeDir == "" {
		// Streams are kept in memory, but JetStream's clustering state
		// (the meta group's raft log) is always written to files: give
		// every node its own directory so nodes in one process or on one
		// host do not share it.
		dir, err := os.MkdirTemp("", "campfire-nats-"+cfg.Node+"-")
		if err != nil {
			return nil, fmt.Errorf("nats store: %w", err)
		}
		storeDir, e.tempDir = dir, dir
	} else if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("-nats-store %q: %w", storeDir, err)
	}
	opts := &natsserver.Options{
		ServerName: cfg.Node,
		Host:       p.clientHost,
		Port:       p.clientPort,
		JetStream:  true,
		StoreDir:   storeDir,
		MaxPayload: maxPayload,
		NoSigs:     true,
		// A node that is down is retried every second; say so once a
		// minute, not every time.
		ConnectErrorReports:   60,
		ReconnectErrorReports: 60,
	}
	clustered := p.routePort != 0 || p.routeHost != ""
	if !p.listen {
		if clustered {
			// nats-server's routing waits for the client listener to
			// open (StartRouting), so a routed server with DontListen
			// never starts: listen on a loopback port nobody is told of.
			opts.Host, opts.Port = "127.0.0.1", natsserver.RANDOM_PORT
			opts.Cluster.NoAdvertise = true
		} else {
			opts.DontListen = true
		}
	}
	if clustered {
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = cfg.Cluster, p.routeHost, p.routePort
		if opts.Cluster.Port == 0 {
			opts.Cluster.Port = natsserver.RANDOM_PORT
		}
		opts.Routes = p.routes
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	nlog := log.Named("nats")
	ns.SetLoggerV2(natsLogger{nlog.Sugar()}, nlog.Core().Enabled(zapcore.DebugLevel), false, false)
	e.ns = ns
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		e.shutdown()
		return nil, fmt.Errorf("nats server %q: not ready after 10s (is %s or %s taken?)", cfg.Node, cfg.NATSListen, cfg.RouteListen)
	}
	return e, nil
}

func (e *embedded) shutdown() {
	if e.ns != nil {
		e.ns.Shutdown()
		e.ns.WaitForShutdown()
	}
	e.removeTemp()
}

func (e *embedded) removeTemp() {
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// natsLogger adapts nats-server's logger to zap, one level down: the
// server's notices (its banner, routes coming and going) are debug, its
// warnings (waiting for routes or a leader, normal while a cluster forms)
// info, its errors (a route to a stopped node refused) warnings. A
// campfire node reports what matters to it in its own words.
type natsLogger struct{ s *zap.SugaredLogger }

func (l natsLogger) Noticef(format string, v ...any) { l.s.Debugf(trim(format), v...) }
func (l natsLogger) Warnf(format string, v ...any)   { l.s.Infof(trim(format), v...) }
func (l natsLogger) Errorf(format string, v ...any)  { l.s.Warnf(trim(format), v...) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.s.Errorf(trim(format), v...) }
func (l natsLogger) Debugf(format string, v ...any)  { l.s.Debugf(trim(format), v...) }
func (l natsLogger) Tracef(string, ...any)           {}

func trim(format string) string { return strings.TrimRight(format, "\n") }
