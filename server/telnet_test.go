package server_test

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// TestTelnetCtrlC runs a real telnet in a real terminal (tmux): after
// Ctrl-C, telnet sends IAC IP IAC DO TIMING-MARK and discards all output
// until the server answers the timing mark. The server answers it, so the
// session goes on: the mission typed next is shown.
func TestTelnetCtrlC(t *testing.T) {
	for _, tool := range []string{"tmux", "telnet"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test drives a real telnet through tmux; %s is not installed (make test installs it): %v", tool, err)
		}
	}
	s := startServer(t, nil)
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("campfire-telnet-%d", time.Now().UnixNano())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "telnet", host, port)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "t") }
	waitScreen := func(what string, count int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(screen(), what) < count {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q %d times:\n%s", what, count, screen())
			}
			time.Sleep(20 * time.Millisecond) // polling the screen with a deadline
		}
	}
	waitScreen("Escape character", 1)
	tmux("send-keys", "-t", "t", "-l", "checkin J001")
	tmux("send-keys", "-t", "t", "Enter")
	waitScreen("Group: 1", 1)
	tmux("send-keys", "-t", "t", "C-c")
	tmux("send-keys", "-t", "t", "-l", "mission 4")
	tmux("send-keys", "-t", "t", "Enter")
	waitScreen("Heap, Stack", 1)
	// The session is whole: a ping after it is answered too.
	tmux("send-keys", "-t", "t", "-l", "ping")
	tmux("send-keys", "-t", "t", "Enter")
	waitScreen("CAMP/1.0 200 OK", 3)
}

// TestTelnetNegotiation: the server answers telnet's option negotiation as
// the contract says, takes the commands out of the line, and a connection
// that only negotiates has no frame in progress (the frame timeout leaves
// it alone).
func TestTelnetNegotiation(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(cfg *server.Config) { cfg.FrameTimeout = 200 * time.Millisecond })
	c := dial(t, s.Addr())
	tests := []struct {
		name string
		give string
		want string
	}{
		{"DO TIMING-MARK", "\xff\xfd\x06", "\xff\xfb\x06"},
		{"DO ECHO", "\xff\xfd\x01", "\xff\xfc\x01"},
		{"WILL SUPPRESS-GO-AHEAD", "\xff\xfb\x03", "\xff\xfe\x03"},
		{"DONT and WONT are not answered; NOP and a subnegotiation ignored", "\xff\xfe\x01\xff\xfc\x01\xff\xf1\xff\xfa\x18\x00xterm\xff\xf0\xff\xfd\x06", "\xff\xfb\x06"},
	}
	for _, tt := range tests {
		c.send(tt.give)
		if got := string(c.readRaw(len(tt.want))); got != tt.want {
			t.Errorf("%s: answer %q, want %q", tt.name, got, tt.want)
		}
	}
	c.expectNothing(500 * time.Millisecond) // past the frame timeout: no 408
	// Commands inside a line are taken out; IP throws away the partial line.
	c.send("pi\xff\xf1ng\r\n")
	c.expectStatus(protocol.StatusOK)
	c.send("checkin J00\xff\xf4mission 4\r\n")
	c.expectStatus(protocol.StatusUnauthorized) // the checkin was interrupted
	c.send("mis\xff\xf7sion 4\xff\xf8ping\r\n") // EC drops "s", EL the rest
	c.expectStatus(protocol.StatusOK)
}
