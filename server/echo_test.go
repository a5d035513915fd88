package server_test

import (
	"bytes"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"campfire/server"
)

// The tests in this file prove the echo rules of PROTOCOL.md section 3,
// against the echo service alone (StartEcho) and beside the challenge
// service (EchoAddr).

// echoServers returns the address of an echo service of each kind with the
// given keepOpen.
func echoServers(t *testing.T, keepOpen bool) map[string]string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Grace = 2 * time.Second
	cfg.KeepOpen = keepOpen
	alone, err := server.StartEcho(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("StartEcho: %v", err)
	}
	t.Cleanup(func() { shutdown(t, alone) })
	beside := startServer(t, func(cfg *server.Config) {
		cfg.EchoAddr = "127.0.0.1:0"
		cfg.KeepOpen = keepOpen
	})
	if beside.EchoAddr() == "" || beside.EchoAddr() == beside.Addr() {
		t.Fatalf("EchoAddr = %q beside %q", beside.EchoAddr(), beside.Addr())
	}
	if alone.EchoAddr() != "" {
		t.Errorf("lone echo service: EchoAddr = %q, want \"\"", alone.EchoAddr())
	}
	return map[string]string{"alone": alone.Addr(), "beside": beside.EchoAddr()}
}

// pattern returns n bytes that differ from their neighbours, so that a
// shifted or truncated echo is caught.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func TestEcho(t *testing.T) {
	t.Parallel()
	for kind, addr := range echoServers(t, false) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("nothing under 4 bytes, then the echo and close", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				c.send("abc")
				c.expectNothing(100 * time.Millisecond)
				c.send("defg")
				if got := string(c.readRaw(7)); got != "abcdefg" {
					t.Errorf("echo %q, want %q", got, "abcdefg")
				}
				c.expectRawEOF()
			})
			t.Run("exactly 4 bytes", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				c.send("\x00\r\n\xff")
				if got := string(c.readRaw(4)); got != "\x00\r\n\xff" {
					t.Errorf("echo %q", got)
				}
				c.expectRawEOF()
			})
			t.Run("2000 bytes: the first 1024 back, then EOF", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				give := pattern(2000)
				c.send(string(give))
				if got := c.readRaw(1024); !bytes.Equal(got, give[:1024]) {
					t.Errorf("echo differs from the first 1024 bytes sent")
				}
				// The 976 unread bytes must not turn the close into a reset.
				c.expectRawEOF()
			})
		})
	}
}

func TestEchoKeepOpen(t *testing.T) {
	t.Parallel()
	for kind, addr := range echoServers(t, true) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("several echoes on one connection", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				for _, give := range []string{"ping", "hello there", "\r\n\r\n", "last one"} {
					c.send(give)
					if got := string(c.readRaw(len(give))); got != give {
						t.Errorf("echo %q, want %q", got, give)
					}
				}
				c.send("ab")
				c.expectNothing(100 * time.Millisecond)
				c.send("cd")
				if got := string(c.readRaw(4)); got != "abcd" {
					t.Errorf("echo %q, want abcd", got)
				}
			})
			t.Run("3000 bytes all come back", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				give := pattern(3000)
				c.send(string(give))
				if got := c.readRaw(3000); !bytes.Equal(got, give) {
					t.Errorf("echo of 3000 bytes differs")
				}
			})
			t.Run("1026 bytes: 1024 back, the last 2 wait for 2 more", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				give := pattern(1026)
				c.send(string(give))
				if got := c.readRaw(1024); !bytes.Equal(got, give[:1024]) {
					t.Errorf("first echo differs")
				}
				c.expectNothing(100 * time.Millisecond)
				c.send("xy")
				if got := string(c.readRaw(4)); got != string(give[1024:])+"xy" {
					t.Errorf("second echo %q, want %q", got, string(give[1024:])+"xy")
				}
			})
			t.Run("client leaves", func(t *testing.T) {
				t.Parallel()
				c := dial(t, addr)
				c.send("bye!")
				c.readRaw(4)
				if err := c.conn.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				// The server closes its side when the client leaves.
				c.expectRawEOF()
			})
		})
	}
}
