package client

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/server"
)

// syncBuffer is a bytes.Buffer that Main may write while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until s holds want.
func waitFor(t *testing.T, what string, s func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(s(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q; it holds:\n%s", what, want, s())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMainFlags(t *testing.T) {
	tests := []struct {
		name       string
		give       []string
		wantCode   int
		wantStdout string
		wantErr    string
	}{
		{"help", []string{"-h"}, 0, "usage: campfire client [flags]", ""},
		{"help lists the commands", []string{"-h"}, 0, "/say TEXT", ""},
		{"help lists the flags", []string{"-h"}, 0, "-addr HOST:PORT", ""},
		{"bad ids", []string{"-ids", "J001-K384"}, 2, "", "same letter"},
		{"bad id", []string{"-id", "J999"}, 2, "", "campfire client: -id: \"J999\" is not a camp id in J001-J384\nrun 'campfire client -h' for its flags\n"},
		{"id outside -ids", []string{"-ids", "A01-A10", "-id", "J001"}, 2, "", "A01-A10"},
		{"unknown flag", []string{"-port", "1"}, 2, "", "campfire client: flag provided but not defined: -port\n"},
		{"extra argument", []string{"J001"}, 2, "", "campfire client: unexpected argument \"J001\" (flags only)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.give, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to hold %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) || (tt.wantErr == "" && stderr.Len() > 0) {
				t.Errorf("stderr = %q, want it to hold %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// activeTime is the variable part of a transcript.
var activeTime = regexp.MustCompile(`checked in for \S+`)

func TestMainScript(t *testing.T) {
	s := startServer(t)
	other := camper(t, s.Addr(), "J002")
	script := strings.Join([]string{
		"help",
		"mission 4",
		"mission day14",
		"mission 5",
		"mission x",
		"complete",
		"peersession maxCount=3",
		"hello, group",
		"message second one",
		"complete",
		"message after the end",
		"direct J002 hi there",
		"direct to j002 again",
		"direct J100 anyone?",
		"direct J999 out of range",
		"checkin J003",
		"peersession 1",
		"message   the last word  ",
		"checkout",
		"mission 4",
	}, "\n")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-addr", s.Addr(), "-id", "j001"}, strings.NewReader(script), &stdout, &stderr)
	if code != 0 {
		t.Errorf("exit = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	got := activeTime.ReplaceAllString(stdout.String(), "checked in for DURATION")
	want, err := os.ReadFile("testdata/session.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("transcript differs from testdata/session.golden; got:\n%s", got)
	}
	expectEvents(t, other,
		Event{Kind: Joined, From: "J001", Group: 1},
		Event{Kind: PeerSession, From: "J001", Group: 1, MaxCount: 3},
		Event{Kind: Message, From: "J001", Group: 1, Text: "hello, group"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "second one"},
		Event{Kind: Complete, From: "J001", Group: 1, Reason: "host"},
		Event{Kind: Direct, From: "J001", Text: "hi there"},
		Event{Kind: Direct, From: "J001", Text: "again"},
		Event{Kind: PeerSession, From: "J001", Group: 1, MaxCount: 1},
		Event{Kind: Message, From: "J001", Group: 1, Text: "the last word"},
		Event{Kind: Complete, From: "J001", Group: 1, Reason: "limit"},
		Event{Kind: Left, From: "J001", Group: 1},
	)
}

func TestMainAsksForID(t *testing.T) {
	s := startServer(t)
	camper(t, s.Addr(), "J002")
	tests := []struct {
		name     string
		args     []string
		give     string
		wantCode int
		want     string
	}{
		{
			name: "asks until valid and free",
			give: "\nJ9\nj002\nJ003\n",
			want: "error: \"J9\" is not a camp id in J001-J384\n" +
				"error: 409 Conflict: J002 is checked in on another connection\n" +
				"checked in as J003 in group 1\n" +
				"checked in for DURATION\n",
		},
		{
			name:     "refused -id ends a script",
			args:     []string{"-id", "J002"},
			give:     "mission 4\n",
			wantCode: 1,
			want:     "error: 409 Conflict: J002 is checked in on another connection\n",
		},
		{
			name:     "no id at all",
			give:     "J1000\n",
			wantCode: 1,
			want:     "error: \"J1000\" is not a camp id in J001-J384\nno camp id given\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(append([]string{"-addr", s.Addr()}, tt.args...), strings.NewReader(tt.give), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d", code, tt.wantCode)
			}
			if got := activeTime.ReplaceAllString(stdout.String(), "checked in for DURATION"); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestMainServerGone(t *testing.T) {
	tests := []struct {
		name string
		stop func(*server.Server) error
		want string
	}{
		{"shutdown", func(s *server.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			return s.Shutdown(ctx)
		}, "* the server is shutting down\nthe server shut down; you are checked out\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			s, err := server.Start(cfg, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			stdin, typing := io.Pipe()
			defer typing.Close()
			var stdout, stderr syncBuffer
			code := make(chan int, 1)
			go func() { code <- Main([]string{"-addr", s.Addr(), "-id", "J001"}, stdin, &stdout, &stderr) }()
			waitFor(t, "stdout", stdout.String, "checked in as J001")
			if err := tt.stop(s); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-code:
				if c != 1 {
					t.Errorf("exit = %d, want 1", c)
				}
			case <-time.After(waitLimit):
				t.Fatal("Main did not return after the server went away")
			}
			want := "checked in as J001 in group 1\n" + tt.want
			if stdout.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", stdout.String(), want)
			}
		})
	}
}

func TestMainNoServer(t *testing.T) {
	s := startServer(t)
	addr := s.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-addr", addr, "-id", "J001"}, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Errorf("exit = %d, want 1", code)
	}
	// The address is named once, by the dial error itself.
	if want := "cannot reach the server: dial tcp " + addr + ": connect: connection refused\n"; stdout.String() != want {
		t.Errorf("output = %q, want %q", stdout.String(), want)
	}
}

// TestMainTypos runs a script of typos, sentences that start like commands
// and their answers: nothing is sent until a question is answered, Enter
// sends the line as typed, y runs the command it resembles.
func TestMainTypos(t *testing.T) {
	s := startServer(t)
	other := camper(t, s.Addr(), "J002")
	tests := []struct {
		give string // a line of the script; "" is Enter
		want string // what the client prints for it
	}{
		{"chekout", "did you mean `checkout`? (y runs it; press Enter to send your line as a message)"},
		{"n", "not sent"},
		{"mision 4", "did you mean `mission 4`? (y runs it; press Enter to send your line as a message)"},
		{"y", "mission of day 4: Heap, Stack"},
		{"mission 99999999999999999999", "error: no mission for day 99999999999999999999"},
		{"peersession", "not a command: peersession needs a message count, e.g. peersession 3 (press Enter to send your line as a message)"},
		{"ping", "pong"},
		{"hello", `"hello" is not a command and no peer session is known to run (press Enter to send it as a message; help lists the commands)`},
		{"", "error: 409 Conflict: no peer session runs in group 1; the message was not delivered"},
		{"peersession 6", "* J001 started a peer session of 6 messages"},
		{"hello", "sent; the session takes 5 more"}, // one word, but a session runs
		{"mission accomplished", `not a command: mission day "accomplished" is not a decimal integer (press Enter to send your line as a message)`},
		{"", "sent; the session takes 4 more"},
		{"missions are fun", "did you mean `mission are fun`? (y runs it; press Enter to send your line as a message)"},
		{"", "sent; the session takes 3 more"},
		{"/mission 4", "mission of day 4: Heap, Stack"},
		{"/say mission 4", "sent; the session takes 2 more"},
		{"/MSG hi", "sent; the session takes 1 more"},
		{"/mision 4", "error: unknown command /mision; did you mean /mission?"},
		{"/shrug", "error: unknown command /shrug; type help for the commands, or /say TEXT"},
		{"/help me", "error: help takes no arguments"},
		{"direct J999 hi", `error: "J999" is not a camp id in J001-J384`},
		{"chekout now?", "did you mean `checkout`? (y runs it; press Enter to send your line as a message)"},
		// Anything but Enter, y or n drops the held line and runs.
		{"compelte", "did you mean `complete`? (y runs it; press Enter to send your line as a message)"},
		{"", "sent; that was the session's last message\n* the peer session of J001 is complete: all messages sent"},
		{"checkout please", "not a command: checkout takes no arguments (press Enter to send your line as a message)"},
		{"checkout", "checked in for DURATION"},
	}
	var script, want strings.Builder
	want.WriteString("checked in as J001 in group 1\n")
	for _, tt := range tests {
		script.WriteString(tt.give + "\n")
		want.WriteString(tt.want + "\n")
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-addr", s.Addr(), "-id", "J001"}, strings.NewReader(script.String()), &stdout, &stderr)
	if code != 0 {
		t.Errorf("exit = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	got := activeTime.ReplaceAllString(stdout.String(), "checked in for DURATION")
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want.String(), "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, g, w)
		}
	}
	// Only what was confirmed or sent with /say reached the group.
	expectEvents(t, other,
		Event{Kind: Joined, From: "J001", Group: 1},
		Event{Kind: PeerSession, From: "J001", Group: 1, MaxCount: 6},
		Event{Kind: Message, From: "J001", Group: 1, Text: "hello"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "mission accomplished"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "missions are fun"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "mission 4"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "hi"},
		Event{Kind: Message, From: "J001", Group: 1, Text: "compelte"},
		Event{Kind: Complete, From: "J001", Group: 1, Reason: "limit"},
		Event{Kind: Left, From: "J001", Group: 1},
	)
}
