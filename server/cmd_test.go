package server_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"campfire/server"
)

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(args []string, stdout, stderr *bytes.Buffer) int
		want []string // every flag, with its default where it has one
		// wantNot are words that do not belong in this command's -h.
		wantNot []string
	}{
		{
			name: "serve",
			run:  func(args []string, o, e *bytes.Buffer) int { return server.Serve(args, o, e) },
			want: []string{
				"-addr", `(default "0.0.0.0:2022")`,
				"-echo-addr", "-echo-keep-open",
				"-ids", "(default J001-J384)",
				"-max-body", "(default 65536)",
				"-max-pending", "(default 4194304)",
				"-idle", "(default 10m0s)",
				"-max-conns", "0: the open-file limit less 256",
				"-loops", "0 for one per CPU", "the camp stays on the first (default 1)",
				"-grace", "(default 5s)",
				"-log-level", "(default info)",
				"-log-format", `(default "console")`,
				"-cpuprofile",
			},
		},
		{
			name: "echo",
			run:  func(args []string, o, e *bytes.Buffer) int { return server.Echo(args, o, e) },
			want: []string{
				"-addr", `(default "0.0.0.0:2022")`,
				"-keep-open",
				"-max-pending", "-idle", "-max-conns", "-grace", "-log-level", "-log-format", "-cpuprofile",
				"-loops", "one per CPU the process may use (default 1)",
			},
			wantNot: []string{"the camp", "-ids", "-echo-addr"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := tt.run([]string{"-h"}, &stdout, &stderr); code != 0 {
				t.Errorf("-h: exit code %d, want 0", code)
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("-h output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("-h output holds %q:\n%s", w, out)
				}
			}
			if stderr.Len() > 0 {
				t.Errorf("-h wrote to stderr: %s", stderr.String())
			}
		})
	}
}

func TestCommandBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give []string
		want string // in stderr
	}{
		{name: "bad duration", give: []string{"-idle", "xyz"}, want: `invalid value "xyz" for flag -idle`},
		{name: "bad id range", give: []string{"-ids", "Q1"}, want: `invalid value "Q1" for flag -ids`},
		{name: "bad log format", give: []string{"-log-format", "yaml"}, want: `-log-format "yaml": want console or json`},
		{name: "bad log level", give: []string{"-log-level", "loud"}, want: `invalid value "loud" for flag -log-level`},
		{name: "zero max body", give: []string{"-max-body", "0"}, want: "max body 0: must be positive"},
		{name: "zero idle", give: []string{"-idle", "0s"}, want: "idle 0s: must be positive"},
		{name: "negative max conns", give: []string{"-max-conns", "-1"}, want: "max conns -1: must not be negative"},
		{name: "unknown flag", give: []string{"-port", "1"}, want: "flag provided but not defined: -port"},
		{name: "stray argument", give: []string{"now"}, want: `unexpected argument "now"`},
		{name: "echo-keep-open alone", give: []string{"-echo-keep-open"}, want: "-echo-keep-open needs -echo-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			// A command that wrongly accepted the flags would serve until
			// a signal: bound the wait so that it fails instead of hanging.
			args := append([]string{"-addr", "127.0.0.1:0"}, tt.give...)
			exit := make(chan int, 1)
			go func() { exit <- server.Serve(args, &stdout, &stderr) }()
			select {
			case code := <-exit:
				if code != 2 {
					t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
				}
			case <-time.After(waitFor):
				t.Fatalf("Serve %q is still running: the flags were accepted", args)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
		})
	}
	t.Run("echo bad duration", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		if code := server.Echo([]string{"-grace", "soon"}, &stdout, &stderr); code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
		if !strings.Contains(stderr.String(), `invalid value "soon" for flag -grace`) {
			t.Errorf("stderr:\n%s", stderr.String())
		}
	})
}

// TestCommandEnv: every flag of serve may come from the environment as
// CAMPFIRE_<FLAG>; a bad value there is the same mistake as a bad flag,
// and the command line wins over the environment.
func TestCommandEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{
			name: "bad value", env: map[string]string{"CAMPFIRE_IDLE": "soon"},
			wantCode: 2, wantErr: `campfire serve: invalid value "soon" for flag -idle from CAMPFIRE_IDLE`,
		},
		{
			name: "the command line wins", env: map[string]string{"CAMPFIRE_LOG_FORMAT": "xml"},
			args: []string{"-log-format", "yaml"}, wantCode: 2, wantErr: `-log-format "yaml": want console or json`,
		},
		{
			name: "taken from the environment", env: map[string]string{"CAMPFIRE_LOG_FORMAT": "xml"},
			wantCode: 2, wantErr: `-log-format "xml": want console or json`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := server.Serve(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// TestDefaultLoops: by default the server runs one event loop, and with
// -loops 0 one per CPU the process may use; its starting line says how
// many.
func TestDefaultLoops(t *testing.T) {
	if cfg := server.DefaultConfig(); cfg.Loops != 1 {
		t.Fatalf("default loops %d, want 1", cfg.Loops)
	}
	for _, tt := range []struct {
		name  string
		loops int
		want  int
	}{
		{name: "default", loops: server.DefaultConfig().Loops, want: 1},
		{name: "one per CPU", loops: 0, want: min(runtime.GOMAXPROCS(0), 64)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			cfg := server.DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.Loops = tt.loops
			s, err := server.Start(cfg, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { shutdown(t, s) })
			started := logs.FilterMessage("starting").FilterField(zap.Int("loops", tt.want)).Len()
			if started != 1 {
				t.Errorf("no starting line with loops=%d: %v", tt.want, logs.FilterMessage("starting").All())
			}
		})
	}
}
