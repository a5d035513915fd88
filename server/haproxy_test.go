package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"campfire/bench"
	campclient "campfire/client"
	"campfire/internal/tlsflag"
	"campfire/internal/tlstest"
	"campfire/protocol"
	"campfire/server"
	"campfire/server/web"
)

// deployConfig is the HAProxy configuration of docs/deploy, which this
// test runs as it is (v2) or with send-proxy-v2 turned into send-proxy
// (v1).
const deployConfig = "../docs/deploy/haproxy.cfg"

// haproxyBound bounds every wait on HAProxy: its start, its first health
// check (every 2s in the file) and its stop.
const haproxyBound = 15 * time.Second

// TestHAProxy puts Debian's haproxy, configured by docs/deploy/haproxy.cfg,
// in front of a campfire server with -proxy-protocol, and checks through
// TLS what the deployment promises: HAProxy's health check (a ping after a
// PROXY header of the proxy's own) passes; a whole session works; the
// server sees each client's own address and port, not HAProxy's; the
// per-IP cap counts the client's address; the load harness runs through
// it. Once with PROXY v2, as the file says, once with v1.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed: make test installs it (make tools, Debian's haproxy package), or run apt-get install haproxy: %v", err)
	}
	text, err := os.ReadFile(deployConfig)
	if err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA(t, "campfire deploy test CA")
	leaf := ca.Issue(t, "127.0.0.1", "localhost")
	// HAProxy's crt: the certificate chain, then its key, in one file.
	crt := tlstest.WriteFile(t, "campfire.pem", leaf.CertPEM, leaf.KeyPEM)
	caFile := tlstest.WriteFile(t, "ca.pem", ca.PEM)

	tests := []struct {
		name      string
		sendProxy string // what the server line's default-server says
	}{
		{"PROXY v2", "send-proxy-v2"},
		{"PROXY v1", "send-proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgFile := deployConfig
			if tt.sendProxy != "send-proxy-v2" {
				cfgFile = withSendProxy(t, string(text), tt.sendProxy)
			}
			s := startServer(t, func(cfg *server.Config) {
				cfg.ProxyProtocol = true
				cfg.HTTPAddr = "127.0.0.1:0"
				cfg.MaxConnsPerIP = 1
			})
			hp := startHAProxy(t, bin, cfgFile, map[string]string{
				"CAMP_TLS_BIND":   freeAddr(t),
				"CAMP_PLAIN_BIND": freeAddr(t),
				"CAMP_CERT":       crt,
				"CAMP_NODE1":      s.Addr(),
			})
			// The health check: HAProxy's own connection, opened with a
			// PROXY header (v2 LOCAL, or v1 with its own addresses), then
			// a ping that campfire must answer 200.
			hp.await(t, "Health check for server campfire/node1 succeeded")

			tlsConf := &tls.Config{RootCAs: ca.Pool()}
			tlsAddr := hp.env["CAMP_TLS_BIND"]
			ctx, cancel := context.WithTimeout(context.Background(), haproxyBound)
			defer cancel()
			dial := func(src string) (*campclient.Client, error) {
				return campclient.Dial(ctx, tlsAddr, campclient.WithTLS(tlsConf), campclient.WithLocalIP(net.ParseIP(src)))
			}

			// A whole session through TLS, from two client addresses.
			a, err := dial("127.0.0.2")
			if err != nil {
				t.Fatalf("dial from 127.0.0.2: %v", err)
			}
			defer a.Close()
			b, err := dial("127.0.0.3")
			if err != nil {
				t.Fatalf("dial from 127.0.0.3: %v", err)
			}
			defer b.Close()
			if _, err := a.Checkin(ctx, "J001"); err != nil {
				t.Fatalf("checkin J001: %v", err)
			}
			group, err := b.Checkin(ctx, "J002")
			if err != nil {
				t.Fatalf("checkin J002: %v", err)
			}
			expect(t, a, campclient.Event{Kind: campclient.Joined, From: "J002", Group: group})
			if err := a.PeerSession(ctx, 2); err != nil {
				t.Fatalf("peersession: %v", err)
			}
			expect(t, b, campclient.Event{Kind: campclient.PeerSession, From: "J001", Group: group, MaxCount: 2})
			if _, err := b.Message(ctx, "hello through HAProxy"); err != nil {
				t.Fatalf("message: %v", err)
			}
			expect(t, a,
				campclient.Event{Kind: campclient.PeerSession, From: "J001", Group: group, MaxCount: 2},
				campclient.Event{Kind: campclient.Message, From: "J002", Group: group, Text: "hello through HAProxy"})

			// The server saw each client's own address and port.
			var view web.View
			getJSON(t, "http://"+s.HTTPAddr()+"/api/camp", &view)
			remotes := map[string]string{}
			for _, g := range view.Groups {
				for _, c := range g.Campers {
					remotes[c.ID] = c.Remote
				}
			}
			for id, c := range map[string]*campclient.Client{"J001": a, "J002": b} {
				if got, want := remotes[id], c.LocalAddr().String(); got != want {
					t.Errorf("/api/camp: %s from %q, want the client's own %q", id, got, want)
				}
			}

			// The per-IP cap (1) counts the client's address: another
			// connection from 127.0.0.2 is refused, one from 127.0.0.4
			// is not.
			over, err := dial("127.0.0.2")
			if err != nil {
				t.Fatalf("dial from 127.0.0.2 again: %v", err)
			}
			err = over.Ping(ctx)
			over.Close()
			if campclient.StatusCode(err) != protocol.StatusServiceUnavailable {
				t.Errorf("a second connection from 127.0.0.2: %v, want 503", err)
			}
			other, err := dial("127.0.0.4")
			if err != nil {
				t.Fatalf("dial from 127.0.0.4: %v", err)
			}
			if err := other.Ping(ctx); err != nil {
				t.Errorf("a first connection from 127.0.0.4: %v", err)
			}
			other.Close()

			// The plain front of the same file, for telnet and nc.
			plainPing(t, hp.env["CAMP_PLAIN_BIND"], "127.0.0.5")

			for id, c := range map[string]*campclient.Client{"J002": b, "J001": a} {
				if _, err := c.Checkout(ctx); err != nil {
					t.Errorf("checkout %s: %v", id, err)
				}
			}

			// The load harness through TLS, one connection per source
			// address under the cap: two full groups in peer sessions.
			srcs, err := bench.ParseSources("127.0.0.10-127.0.0.17")
			if err != nil {
				t.Fatal(err)
			}
			rep, err := bench.Run(ctx, bench.Config{
				Addr: tlsAddr, Scenario: bench.ScenarioPeers, Conns: 8, Rate: 400, Size: 64, Depth: 1,
				Duration: time.Second, Warmup: 200 * time.Millisecond,
				IDs: protocol.DefaultIDs(), Sources: srcs, TLS: tlsflag.Flags{On: true, CAFile: caFile},
			})
			if err != nil {
				t.Fatalf("bench: %v", err)
			}
			if len(rep.Errors) != 0 || rep.CheckedIn != 8 || rep.Sent == 0 || rep.Delivered != 3*rep.Sent || !rep.TLS {
				t.Errorf("bench: checked in %d, sent %d, delivered %d, errors %v, TLS %v; want 8, > 0, 3 × sent, none, true",
					rep.CheckedIn, rep.Sent, rep.Delivered, rep.Errors, rep.TLS)
			}
		})
	}
}

