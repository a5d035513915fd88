package bench

import (
	"crypto/tls"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"campfire/internal/tlstest"
	"campfire/protocol"
)

// testRun returns a run whose window is always open, with a timeline of
// four one-second slots.
func testRun(size int) *run {
	r := &run{cfg: Config{Size: size, Depth: 4}, start: time.Now(), lat: NewLatencies(1, 4), slotWidth: int64(time.Second)}
	r.winStart.Store(0)
	r.winEnd.Store(math.MaxInt64)
	return r
}

// loopbackPair returns a connected client socket whose server side is
// drained (or echoed, with echo) by a goroutine that ends with the test.
func loopbackPair(t testing.TB, echo bool) *net.TCPConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if echo {
			io.Copy(s, s)
		} else {
			io.Copy(io.Discard, s)
		}
	})
	t.Cleanup(func() {
		c.Close()
		s.Close()
		wg.Wait()
	})
	return c.(*net.TCPConn)
}

// tlsPair is loopbackPair with TLS: a client connection whose server
// side, a crypto/tls server with a certificate made for the test, is
// served by serve until the test ends.
func tlsPair(t testing.TB, serve func(s net.Conn)) net.Conn {
	t.Helper()
	ca := tlstest.NewCA(t, "bench test CA")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "127.0.0.1").TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The server's side of the handshake runs in its own goroutine, and
	// is over before the pair is handed out: its allocations must not
	// fall into a measurement.
	server := make(chan net.Conn, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		s, err := ln.Accept()
		if err == nil {
			err = s.(*tls.Conn).Handshake()
		}
		if err != nil {
			close(server)
			return
		}
		server <- s
		serve(s)
	})
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
	if err != nil {
		ln.Close()
		wg.Wait()
		t.Fatal(err)
	}
	s, ok := <-server
	if !ok {
		c.Close()
		wg.Wait()
		t.Fatal("the test server's handshake failed")
	}
	t.Cleanup(func() {
		c.Close()
		s.Close()
		wg.Wait()
	})
	return c
}

// skipTLSUnderRace skips an allocation test over TLS under -race, where
// sync.Pool drops a quarter of what is put back (on purpose, to find
// misuse), so that crypto/tls reallocates its record buffers. make test
// runs these tests again without -race.
func skipTLSUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("crypto/tls allocates under -race (sync.Pool drops at random); measured without -race")
	}
}

// drain reads s until it closes.
func drain(s net.Conn) { io.Copy(io.Discard, s) }

// repeater is an endless stream of one frame, read in pieces of any size.
type repeater struct {
	frame []byte
	off   int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.frame[r.off:])
		n += k
		r.off = (r.off + k) % len(r.frame)
	}
	return n, nil
}

func messageEvent(t testing.TB, r *run, size int) []byte {
	t.Helper()
	body := payload(size)
	putStamp(body, r.now())
	f := protocol.AppendEvent(nil, protocol.EventMessage, []byte("J00001"))
	f = protocol.AppendHeaderInt(f, protocol.HeaderGroup, 1)
	return protocol.AppendBody(f, body)
}

// TestSendAllocs checks that stamping and writing a message allocates
// nothing, over TCP and over TLS.
func TestSendAllocs(t *testing.T) {
	tests := []struct {
		name string
		pair func(testing.TB) net.Conn
	}{
		{"tcp", func(t testing.TB) net.Conn { return loopbackPair(t, false) }},
		{"tls", func(t testing.TB) net.Conn { return tlsPair(t, drain) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "tls" {
				skipTLSUnderRace(t)
			}
			r := testRun(64)
			c := &camper{conn: tt.pair(t)}
			s := newSender([]*camper{c}, 64, 0, 0, 4)
			if n := testing.AllocsPerRun(1000, func() {
				if !r.sendOne(s, c) {
					t.Fatal("sendOne failed")
				}
			}); n != 0 {
				t.Errorf("sendOne allocates %v times per message, want 0", n)
			}
			if s.sent.Load() < 1000 {
				t.Errorf("sent %d messages, want at least 1000", s.sent.Load())
			}
		})
	}
}

