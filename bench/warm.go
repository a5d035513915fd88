package bench

import (
	"context"
	"fmt"
	"time"
)

// warmConns is how many connections warm a server up before its first
// sample.
const warmConns = 64

// warmServer runs a small load of cfg's scenario (at most warmConns
// connections, half a second) against the server before it is first
// sampled, and waits until the server (every node of a cluster) holds no
// more file descriptors than before, so that the warm-up's connections
// are gone, or at most drainTimeout (a server in the harness's own
// process, as in tests, shares its descriptors with it). The "before" RSS
// is then the empty server after it has served: what a connection costs
// is counted apart from what serving at all costs once (code paged in on
// first use, per-loop buffers, the runtime's first structures), which
// would otherwise be divided among the connections of the run.
func warmServer(ctx context.Context, cfg Config) error {
	before, err := countAllFDs(cfg.ServerPIDs)
	if err != nil {
		return err
	}
	w := cfg
	w.Conns = min(cfg.Conns, warmConns)
	if cfg.Rate > 0 {
		w.Rate = max(cfg.Rate*float64(w.Conns)/float64(cfg.Conns), 1)
	}
	w.Duration, w.Warmup = 500*time.Millisecond, 0
	w.ServerPIDs, w.Progress, w.Procs = nil, nil, 1
	if _, err := Run(ctx, w); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	deadline := time.Now().Add(drainTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := countAllFDs(cfg.ServerPIDs)
		if err != nil {
			return err
		}
		if drained(n, before) || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// countAllFDs counts the open file descriptors of every process in pids.
func countAllFDs(pids []int) ([]int, error) {
	ns := make([]int, len(pids))
	for i, pid := range pids {
		n, err := countFDs(pid)
		if err != nil {
			return nil, err
		}
		ns[i] = n
	}
	return ns, nil
}

// drained reports whether no process holds more descriptors than before.
func drained(now, before []int) bool {
	for i := range now {
		if now[i] > before[i] {
			return false
		}
	}
	return true
}
