package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// BenchmarkMessage measures a peer-session message through the real reactor
// over loopback TCP, with one event loop and with two: one camper keeps up
// to 64 messages in flight to a group of four, the other three read every
// MESSAGE. One op is one message: three deliveries and one reply. Client
// and server share the process: the allocation per op is the test client's
// io.WriteString; the server allocates nothing per message.
func BenchmarkMessage(b *testing.B) {
	for _, loops := range []int{1, 2} {
		b.Run(fmt.Sprintf("loops=%d", loops), func(b *testing.B) {
			s := startServer(b, func(cfg *server.Config) { cfg.Loops = loops })
			cs := group(b, s.Addr(), 4)
			msg := "message " + strings.Repeat("x", 64) + "\r\n"
			start := fmt.Sprintf("peersession %d\r\n", protocol.MaxPeerSession)
			inFlight := make(chan struct{}, 64)

			errs := make(chan error, len(cs))
			// read counts the frames on c that match until it has want.
			read := func(c *client, want int, match func(*protocol.Frame) bool) {
				for got := 0; got < want; {
					if err := c.conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
						errs <- err
						return
					}
					f, err := c.r.Next()
					if err != nil {
						errs <- fmt.Errorf("%s after %d of %d frames: %w", c.name, got, want, err)
						return
					}
					if match(f) {
						got++
					}
				}
				errs <- nil
			}
			isMessage := func(f *protocol.Frame) bool {
				name, _, ok := f.Event()
				return ok && string(name) == protocol.EventMessage
			}
			isReply := func(f *protocol.Frame) bool {
				if _, ok := f.Status(); !ok {
					return false
				}
				<-inFlight
				return true
			}

			// acquire waits for room in the window, failing the benchmark if
			// the replies stop.
			acquire := func() {
				select {
				case inFlight <- struct{}{}:
				default:
					select {
					case inFlight <- struct{}{}:
					case <-time.After(waitFor):
						b.Fatalf("no reply for %s", waitFor)
					}
				}
			}

			// A session takes MaxPeerSession messages; start as many as b.N
			// needs, each answered with a 200 of its own.
			sessions := (b.N + protocol.MaxPeerSession - 1) / protocol.MaxPeerSession
			b.ReportAllocs()
			b.ResetTimer()
			for _, c := range cs[1:] {
				go read(c, b.N, isMessage)
			}
			go read(cs[0], b.N+sessions, isReply)
			for i := range b.N {
				if i%protocol.MaxPeerSession == 0 {
					acquire()
					cs[0].send(start)
				}
				acquire()
				cs[0].send(msg)
			}
			for range cs {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
