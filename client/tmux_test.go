package client

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmux drives a program in a detached tmux session on a private server,
// which gives it a real terminal.
type tmux struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, command ...string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("this test drives the terminal client through tmux, which is not installed: %v", err)
	}
	tm := &tmux{t: t, socket: fmt.Sprintf("campfire-test-%d", time.Now().UnixNano())}
	args := append([]string{"new-session", "-d", "-s", "cf", "-x", "100", "-y", "30"}, command...)
	tm.run(args...)
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	// Keep the pane after the client exits, so its last words can be read.
	tm.run("set-option", "-t", "cf", "remain-on-exit", "on")
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns what the pane shows, trailing blank lines dropped.
func (tm *tmux) screen() string {
	return strings.TrimRight(tm.run("capture-pane", "-p", "-t", "cf"), "\n")
}

// typeText types s without pressing Enter.
func (tm *tmux) typeText(s string) { tm.run("send-keys", "-t", "cf", "-l", s) }

// press sends named keys such as Enter or C-d.
func (tm *tmux) press(keys ...string) { tm.run(append([]string{"send-keys", "-t", "cf"}, keys...)...) }

// buildCampfire builds the campfire binary into a temporary directory.
func buildCampfire(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "campfire")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestTerminalEventWhileTyping(t *testing.T) {
	bin := buildCampfire(t)
	s := startServer(t)
	ctx := testContext(t)
	host := camper(t, s.Addr(), "J002")
	// The shell reports the client's exit status on the screen: tmux's own
	// #{pane_dead_status} depends on the tmux server reaping the client,
	// which was seen to lag for seconds on a loaded machine.
	tm := startTmux(t, "sh", "-c", `"$0" "$@"; echo "client exited with status $?"`,
		bin, "client", "-addr", s.Addr(), "-id", "J001")
	waitFor(t, "screen", tm.screen, "J001>")
	expectEvents(t, host, Event{Kind: Joined, From: "J001", Group: 1})
	if err := host.PeerSession(ctx, 5); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "screen", tm.screen, "* J002 started a peer session of 5 messages")
	expectEvents(t, host, Event{Kind: PeerSession, From: "J002", Group: 1, MaxCount: 5})

	tm.typeText("hello from the ter")
	waitFor(t, "screen", tm.screen, "J001> hello from the ter")
	if err := host.Direct(ctx, "J001", "psst, J001"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "screen", tm.screen, "J002 (direct): psst, J001")
	// The event is printed above the prompt, and the half-typed line is
	// redrawn intact below it.
	lines := strings.Split(tm.screen(), "\n")
	last := lines[len(lines)-1]
	if last != "J001> hello from the ter" {
		t.Errorf("last line = %q, want the prompt and the half-typed line; screen:\n%s", last, tm.screen())
	}
	if above := lines[len(lines)-2]; above != "J002 (direct): psst, J001" {
		t.Errorf("line above the prompt = %q, want the event; screen:\n%s", above, tm.screen())
	}

	tm.typeText("minal")
	tm.press("Enter")
	expectEvents(t, host, Event{Kind: Message, From: "J001", Group: 1, Text: "hello from the terminal"})
	waitFor(t, "screen", tm.screen, "sent; the session takes 4 more")

	// A typo is held with a question, and y runs the command it resembles;
	// nothing reaches the group (the next event the host gets is the
	// message after it).
	tm.typeText("mision 4")
	tm.press("Enter")
	waitFor(t, "screen", tm.screen, "did you mean `mission 4`? (y runs it; press Enter to send your line as a message)")
	tm.typeText("y")
	tm.press("Enter")
	waitFor(t, "screen", tm.screen, "mission of day 4: Heap, Stack")
	// A real message that starts like a command is asked about too, and
	// Enter sends it as typed.
	tm.typeText("missions are fun")
	tm.press("Enter")
	waitFor(t, "screen", tm.screen, "did you mean `mission are fun`?")
	tm.press("Enter")
	expectEvents(t, host, Event{Kind: Message, From: "J001", Group: 1, Text: "missions are fun"})
	waitFor(t, "screen", tm.screen, "sent; the session takes 3 more")

	tm.press("C-d")
	waitFor(t, "screen", tm.screen, "checked in for ")
	expectEvents(t, host, Event{Kind: Left, From: "J001", Group: 1})
	// The client exits by itself, with status 0.
	waitFor(t, "screen", tm.screen, "client exited with status 0")
}