// withSendProxy writes the deployment's configuration with the
// default-server line's send-proxy-v2 replaced by give, and returns its
// path.
func withSendProxy(t *testing.T, text, give string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	replaced := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "default-server ") && strings.HasSuffix(l, " send-proxy-v2") {
			lines[i] = strings.TrimSuffix(l, "send-proxy-v2") + give
			replaced++
		}
	}
	if replaced != 1 {
		t.Fatalf("%s: %d default-server lines ending in send-proxy-v2, want 1", deployConfig, replaced)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// haproxy is a running haproxy process and what it has written.
type haproxy struct {
	lockedLog
	env  map[string]string
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

// startHAProxy runs haproxy in the foreground on file with env, checks
// the configuration first, and stops it when the test ends.
func startHAProxy(t *testing.T, bin, file string, env map[string]string) *haproxy {
	t.Helper()
	h := &haproxy{env: env, done: make(chan struct{})}
	environ := os.Environ()
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	check := exec.Command(bin, "-c", "-f", file)
	check.Env = environ
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", file, err, out)
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = h, h
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		// SIGTERM is HAProxy's hard stop: it closes everything at once.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(haproxyBound):
			_ = cmd.Process.Kill()
			<-h.done
			t.Errorf("haproxy did not stop on SIGTERM within %v", haproxyBound)
		}
		if t.Failed() {
			t.Logf("haproxy's output:\n%s", h.output())
		}
	})
	return h
}

// await waits until HAProxy has written want, failing if it exits first
// or takes longer than haproxyBound (the cleanup then shows its output).
func (h *haproxy) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(haproxyBound)
	for !strings.Contains(h.output(), want) {
		select {
		case <-h.done:
			t.Fatalf("haproxy exited (%v) before writing %q", h.err, want)
		case <-time.After(20 * time.Millisecond): // polling its output with a deadline
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not write %q within %v", want, haproxyBound)
		}
	}
}

// expect checks c's next events.
func expect(t *testing.T, c *campclient.Client, want ...campclient.Event) {
	t.Helper()
	for _, w := range want {
		select {
		case got, ok := <-c.Events():
			if !ok {
				t.Fatalf("events ended (%v), want %+v", c.Err(), w)
			}
			if got != w {
				t.Fatalf("event %+v, want %+v", got, w)
			}
		case <-time.After(waitFor):
			t.Fatalf("no event within %v, want %+v", waitFor, w)
		}
	}
}

// plainPing sends a ping from src to addr in plain TCP and checks the
// answer.
func plainPing(t *testing.T, addr, src string) {
	t.Helper()
	d := net.Dialer{Timeout: waitFor, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), 0))}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("plain front: %v", err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	if _, err := fmt.Fprint(nc, "ping\r\n"); err != nil {
		t.Fatalf("plain front: %v", err)
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("plain front: %v", err)
	}
	if line != "CAMP/1.0 200 OK\r\n" {
		t.Errorf("plain front answered %q to ping", line)
	}
}
