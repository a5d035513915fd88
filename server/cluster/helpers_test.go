package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// waitFor is how long a test waits for anything a cluster does.
const waitFor = 60 * time.Second

// freePorts returns n loopback ports that were free a moment ago. Routes
// must be known before the servers start, so the ports are chosen first.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	var ls []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// testConfig is a node of cluster "t" with quick timeouts.
func testConfig(name string) Config {
	cfg := DefaultConfig()
	cfg.Cluster = "t"
	cfg.Node = name
	cfg.Camp = "ids=J00001-J50000 max-campers=0 max-body=65536"
	// Long enough that a loaded 2-core machine (make test runs packages
	// side by side, under -race) never makes a live node look silent.
	cfg.NodeTimeout = 3 * time.Second
	cfg.ClusterTimeout = 2 * time.Second
	cfg.JoinTimeout = waitFor
	return cfg
}

// spec describes the embedded nodes of a test cluster.
type spec struct {
	names  []string
	ports  []int // route ports, one per name
	modify func(*Config)
	pad    int // snapshot padding of the recorders
}

func newSpec(t testing.TB, names ...string) *spec {
	return &spec{names: names, ports: freePorts(t, len(names))}
}

func (s *spec) config(i int) Config {
	cfg := testConfig(s.names[i])
	cfg.RouteListen = addr(s.ports[i])
	for _, p := range s.ports {
		cfg.Routes = append(cfg.Routes, addr(p))
	}
	if s.modify != nil {
		s.modify(&cfg)
	}
	return cfg
}

// member is a started node and its replica.
type member struct {
	*Node
	rec *recorder
}

// open opens and starts nodes i… of s at once, each with a recorder, and
// stops them at the end of the test.
func (s *spec) open(t testing.TB, idx ...int) []*member {
	t.Helper()
	recs := make([]*recorder, len(idx))
	nodes := s.openWith(t, func(k int, n *Node) Handler {
		recs[k] = newRecorder(n)
		recs[k].pad = s.pad
		return recs[k]
	}, idx...)
	out := make([]*member, len(idx))
	for k, n := range nodes {
		out[k] = &member{n, recs[k]}
	}
	return out
}

