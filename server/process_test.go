package server_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"campfire/protocol"
)

// process is a campfire binary running as a child process.
type process struct {
	lockedLog
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // what Wait returned, once exited is closed
}

// runCampfire starts bin with args as a child process whose output goes to
// its log, and kills it when the test ends.
func runCampfire(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// startProcess runs bin with args and waits until addr answers a ping. ok
// is false if the process exited first (for example because the port was
// taken).
func startProcess(t *testing.T, bin, addr string, args ...string) (p *process, ok bool) {
	t.Helper()
	p = runCampfire(t, bin, append([]string{"serve", "-addr", addr, "-grace", "2s"}, args...)...)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(waitFor)
	for {
		select {
		case <-p.exited:
			return p, false
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s; log:\n%s", bin, addr, p.output())
		}
		nc, err := net.DialTimeout("tcp", addr, waitFor)
		if err != nil {
			continue
		}
		_ = nc.Close()
		return p, true
	}
}

// terminate sends SIGTERM.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}

// expectExit expects exit code 0 within the 2s grace period (plus gnet's
// stop poll and some slack) of a SIGTERM sent at since.
func (p *process) expectExit(t *testing.T, since time.Time) {
	t.Helper()
	within := 4 * time.Second
	select {
	case <-p.exited:
	case <-time.After(time.Until(since.Add(within))):
		t.Fatalf("process still running %s after SIGTERM; log:\n%s", within, p.output())
	}
	if p.err != nil {
		t.Fatalf("process exit: %v; log:\n%s", p.err, p.output())
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// timeWaits counts the IPv4 sockets in TIME_WAIT on addr's local port.
func timeWaits(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	var n int
	if _, err := fmt.Sscan(port, &n); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatalf("cannot read socket states: %v", err)
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", n)
	count := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[1], want) && fields[3] == "06" {
			count++
		}
	}
	return count
}

// TestProcess runs the real binary: SIGTERM sends SHUTDOWN and exits 0,
// and a new process binds the same port at once although the old
// connections sit in TIME_WAIT.
func TestProcess(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "campfire")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	var (
		addr string
		p    *process
	)
	for try := 0; ; try++ {
		addr = freePort(t)
		var ok bool
		if p, ok = startProcess(t, bin, addr); ok {
			break
		}
		if try == 4 {
			t.Fatalf("the server never started; last log:\n%s", p.output())
		}
	}

	cs := []*client{dial(t, addr), dial(t, addr)}
	cs[0].checkin("J001")
	cs[1].ping()
	term := time.Now()
	p.terminate(t)
	for _, c := range cs {
		c.expectEvent("SHUTDOWN", "")
		c.expectEOF()
		if err := c.conn.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p.expectExit(t, term)
	t.Logf("first process exited %s after SIGTERM", time.Since(term).Round(time.Millisecond))
	log := p.output()
	// Every new connection is logged with the client's address.
	for _, c := range cs {
		if !strings.Contains(log, c.conn.LocalAddr().String()) {
			t.Errorf("log does not name the client %s:\n%s", c.conn.LocalAddr(), log)
		}
	}

	// The server closed first, so its side of the old connections is in
	// TIME_WAIT: binding again needs SO_REUSEADDR.
	if n := timeWaits(t, addr); n == 0 {
		t.Errorf("no socket in TIME_WAIT on %s: the rebind below proves nothing", addr)
	}
	p2, ok := startProcess(t, bin, addr)
	if !ok {
		t.Fatalf("restart on %s failed; log:\n%s", addr, p2.output())
	}
	c := dial(t, addr)
	c.checkin("J001")
	c.do("mission 4\r\n", protocol.StatusOK)
	term = time.Now()
	p2.terminate(t)
	c.expectEvent("SHUTDOWN", "")
	c.expectEOF()
	if err := c.conn.Close(); err != nil {
		t.Fatal(err)
	}
	p2.expectExit(t, term)
}
