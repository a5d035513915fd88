// Package servertest is what the tests of several packages need to run a
// campfire server: a goroutine-leak check that knows gnet's own goroutines,
// and a challenge or echo server on a free loopback port that stops when
// the test ends.
package servertest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"campfire/server"
)

// stopWithin bounds a test server's Shutdown.
const stopWithin = 10 * time.Second

// VerifyMain runs the tests of m, then fails if any goroutine is left
// behind. gnet starts a package-level worker pool (ants) when it is
// imported; its two housekeeping goroutines live as long as the process
// and are not counted.
func VerifyMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// Config is the default configuration on a free loopback port, with a
// short grace so that a test's shutdown is quick.
func Config() server.Config {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Grace = 2 * time.Second
	return cfg
}

// Start runs the challenge service with Config changed by edit (if not
// nil), logging to t, and shuts it down when the test ends, checking that
// it stopped cleanly.
func Start(t testing.TB, edit func(*server.Config)) *server.Server {
	t.Helper()
	return start(t, server.Start, edit)
}

// StartEcho is Start for the echo service.
func StartEcho(t testing.TB, edit func(*server.Config)) *server.Server {
	t.Helper()
	return start(t, server.StartEcho, edit)
}

func start(t testing.TB, run func(server.Config, *zap.Logger) (*server.Server, error), edit func(*server.Config)) *server.Server {
	t.Helper()
	cfg := Config()
	if edit != nil {
		edit(&cfg)
	}
	s, err := run(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() { Stop(t, s) })
	return s
}

// Stop shuts s down and fails t if it did not stop cleanly.
func Stop(t testing.TB, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopWithin)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Shutdown: %v", err)
	}
}