// TestReceiveAllocs checks that reading and timing MESSAGE events and
// message responses allocates nothing, batch flushes included.
func TestReceiveAllocs(t *testing.T) {
	r := testRun(64)
	tests := []struct {
		name  string
		frame []byte
	}{
		{"message event", messageEvent(t, r, 64)},
		{"message response", protocol.AppendBody(protocol.AppendHeaderInt(protocol.AppendStatus(nil, 200), protocol.HeaderRemaining, 999), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &camper{rd: protocol.NewReader(&repeater{frame: tt.frame}, 0), rec: r.lat.Recorder(0)}
			next := func() {
				f, err := c.rd.Next()
				if err != nil {
					t.Fatal(err)
				}
				r.handleFrame(c, f)
			}
			next() // let the reader's buffer settle
			if n := testing.AllocsPerRun(3*batchSize, next); n != 0 {
				t.Errorf("receiving allocates %v times per frame, want 0", n)
			}
			if r.errs.total() != 0 {
				t.Errorf("errors: %v", r.errs.byName())
			}
		})
	}
	// Over TLS the frames come out of crypto/tls's records.
	t.Run("message event over TLS", func(t *testing.T) {
		skipTLSUnderRace(t)
		frame := messageEvent(t, r, 64)
		conn := tlsPair(t, func(s net.Conn) { io.Copy(s, &repeater{frame: frame}) })
		c := &camper{rd: protocol.NewReader(conn, 0), rec: r.lat.Recorder(0)}
		next := func() {
			f, err := c.rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			r.handleFrame(c, f)
		}
		next()
		if n := testing.AllocsPerRun(3*batchSize, next); n != 0 {
			t.Errorf("receiving over TLS allocates %v times per frame, want 0", n)
		}
		if r.errs.total() != 0 {
			t.Errorf("errors: %v", r.errs.byName())
		}
	})
}

// TestEchoAllocs checks that the echo scenario's write and its accounting
// of echoed bytes allocate nothing, over TCP and over TLS.
func TestEchoAllocs(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testEchoAllocs(t, loopbackPair(t, false)) })
	t.Run("tls", func(t *testing.T) {
		skipTLSUnderRace(t)
		testEchoAllocs(t, tlsPair(t, drain))
	})
}

func testEchoAllocs(t *testing.T, conn net.Conn) {
	r := testRun(64)
	ec := &echoConn{conn: conn, rec: r.lat.Recorder(0), out: repeat(payload(64), 4)}
	echoed := repeat(payload(64), 4)
	for i := 0; i < len(echoed); i += 64 {
		putStamp(echoed[i:], r.now())
	}
	if n := testing.AllocsPerRun(1000, func() {
		if r.writePayloads(ec, 4) != 4 {
			t.Fatal("writePayloads failed")
		}
		// Echoes split payloads anywhere: feed them in odd pieces.
		for _, piece := range [][]byte{echoed[:3], echoed[3:100], echoed[100:]} {
			if _, ok := r.consumeEcho(ec, piece); !ok {
				t.Fatal("consumeEcho rejected the echo")
			}
		}
	}); n != 0 {
		t.Errorf("echo round allocates %v times, want 0", n)
	}
}

func TestConsumeEcho(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		pieces   []int // lengths of the reads the echo arrives in
		wantDone []int
	}{
		{"whole payloads", 32, []int{32, 64}, []int{1, 2}},
		{"split inside the stamp", 32, []int{5, 27, 32}, []int{0, 1, 1}},
		{"split across payloads", 32, []int{20, 30, 14}, []int{0, 1, 1}},
		{"byte by byte", 16, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRun(tt.size)
			ec := &echoConn{rec: r.lat.Recorder(0)}
			total := 0
			for _, n := range tt.pieces {
				total += n
			}
			stream := repeat(payload(tt.size), total/tt.size)
			for i := 0; i < len(stream); i += tt.size {
				putStamp(stream[i:], r.now())
			}
			for i, n := range tt.pieces {
				done, ok := r.consumeEcho(ec, stream[:n])
				stream = stream[n:]
				if !ok || done != tt.wantDone[i] {
					t.Errorf("piece %d: consumeEcho = %d, %v; want %d, true", i, done, ok, tt.wantDone[i])
				}
			}
			if got, want := ec.trips.Load(), int64(total/tt.size); got != want {
				t.Errorf("trips = %d, want %d", got, want)
			}
		})
	}
	r := testRun(16)
	if _, ok := r.consumeEcho(&echoConn{rec: r.lat.Recorder(0)}, []byte("not a timestamp!")); ok {
		t.Errorf("consumeEcho accepted a payload without a stamp")
	}
}

func BenchmarkSend(b *testing.B) {
	r := testRun(64)
	c := &camper{conn: loopbackPair(b, false)}
	s := newSender([]*camper{c}, 64, 0, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		r.sendOne(s, c)
	}
}

func BenchmarkReceive(b *testing.B) {
	r := testRun(64)
	c := &camper{rd: protocol.NewReader(&repeater{frame: messageEvent(b, r, 64)}, 0), rec: r.lat.Recorder(0)}
	b.ReportAllocs()
	for b.Loop() {
		f, err := c.rd.Next()
		if err != nil {
			b.Fatal(err)
		}
		r.handleFrame(c, f)
	}
}

// BenchmarkSendTLS is BenchmarkSend over TLS: what the sender pays for
// AES-GCM records.
func BenchmarkSendTLS(b *testing.B) {
	r := testRun(64)
	c := &camper{conn: tlsPair(b, drain)}
	s := newSender([]*camper{c}, 64, 0, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		r.sendOne(s, c)
	}
}
