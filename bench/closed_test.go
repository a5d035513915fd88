package bench

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// startDelayRelay relays TCP connections to addr, holding every chunk the
// server sends for delay before passing it on to the client, so that no
// answer reaches a client sooner than delay after the server wrote it.
func startDelayRelay(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	type chunk struct {
		at time.Time
		b  []byte
	}
	wg.Go(func() {
		for {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			sc, err := net.Dial("tcp", addr)
			if err != nil {
				cc.Close()
				continue
			}
			mu.Lock()
			open = append(open, cc, sc)
			mu.Unlock()
			wg.Go(func() {
				io.Copy(sc, cc)
				sc.(*net.TCPConn).CloseWrite()
			})
			held := make(chan chunk, 1<<16)
			wg.Go(func() {
				defer close(held)
				for {
					b := make([]byte, 64<<10)
					n, err := sc.Read(b)
					if n > 0 {
						held <- chunk{time.Now().Add(delay), b[:n]}
					}
					if err != nil {
						return
					}
				}
			})
			wg.Go(func() {
				defer cc.(*net.TCPConn).CloseWrite()
				for c := range held {
					time.Sleep(time.Until(c.at))
					if _, err := cc.Write(c.b); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// TestPeersClosedLoop runs peers at -rate 0: every sender keeps Depth
// messages unanswered. Through a relay that delays every answer, a sender
// can send at most Depth messages per delay; without the bound it would
// send as fast as the socket takes them.
func TestPeersClosedLoop(t *testing.T) {
	const depth, delay = 8, 50 * time.Millisecond
	cfg := shortRun(t, startDelayRelay(t, startCampfire(t, false), delay), ScenarioPeers)
	cfg.Rate, cfg.Depth = 0, depth
	rep := runShort(t, cfg)
	checkCounts(t, rep, cfg.Conns)
	senders := int64(rep.Senders)
	if senders != int64(cfg.Conns) {
		t.Fatalf("%d senders, want all %d connections", senders, cfg.Conns)
	}
	// Round trips take at least delay: over warmup and window each sender
	// gets at most one more Depth per delay than the first.
	rounds := int64((cfg.Warmup+cfg.Duration)/delay) + 1
	if most := senders * depth * rounds; rep.Sent > most {
		t.Errorf("sent %d messages, more than %d senders × %d in flight × %d round trips = %d", rep.Sent, senders, depth, rounds, most)
	}
	// It keeps sending as answers come back, well past the first Depth.
	if least := senders * depth * 2; rep.Sent < least {
		t.Errorf("sent %d messages, want at least %d (two rounds of %d in flight per sender)", rep.Sent, least, depth)
	}
}
