package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestConnectionLog checks that a connection is logged once at open and
// once at close, at info, with what ties a camper to its address: the
// remote IP:port on every line, the camper and the close reason, how long
// it was open and the bytes both ways.
// J000, in a range that has it, is a camper like any other.
func TestConnectionLog(t *testing.T) {
	for _, tt := range []struct{ ids, camper string }{{"J001-J384", "J007"}, {"J000-J009", "J000"}} {
		t.Run(tt.camper, func(t *testing.T) { testConnectionLog(t, tt.ids, tt.camper) })
	}
}

func testConnectionLog(t *testing.T, ids, camper string) {
	core, logs := observer.New(zap.InfoLevel)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	if err := cfg.IDs.Set(ids); err != nil {
		t.Fatal(err)
	}
	s, err := Start(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	remote := nc.LocalAddr().String()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "checkin %s\r\ncheckout\r\n", camper)
	r := bufio.NewReader(nc)
	var got strings.Builder
	for {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			break
		}
	}
	_ = nc.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"connection opened": {"remote": remote},
		"checked in":        {"remote": remote, "camper": camper, "group": int64(1)},
		"checked out":       {"remote": remote, "camper": camper, "group": int64(1)},
		"connection closed": {"remote": remote, "camper": camper, "reason": "checkout",
			"bytes_in": uint64(len("checkin " + camper + "\r\ncheckout\r\n")), "bytes_out": uint64(got.Len())},
	}
	for msg, fields := range want {
		entries := logs.FilterMessage(msg).All()
		if len(entries) != 1 {
			t.Errorf("%d %q lines, want 1", len(entries), msg)
			continue
		}
		e := entries[0]
		if e.Level != zap.InfoLevel {
			t.Errorf("%q at %s, want info", msg, e.Level)
		}
		m := e.ContextMap()
		for k, v := range fields {
			if m[k] != v {
				t.Errorf("%q: %s = %v (%T), want %v (%T)", msg, k, m[k], m[k], v, v)
			}
		}
		if msg == "connection closed" {
			if _, ok := m["open"]; !ok {
				t.Errorf("%q has no open duration: %v", msg, m)
			}
		}
	}
}

// TestLogSampled checks that a flood of refused connections does not flood
// the log: past the first lines of a second, the sampler drops most.
func TestLogSampled(t *testing.T) {
	for _, sample := range []bool{true, false} {
		t.Run(fmt.Sprintf("sample=%v", sample), func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			cfg := DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.MaxConnsPerIP = 1
			cfg.LogSample = sample
			s, err := Start(cfg, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Shutdown(context.Background()) }()
			held, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			// Wait for its answer: with several loops, a later connection
			// may otherwise be admitted first and this one refused.
			_ = held.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := held.Write([]byte("help\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(held).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			const n = 300
			for range n {
				c, err := net.Dial("tcp", s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = bufio.NewReader(c).ReadString(0) // until the server closes it
				_ = c.Close()
			}
			refused := logs.FilterMessageSnippet("connection refused").Len()
			switch {
			case sample && refused >= n:
				t.Errorf("%d refusal lines for %d refusals with sampling on", refused, n)
			case !sample && refused != n:
				t.Errorf("%d refusal lines for %d refusals with sampling off", refused, n)
			}
			t.Logf("%d refusal lines for %d refusals", refused, n)
		})
	}
}
