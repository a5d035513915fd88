package cluster

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// runNATS starts a standalone NATS server on a random loopback port.
func runNATS(t testing.TB, withJetStream bool) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "external",
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		JetStream:  withJetStream,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.SetLoggerV2(natsLogger{s: testLogger(t).Named("external").Sugar()}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external NATS server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// externalConfig is a node of cluster "t" on the external NATS at url.
func externalConfig(name, url string) Config {
	cfg := testConfig(name)
	cfg.NATS = []string{url}
	return cfg
}

// TestConfigMismatch opens nodes against a log made by another one.
func TestConfigMismatch(t *testing.T) {
	ns := runNATS(t, true)
	first, err := Open(context.Background(), externalConfig("a", ns.ClientURL()), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close(context.Background()) })
	// On an external NATS the log and its snapshots are kept in files, so
	// that they outlive a restart of that NATS system.
	if got := first.stream.CachedInfo().Config.Storage; got != jetstream.FileStorage {
		t.Errorf("log storage on an external NATS: %v, want %v", got, jetstream.FileStorage)
	}

	tests := []struct {
		name   string
		modify func(*Config)
		want   string // MismatchError.What, or "" for none
	}{
		{"same camp", func(*Config) {}, ""},
		{"other camp", func(c *Config) { c.Camp = "ids=J00001-J00100 max-campers=0 max-body=65536" }, "camp"},
		{"other replicas", func(c *Config) { c.Replicas = 2 }, "replicas"},
		{"same replicas", func(c *Config) { c.Replicas = 1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := externalConfig("b", ns.ClientURL())
			tt.modify(&cfg)
			n, err := Open(context.Background(), cfg, testLogger(t))
			if err == nil {
				_ = n.Close(context.Background())
			}
			var mismatch *MismatchError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want != "" && !errors.As(err, &mismatch):
				t.Fatalf("Open: %v, want a *MismatchError", err)
			case tt.want != "" && mismatch.What != tt.want:
				t.Fatalf("mismatch of %s, want %s: %v", mismatch.What, tt.want, err)
			}
		})
	}
}

// TestNoJetStream dials a NATS server without JetStream.
func TestNoJetStream(t *testing.T) {
	ns := runNATS(t, false)
	_, err := Open(context.Background(), externalConfig("a", ns.ClientURL()), testLogger(t))
	if !errors.Is(err, ErrNoJetStream) {
		t.Fatalf("Open: %v, want %v", err, ErrNoJetStream)
	}
	t.Log(err)
}

// TestNATSUnavailable cuts a node off its NATS: first silently (nothing
// answers), then for good (the connection drops), then brings NATS back.
// Appends must fail within the cluster timeout while NATS is away, and the
// node must append and read again once it is back.
func TestNATSUnavailable(t *testing.T) {
	ns := runNATS(t, true)
	px := startProxy(t, ns.Addr().String())
	cfg := externalConfig("a", "nats://"+px.addr)
	cfg.ClusterTimeout = time.Second
	n, err := Open(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(n)
	if err := n.Start(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })

	appendOne := func(tag uint64, data string) {
		n.Append(tag, []byte(data))
		n.Flush()
	}
	appendOne(1, "before")
	rec.await(t, "entry before", func(r *recorder) bool { return r.count == 1 })

	tests := []struct {
		name  string
		cut   func()
		tag   uint64
		want  error // nil: any error
		bound time.Duration
	}{
		{"no answer", px.stall, 2, ErrTimeout, cfg.ClusterTimeout + 500*time.Millisecond},
		{"no connection", px.down, 3, nil, cfg.ClusterTimeout + 500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cut()
			start := time.Now()
			appendOne(tt.tag, "lost")
			rec.await(t, "failure", func(r *recorder) bool { return len(r.failed) > 0 && r.failed[len(r.failed)-1] == tt.tag })
			if took := time.Since(start); took > tt.bound {
				t.Errorf("failed after %v, want at most %v", took, tt.bound)
			}
			if tt.want != nil && !errors.Is(rec.failErr, tt.want) {
				t.Errorf("failed with %v, want %v", rec.failErr, tt.want)
			}
			t.Logf("failed after %v: %v", time.Since(start), rec.failErr)
		})
	}

	px.up()
	poll(t, "reconnected", n.nc.IsConnected)
	var tag uint64 = 100
	poll(t, "an append after NATS is back", func() bool {
		tag++
		appendOne(tag, "after")
		_, count, _ := rec.state()
		return count >= 2
	})
	rec.await(t, "entries after", func(r *recorder) bool { return r.count >= 2 })
	for _, e := range rec.data() {
		if e.data == "lost" {
			t.Error("an entry reported failed is in the log")
		}
	}
}

// proxy forwards TCP connections to a target and can be stalled (bytes are
// held), brought down (the listener and connections closed, held bytes
// lost) and up again on the same address.
type proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	cond  sync.Cond
	ln    net.Listener
	conns map[net.Conn]bool
	held  bool
	gen   int // incremented by down: a copy of an older generation ends
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.cond.L = &p.mu
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.down()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	gen := p.gen
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			if p.gen != gen {
				p.mu.Unlock()
				_ = c.Close()
				_ = s.Close()
				return
			}
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			p.wg.Go(func() { p.copy(s, c, gen) })
			p.wg.Go(func() { p.copy(c, s, gen) })
		}
	})
}

func (p *proxy) copy(dst, src net.Conn, gen int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			_ = dst.Close()
			return
		}
		p.mu.Lock()
		for p.held && p.gen == gen {
			p.cond.Wait()
		}
		live := p.gen == gen
		p.mu.Unlock()
		if !live {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			_ = src.Close()
			return
		}
	}
}

// stall holds every byte from now on.
func (p *proxy) stall() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// down closes the listener and every connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.held = false
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	p.cond.Broadcast()
}

// up listens again on the same address.
func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy up again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
