package client

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"campfire/internal/tlsflag"
	"campfire/internal/tlstest"
)

// tlsFront is a campfire server behind a TLS relay whose certificate a
// private CA issued for 127.0.0.1 and localhost.
type tlsFront struct {
	relay *tlstest.Relay
	ca    *tlstest.CA
}

func startTLSFront(t *testing.T, hosts ...string) tlsFront {
	t.Helper()
	s := startServer(t)
	ca := tlstest.NewCA(t, "campfire test CA")
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	return tlsFront{relay: tlstest.StartRelay(t, ca.Issue(t, hosts...).TLS, s.Addr()), ca: ca}
}

// TestTLSSession: a whole session through a TLS relay, the server name
// taken from the address dialed.
func TestTLSSession(t *testing.T) {
	f := startTLSFront(t)
	_, port, _ := net.SplitHostPort(f.relay.Addr())
	tests := []struct {
		name string
		addr string
	}{
		{"IP address", f.relay.Addr()},
		{"host name", net.JoinHostPort("localhost", port)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			conf := &tls.Config{RootCAs: f.ca.Pool()}
			a := dial(t, tt.addr, WithTLS(conf))
			b := dial(t, tt.addr, WithTLS(conf))
			idA, idB := []string{"J001", "J003"}[i], []string{"J002", "J004"}[i]
			if _, err := a.Checkin(ctx, idA); err != nil {
				t.Fatalf("checkin %s: %v", idA, err)
			}
			group, err := b.Checkin(ctx, idB)
			if err != nil {
				t.Fatalf("checkin %s: %v", idB, err)
			}
			expectEvents(t, a, Event{Kind: Joined, From: idB, Group: group})
			if err := a.PeerSession(ctx, 2); err != nil {
				t.Fatalf("peersession: %v", err)
			}
			expectEvents(t, b, Event{Kind: PeerSession, From: idA, Group: group, MaxCount: 2})
			if _, err := b.Message(ctx, "over TLS\r\nand two lines"); err != nil {
				t.Fatalf("message: %v", err)
			}
			expectEvents(t, a,
				Event{Kind: PeerSession, From: idA, Group: group, MaxCount: 2},
				Event{Kind: Message, From: idB, Group: group, Text: "over TLS\r\nand two lines"})
			for _, c := range []*Client{b, a} {
				if _, err := c.Checkout(ctx); err != nil {
					t.Fatalf("checkout: %v", err)
				}
			}
		})
	}
}

// TestTLSRefused: a certificate the client cannot verify ends Dial with
// crypto/tls's reason, and -tls-insecure's config accepts it.
func TestTLSRefused(t *testing.T) {
	f := startTLSFront(t, "camp.example")
	other := tlstest.NewCA(t, "another CA")
	tests := []struct {
		name    string
		conf    *tls.Config
		wantErr string // "" to succeed
	}{
		{"unknown authority", &tls.Config{RootCAs: other.Pool(), ServerName: "camp.example"}, "certificate signed by unknown authority"},
		{"name not in the certificate", &tls.Config{RootCAs: f.ca.Pool()}, "127.0.0.1"},
		{"name given in the config", &tls.Config{RootCAs: f.ca.Pool(), ServerName: "camp.example"}, ""},
		{"insecure", &tls.Config{InsecureSkipVerify: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(testContext(t), f.relay.Addr(), WithTLS(tt.conf))
			if tt.wantErr != "" {
				if err == nil {
					c.Close()
					t.Fatalf("Dial succeeded, want an error holding %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial error %q, want it to hold %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if err := c.Ping(testContext(t)); err != nil {
				t.Fatalf("ping: %v", err)
			}
		})
	}
}

// TestMainTLS: the terminal client's -tls flags, against the relay and
// against a server that does not speak TLS.
func TestMainTLS(t *testing.T) {
	f := startTLSFront(t)
	plain := startServer(t)
	caFile := tlstest.WriteFile(t, "ca.pem", f.ca.PEM)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"private CA", []string{"-addr", f.relay.Addr(), "-tls", "-tls-ca", caFile, "-id", "J001"}, 0, "mission of day 4: Heap, Stack\nchecked in for", ""},
		{"insecure, said loudly", []string{"-addr", f.relay.Addr(), "-tls", "-tls-insecure", "-id", "J002"}, 0, "mission of day 4: Heap, Stack\nchecked in for", tlsflag.Warning + "\n"},
		{"system roots do not know the CA", []string{"-addr", f.relay.Addr(), "-tls", "-id", "J003"}, 1, "cannot reach the server: tls: failed to verify certificate: x509: certificate signed by unknown authority", ""},
		{"a server without TLS", []string{"-addr", plain.Addr(), "-tls", "-tls-insecure", "-id", "J004"}, 1, "cannot reach the server: tls: first record does not look like a TLS handshake (it does not speak TLS: drop -tls, or give -addr the TLS proxy's address)\n", tlsflag.Warning + "\n"},
		{"-tls-ca without -tls", []string{"-addr", f.relay.Addr(), "-tls-ca", caFile}, 2, "", "campfire client: -tls-ca needs -tls\nrun 'campfire client -h' for its flags\n"},
		{"unreadable CA", []string{"-addr", f.relay.Addr(), "-tls", "-tls-ca", caFile + ".gone"}, 2, "", "campfire client: -tls-ca: open " + caFile + ".gone: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, strings.NewReader("mission 4\ncheckout\n"), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to hold %q", stdout.String(), tt.wantStdout)
			}
			if !strings.HasPrefix(stderr.String(), tt.wantStderr) || (tt.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr = %q, want it to start with %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