// openWith opens and starts nodes i… of s at once (JetStream forms only
// when enough of them are up), with handlers made by mk, and stops them at
// the end of the test.
func (s *spec) openWith(t testing.TB, mk func(k int, n *Node) Handler, idx ...int) []*Node {
	t.Helper()
	out := make([]*Node, len(idx))
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Go(func() {
			cfg := s.config(i)
			log := testLogger(t).With(zap.String("test node", cfg.Node))
			n, err := Open(context.Background(), cfg, log)
			if err != nil {
				errs[k] = fmt.Errorf("open %s: %w", cfg.Node, err)
				return
			}
			t.Cleanup(func() { closeNode(t, n) })
			if err := n.Start(context.Background(), mk(k, n)); err != nil {
				errs[k] = fmt.Errorf("start %s: %w", cfg.Node, err)
				return
			}
			out[k] = n
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

func closeNode(t testing.TB, n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Logf("close %s: %v", n.Name(), err)
	}
}

// testLogger logs at info through the test, so that a failing test shows
// what the nodes said.
func testLogger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
}

// rec is an entry as a replica saw it.
type rec struct {
	seq   uint64
	at    time.Time
	kind  Kind
	node  string
	epoch uint64
	data  string
}

// recorder is a test replica: it keeps every entry it applies, a running
// digest of them, and snapshots the digest when asked.
type recorder struct {
	n *Node

	mu       sync.Mutex
	cond     sync.Cond
	entries  []rec // since the last Restore
	restored uint64
	seq      uint64
	count    uint64   // data entries applied, snapshots included
	digest   [32]byte // over every entry applied, snapshots included
	joins    int
	cutoffs  []error
	failed   []uint64
	failErr  error
	snaps    int
	pad      int // bytes of padding in each snapshot, to make it as large as a camp's
}

func newRecorder(n *Node) *recorder {
	r := &recorder{n: n}
	r.cond.L = &r.mu
	return r
}

func (r *recorder) Restore(seq uint64, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries, r.restored, r.seq, r.count, r.digest = nil, seq, seq, 0, [32]byte{}
	if data != nil {
		if len(data) != 8+32+r.pad {
			return fmt.Errorf("snapshot of %d bytes, want %d", len(data), 8+32+r.pad)
		}
		r.count = binary.LittleEndian.Uint64(data)
		copy(r.digest[:], data[8:])
	}
	r.cond.Broadcast()
	return nil
}

func (r *recorder) Apply(b Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range b.Entries {
		if e.Seq <= r.seq || e.Seq > b.Seq || len(r.entries) > 0 && e.Seq < r.entries[len(r.entries)-1].seq {
			panic(fmt.Sprintf("%s: entry at %d in a batch up to %d, after %d", r.n.Name(), e.Seq, b.Seq, r.seq))
		}
		r.entries = append(r.entries, rec{e.Seq, e.Time, e.Kind, e.Node, e.Epoch, string(e.Data)})
		h := sha256.New()
		h.Write(r.digest[:])
		fmt.Fprintf(h, "%d %s %d %q", e.Kind, e.Node, e.Epoch, e.Data)
		h.Sum(r.digest[:0])
		if e.Kind == KindData {
			r.count++
		}
	}
	if b.Seq < r.seq {
		panic(fmt.Sprintf("batch at %d after %d", b.Seq, r.seq))
	}
	r.seq = b.Seq
	if b.Snapshot {
		data := binary.LittleEndian.AppendUint64(nil, r.count)
		data = append(data, r.digest[:]...)
		data = append(data, make([]byte, r.pad)...)
		switch err := r.n.SaveSnapshot(b.Seq, data); {
		case errors.Is(err, ErrClosed):
			// The node is closing (the test ends) as this batch asked
			// for a snapshot: there is nothing to save it to.
		case err != nil:
			panic(err)
		default:
			r.snaps++
		}
	}
	r.cond.Broadcast()
}

func (r *recorder) CaughtUp() {
	r.mu.Lock()
	r.joins++
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *recorder) CutOff(err error) {
	r.mu.Lock()
	r.cutoffs = append(r.cutoffs, err)
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *recorder) Failed(tags []uint64, err error) {
	r.mu.Lock()
	r.failed = append(r.failed, tags...)
	r.failErr = err
	r.cond.Broadcast()
	r.mu.Unlock()
}

// await waits until cond holds for the recorder, or fails the test.
func (r *recorder) await(t testing.TB, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	stop := time.AfterFunc(waitFor, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond(r) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not after %v (at seq %d, %d data entries)", r.n.Name(), what, waitFor, r.seq, r.count)
		}
		r.cond.Wait()
	}
}

// data returns the data entries since the last Restore.
func (r *recorder) data() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []rec
	for _, e := range r.entries {
		if e.kind == KindData {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) state() (seq, count uint64, digest [32]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq, r.count, r.digest
}

// poll waits until f returns true, checking every few milliseconds.
func poll(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publishRaw appends a hand-made log message through n's connection, as
// node name at epoch would.
func publishRaw(t testing.TB, n *Node, name string, epoch uint64, kind Kind, body []byte) {
	t.Helper()
	msg := appendEntry(appendHeader(nil, name, epoch), kind, body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.js.Publish(ctx, n.subjLog, msg); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// streamInfo returns the log's state and leader.
func streamInfo(t testing.TB, n *Node) (first, last uint64, leader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := n.stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.Cluster != nil {
		leader = info.Cluster.Leader
	}
	return info.State.FirstSeq, info.State.LastSeq, leader
}

// find returns the first entry of kind about node at epoch.
func (r *recorder) find(kind Kind, node string, epoch uint64) (rec, bool) {
	for _, e := range r.entries {
		if e.kind == kind && e.node == node && e.epoch == epoch {
			return e, true
		}
	}
	return rec{}, false
}
