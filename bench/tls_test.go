package bench

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"campfire/internal/tlsflag"
	"campfire/internal/tlstest"
	"campfire/protocol"
)

// startTLSFront puts a TLS relay, with a certificate of a CA made for the
// test, in front of addr, and returns the relay's address and the CA's
// PEM file.
func startTLSFront(t *testing.T, addr string) (relay, caFile string) {
	t.Helper()
	ca := tlstest.NewCA(t, "bench test CA")
	r := tlstest.StartRelay(t, ca.Issue(t, "127.0.0.1").TLS, addr)
	return r.Addr(), tlstest.WriteFile(t, "ca.pem", ca.PEM)
}

// TestTLSEndToEnd runs every scenario through a TLS relay.
func TestTLSEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		sc   Scenario
		echo bool
	}{
		{"peers", ScenarioPeers, false},
		{"checkin", ScenarioCheckin, false},
		{"echo", ScenarioEcho, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay, caFile := startTLSFront(t, startCampfire(t, tt.echo))
			cfg := shortRun(t, relay, tt.sc)
			cfg.TLS = tlsflag.Flags{On: true, CAFile: caFile}
			switch tt.sc {
			case ScenarioCheckin:
				cfg.Conns = 8
			case ScenarioEcho:
				cfg.Rate = 0
			}
			if err := CheckIDs(context.Background(), cfg); err != nil {
				t.Fatalf("CheckIDs: %v", err)
			}
			rep := runShort(t, cfg)
			if !rep.TLS {
				t.Errorf("report does not say TLS")
			}
			if tt.sc == ScenarioPeers {
				checkCounts(t, rep, cfg.Conns)
			} else if rep.Delivered == 0 || rep.Latency.Samples != rep.Delivered {
				t.Errorf("delivered %d with %d samples; want > 0 and a sample each", rep.Delivered, rep.Latency.Samples)
			}
		})
	}
}

// TestCheckIDsTLS: the id check speaks TLS too, and still tells a wrong
// range from a certificate it cannot verify.
func TestCheckIDsTLS(t *testing.T) {
	relay, caFile := startTLSFront(t, startCampfire(t, false))
	otherCA := tlstest.WriteFile(t, "other.pem", tlstest.NewCA(t, "another CA").PEM)
	wrongIDs, err := protocol.ParseIDRange("K001-K100")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		tls       tlsflag.Flags
		ids       protocol.IDRange
		wantRange bool
		wantErr   string
	}{
		{"right range", tlsflag.Flags{On: true, CAFile: caFile}, mustIDs(t), false, ""},
		{"wrong range", tlsflag.Flags{On: true, CAFile: caFile}, wrongIDs, true, ""},
		{"unknown CA", tlsflag.Flags{On: true, CAFile: otherCA}, mustIDs(t), false, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Addr: relay, Scenario: ScenarioPeers, Conns: 4, IDs: tt.ids, TLS: tt.tls}
			err := CheckIDs(context.Background(), cfg)
			var ire *IDRangeError
			switch {
			case tt.wantRange:
				if !errors.As(err, &ire) {
					t.Errorf("CheckIDs = %v, want an *IDRangeError", err)
				}
			case tt.wantErr != "":
				if err == nil || errors.As(err, &ire) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("CheckIDs = %v, want an error holding %q", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("CheckIDs: %v", err)
			}
		})
	}
}

// TestMainTLS: bench -tls over two worker processes, which build their
// TLS configuration from the flags they are handed; -tls-insecure is said
// once, by the parent; flags that do not go together are refused.
func TestMainTLS(t *testing.T) {
	t.Setenv(workerEnv, "1")
	relay, caFile := startTLSFront(t, startCampfire(t, false))
	common := []string{"-addr", relay, "-ids", testIDs, "-conns", "40", "-rate", "2000", "-duration", "1s", "-warmup", "200ms",
		"-sources", "127.0.0.2-127.0.0.5", "-procs", "2"}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"private CA", []string{"-tls", "-tls-ca", caFile}, 0, "in 2 processes, size 64, depth 1, over TLS", ""},
		{"insecure", []string{"-tls", "-tls-insecure"}, 0, "over TLS", tlsflag.Warning + "\n"},
		{"insecure without -tls", []string{"-tls-insecure"}, 2, "", "campfire bench: -tls-insecure needs -tls\n"},
		{"unreadable CA", []string{"-tls", "-tls-ca", caFile + ".gone"}, 2, "", "campfire bench: -tls-ca: open " + caFile + ".gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string(nil), common...), tt.args...)
			if code := Main(args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("Main(%q) = %d, want %d; stdout:\n%s\nstderr:\n%s", args, code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout:\n%s\nwant it to hold %q", stdout.String(), tt.wantStdout)
			}
			if !strings.HasPrefix(stderr.String(), tt.wantStderr) || (tt.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tt.wantStderr)
			}
			if n := strings.Count(stderr.String(), tlsflag.Warning); tt.wantStderr == tlsflag.Warning+"\n" && n != 1 {
				t.Errorf("the warning was said %d times, want once (by the parent, not by each worker)", n)
			}
			if tt.wantCode == 0 && !regexp.MustCompile(`(?m)^errors\s+none$`).MatchString(stdout.String()) {
				t.Errorf("errors in the run:\n%s", stdout.String())
			}
		})
	}
}
