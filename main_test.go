package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		give       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", give: nil, wantCode: 2, wantStderr: "usage: campfire <command>"},
		{name: "help", give: []string{"help"}, wantCode: 0, wantStdout: "usage: campfire <command>"},
		{name: "-h", give: []string{"-h"}, wantCode: 0, wantStdout: "serve    run the challenge server"},
		{name: "unknown command", give: []string{"dance"}, wantCode: 2, wantStderr: "campfire: unknown command \"dance\"\nrun 'campfire -h' for the commands\n"},
		{name: "serve -h", give: []string{"serve", "-h"}, wantCode: 0, wantStdout: "-max-pending"},
		{name: "echo -h", give: []string{"echo", "-h"}, wantCode: 0, wantStdout: "-keep-open"},
		{name: "serve bad value", give: []string{"serve", "-loops", "-1"}, wantCode: 2, wantStderr: "campfire serve: loops -1: want 0 (one per CPU) to 64\n"},
		{name: "client -h", give: []string{"client", "-h"}, wantCode: 0, wantStdout: "usage: campfire client [flags]"},
		{name: "bench -h", give: []string{"bench", "-h"}, wantCode: 0, wantStdout: "usage: campfire bench [flags]"},
		// Every command reports a mistake in the same two lines.
		{name: "serve bad flag", give: []string{"serve", "-nope"}, wantCode: 2,
			wantStderr: "campfire serve: flag provided but not defined: -nope\nrun 'campfire serve -h' for its flags\n"},
		{name: "echo bad flag", give: []string{"echo", "-nope"}, wantCode: 2,
			wantStderr: "campfire echo: flag provided but not defined: -nope\nrun 'campfire echo -h' for its flags\n"},
		{name: "client bad flag", give: []string{"client", "-nope"}, wantCode: 2,
			wantStderr: "campfire client: flag provided but not defined: -nope\nrun 'campfire client -h' for its flags\n"},
		{name: "bench bad flag", give: []string{"bench", "-nope"}, wantCode: 2,
			wantStderr: "campfire bench: flag provided but not defined: -nope\nrun 'campfire bench -h' for its flags\n"},
		{name: "bench bad scenario", give: []string{"bench", "-scenario", "nope"}, wantCode: 2,
			wantStderr: "campfire bench: unknown scenario \"nope\": want peers, checkin or echo\nrun 'campfire bench -h' for its flags\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.give, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr: %s", tt.give, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout %q, want it to contain %q", tt.give, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr %q, want it to contain %q", tt.give, stderr.String(), tt.wantStderr)
			}
		})
	}
}
