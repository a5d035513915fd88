package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/internal/servertest"
	"campfire/protocol"
	"campfire/server"
)

// testIDs is the id range the end-to-end servers and runs share.
const testIDs = "J00001-J00100"

// startCampfire starts the real server in-process on a free port.
func startCampfire(t *testing.T, echo bool) string {
	t.Helper()
	if echo {
		return servertest.StartEcho(t, func(cfg *server.Config) { cfg.KeepOpen = true }).Addr()
	}
	ids := mustIDs(t)
	return servertest.Start(t, func(cfg *server.Config) { cfg.IDs = ids }).Addr()
}

// startBaseline starts the baseline server on a free port.
func startBaseline(t *testing.T) string {
	t.Helper()
	cfg := DefaultBaselineConfig()
	cfg.IDs = mustIDs(t)
	cfg.Linger = 2 * time.Second
	b, err := StartBaseline(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("StartBaseline: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b.Addr()
}

func mustIDs(t *testing.T) protocol.IDRange {
	t.Helper()
	ids, err := protocol.ParseIDRange(testIDs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// shortRun is a small, bounded run: 40 connections (10 full groups) from
// four source addresses.
func shortRun(t *testing.T, addr string, sc Scenario) Config {
	t.Helper()
	srcs, err := ParseSources("127.0.0.2-127.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Addr: addr, Scenario: sc, Conns: 40, Rate: 2000, Size: 64, Depth: 1,
		Duration: time.Second, Warmup: 200 * time.Millisecond,
		IDs: mustIDs(t), Sources: srcs, ServerPIDs: []int{os.Getpid()},
	}
}

func runShort(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("report:\n%s", table.String())
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %v", rep.Errors)
	}
	if rep.Server == nil || rep.Server.RSSBefore == 0 || rep.Server.CPU < 0 {
		t.Errorf("server figures = %+v, want samples of this process", rep.Server)
	}
	return rep
}

func TestPeersEndToEnd(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"campfire", func(t *testing.T) string { return startCampfire(t, false) }},
		{"baseline", startBaseline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shortRun(t, tt.start(t), ScenarioPeers)
			var progress bytes.Buffer
			cfg.Progress = &progress
			rep := runShort(t, cfg)
			if rep.Connected != 40 || rep.CheckedIn != 40 {
				t.Errorf("connected %d, checked in %d; want 40, 40", rep.Connected, rep.CheckedIn)
			}
			if rep.Sent == 0 || rep.Delivered == 0 {
				t.Fatalf("sent %d, delivered %d; want both > 0", rep.Sent, rep.Delivered)
			}
			// Ten full groups: every message reaches the three others.
			if rep.Delivered != 3*rep.Sent {
				t.Errorf("delivered %d, want 3 × %d sent", rep.Delivered, rep.Sent)
			}
			if rep.Latency.Samples != rep.Delivered || rep.Latency.Max <= 0 {
				t.Errorf("latency %+v, want a sample per delivered message", rep.Latency)
			}
			if !strings.Contains(progress.String(), "sent=") {
				t.Errorf("no progress line: %q", progress.String())
			}
		})
	}
}

func TestEchoEndToEnd(t *testing.T) {
	cfg := shortRun(t, startCampfire(t, true), ScenarioEcho)
	cfg.Depth = 3
	cfg.Rate = 0
	rep := runShort(t, cfg)
	if rep.Connected != 40 || rep.Delivered == 0 || rep.BytesRate <= 0 {
		t.Errorf("connected %d, round trips %d, %v bytes/s; want 40 and > 0", rep.Connected, rep.Delivered, rep.BytesRate)
	}
	if rep.Latency.Samples != rep.Delivered {
		t.Errorf("latency samples %d, want one per round trip (%d)", rep.Latency.Samples, rep.Delivered)
	}
}

func TestCheckinEndToEnd(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"campfire", func(t *testing.T) string { return startCampfire(t, false) }},
		{"baseline", startBaseline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shortRun(t, tt.start(t), ScenarioCheckin)
			cfg.Conns = 8
			rep := runShort(t, cfg)
			if rep.Delivered == 0 || rep.ConnectRate <= 0 || rep.Latency.Samples != rep.Delivered {
				t.Errorf("cycles %d at %v/s with %d samples; want > 0 and a sample each", rep.Delivered, rep.ConnectRate, rep.Latency.Samples)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	good := func() Config {
		return Config{Addr: "127.0.0.1:1", Scenario: ScenarioPeers, Conns: 4, Size: 64, Depth: 1,
			Duration: time.Second, IDs: protocol.DefaultIDs()}
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"not loopback", func(c *Config) { c.Addr = "192.0.2.1:2022" }},
		{"no scenario", func(c *Config) { c.Scenario = 0 }},
		{"more conns than ids", func(c *Config) { c.Conns = 385 }},
		{"payload smaller than the stamp", func(c *Config) { c.Size = StampSize - 1 }},
		{"no depth", func(c *Config) { c.Depth = 0 }},
		{"no duration", func(c *Config) { c.Duration = 0 }},
		{"negative rate", func(c *Config) { c.Rate = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.edit(&cfg)
			if _, err := Run(context.Background(), cfg); err == nil {
				t.Errorf("Run accepted %+v", cfg)
			}
		})
	}
}
