package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"campfire/internal/cli"
)

func newCommand(stdout, stderr *bytes.Buffer) *cli.Command {
	c := cli.New("campfire try", "Try the shared usage.", stdout, stderr)
	c.Flags.String("addr", "127.0.0.1:2022", "server `HOST:PORT`")
	c.Flags.Duration("idle", time.Minute, "close after this long")
	return c
}

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		give       []string
		wantCode   int
		wantOK     bool
		wantStdout string
		wantStderr string
	}{
		{name: "no flags", give: nil, wantCode: 0, wantOK: true},
		{name: "flags", give: []string{"-addr", "127.0.0.1:1", "-idle", "2s"}, wantCode: 0, wantOK: true},
		{
			name: "help", give: []string{"-h"}, wantCode: 0,
			wantStdout: "usage: campfire try [flags]\n\nTry the shared usage.\n\nflags:\n" +
				"  -addr HOST:PORT\n    \tserver HOST:PORT (default \"127.0.0.1:2022\")\n" +
				"  -idle duration\n    \tclose after this long (default 1m0s)\n" +
				"  -version\n    \tprint the version of this build and exit\n",
		},
		{
			name: "help after a flag", give: []string{"-addr", "x", "-help"}, wantCode: 0,
			wantStdout: "usage: campfire try [flags]\n\nTry the shared usage.\n\nflags:\n" +
				"  -addr HOST:PORT\n    \tserver HOST:PORT (default \"127.0.0.1:2022\")\n" +
				"  -idle duration\n    \tclose after this long (default 1m0s)\n" +
				"  -version\n    \tprint the version of this build and exit\n",
		},
		{
			name: "bad value", give: []string{"-idle", "soon"}, wantCode: 2,
			wantStderr: "campfire try: invalid value \"soon\" for flag -idle: parse error\nrun 'campfire try -h' for its flags\n",
		},
		{
			name: "unknown flag", give: []string{"-port", "1"}, wantCode: 2,
			wantStderr: "campfire try: flag provided but not defined: -port\nrun 'campfire try -h' for its flags\n",
		},
		{
			name: "stray argument", give: []string{"-idle", "1s", "now"}, wantCode: 2,
			wantStderr: "campfire try: unexpected argument \"now\" (flags only)\nrun 'campfire try -h' for its flags\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, ok := newCommand(&stdout, &stderr).Parse(tt.give)
			if code != tt.wantCode || ok != tt.wantOK {
				t.Errorf("Parse(%q) = %d, %v; want %d, %v", tt.give, code, ok, tt.wantCode, tt.wantOK)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tt.wantStdout)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestReports(t *testing.T) {
	tests := []struct {
		name     string
		report   func(c *cli.Command) int
		wantCode int
		want     string
	}{
		{
			name:     "usage",
			report:   func(c *cli.Command) int { return c.Usagef("-echo-keep-open needs -echo-addr") },
			wantCode: 2,
			want:     "campfire try: -echo-keep-open needs -echo-addr\nrun 'campfire try -h' for its flags\n",
		},
		{
			name:     "error",
			report:   func(c *cli.Command) int { return c.Errorf("cannot start: %v", os.ErrPermission) },
			wantCode: 1,
			want:     "campfire try: cannot start: permission denied\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := tt.report(newCommand(&stdout, &stderr)); code != tt.wantCode {
				t.Errorf("code %d, want %d", code, tt.wantCode)
			}
			if stderr.String() != tt.want || stdout.Len() > 0 {
				t.Errorf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), tt.want)
			}
		})
	}
}

func ExampleCommand_Parse() {
	var stderr bytes.Buffer
	c := cli.New("campfire demo", "Show the shared form.", os.Stdout, &stderr)
	level := c.Flags.String("level", "info", "log `LEVEL`")
	if code, ok := c.Parse([]string{"-h"}); !ok {
		fmt.Println("exit", code)
	}
	_ = level
	// Output:
	// usage: campfire demo [flags]
	//
	// Show the shared form.
	//
	// flags:
	//   -level LEVEL
	//     	log LEVEL (default "info")
	//   -version
	//     	print the version of this build and exit
	// exit 0
}

// TestVersionFlag: every command takes -version, prints the build and
// does nothing else.
func TestVersionFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	c := cli.New("campfire try", "", &stdout, &stderr)
	code, ok := c.Parse([]string{"-version"})
	if ok || code != cli.ExitOK {
		t.Errorf("Parse(-version) = %d, %v; want %d, false", code, ok, cli.ExitOK)
	}
	if !strings.HasPrefix(stdout.String(), "campfire") || !strings.Contains(stdout.String(), "revision") || stderr.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
