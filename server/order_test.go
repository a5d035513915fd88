package server_test

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campfire/protocol"
	"campfire/server"
)

// TestOrderAcrossLoops drives heavy cross-loop traffic and checks the
// contract's order on every connection: each reply in request order, a
// reply before the events its own request causes, and COMPLETE before LEFT
// when a host leaves. With 4 loops and 16 campers in 4 groups, every group
// spans loops, so almost every frame crosses between loops; each camper
// pipelines thousands of requests without waiting, so the hand-offs are
// deep and batched.
func TestOrderAcrossLoops(t *testing.T) {
	t.Run("hold=backlog", func(t *testing.T) { t.Parallel(); orderAcrossLoops(t, false) })
	t.Run("hold=always", func(t *testing.T) { t.Parallel(); orderAcrossLoops(t, true) })
}

// orderAcrossLoops runs the order test; with hold, a batch between the
// loops is held whenever its receiver has anything waiting, and goes when
// the receiver has caught up.
func orderAcrossLoops(t *testing.T, hold bool) {
	const (
		groups   = 4
		perGroup = 4
		rounds   = 1500 // requests of each kind per camper
	)
	ids, err := protocol.ParseIDRange("J001-J016")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(cfg *server.Config) {
		cfg.Loops = 4
		cfg.IDs = ids
		if hold {
			server.HoldAlways(cfg)
		}
	})
	n := groups * perGroup
	cs := make([]*orderClient, n)
	for i := range cs {
		cs[i] = newOrderClient(t, s.Addr(), fmt.Sprintf("J%03d", i+1))
		// Check in one at a time so that the groups are known: camper i
		// sits in group i/4+1.
		cs[i].request("checkin " + cs[i].id)
		cs[i].waitReplies(1)
	}
	// Every host starts a session big enough for all the messages, and
	// the traffic begins once every member has heard of it.
	for g := range groups {
		cs[g*perGroup].request("peersession 1000000")
	}
	for _, c := range cs {
		for !c.peerStarted {
			if !c.readOne() {
				t.Fatalf("%s: connection ended: %v", c.id, c.errs)
			}
		}
		c.start()
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			var b strings.Builder
			for k := range rounds {
				// message: 200 to the sender, MESSAGE to the others.
				fmt.Fprintf(&b, "MESSAGE CAMP/1.0\r\nId: %d\r\nContent-Length: %d\r\n\r\n%s", c.nextID(), len(c.id)+6, fmt.Sprintf("%s %05d", c.id, k))
				// direct to oneself: the 200 comes before the DIRECT.
				fmt.Fprintf(&b, "DIRECT %s CAMP/1.0\r\nId: %d\r\nContent-Length: 4\r\n\r\nself", c.id, c.nextID())
				fmt.Fprintf(&b, "PING CAMP/1.0\r\nId: %d\r\n\r\n", c.nextID())
				if b.Len() > 32<<10 {
					c.write(b.String())
					b.Reset()
				}
			}
			c.write(b.String())
		})
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range cs {
		for c.replies.Load() < int64(c.sent) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling with a deadline
		}
	}
	// Each host leaves while its session runs: its group gets COMPLETE
	// (host-left), then LEFT.
	for g := range groups {
		cs[g*perGroup].request("checkout")
	}
	for _, c := range cs {
		c.wait()
	}
	for i, c := range cs {
		c.mu.Lock()
		errs := c.errs
		c.mu.Unlock()
		for _, e := range errs {
			t.Errorf("%s: %s", c.id, e)
		}
		host := i%perGroup == 0
		if want := c.sent; int(c.replies.Load()) != want {
			t.Errorf("%s: %d replies, want %d", c.id, c.replies.Load(), want)
		}
		if c.directs != rounds {
			t.Errorf("%s: %d DIRECT events, want %d", c.id, c.directs, rounds)
		}
		if !host {
			// Three others send rounds messages each.
			if want := (perGroup - 1) * rounds; c.messages != want {
				t.Errorf("%s: %d MESSAGE events, want %d", c.id, c.messages, want)
			}
			if !c.sawComplete || !c.sawLeft {
				t.Errorf("%s: COMPLETE seen %v, LEFT seen %v; want both", c.id, c.sawComplete, c.sawLeft)
			}
		}
	}
}

// orderClient sends full-form requests with increasing Ids and checks, as
// it reads, the order rules of the contract.
type orderClient struct {
	t    *testing.T
	id   string
	conn net.Conn
	r    *protocol.Reader

	wmu  sync.Mutex
	next int // the next request Id
	sent int

	mu   sync.Mutex
	errs []string

	// Reader-side state.
	replies     atomic.Int64
	lastReply   int
	piped       int // replies to the pipelined requests (message, direct, ping)
	messages    int
	directs     int // DIRECT events to oneself
	peerStarted bool
	sawComplete bool
	sawLeft     bool
	kinds       map[int]string // request Id -> method, for the checks
	lastFrom    map[string]int // sender -> the number of its last MESSAGE
	done        chan struct{}
}

func newOrderClient(t *testing.T, addr, id string) *orderClient {
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := &orderClient{t: t, id: id, conn: nc, r: protocol.NewReader(bufio.NewReaderSize(nc, 64<<10), 0),
		kinds: map[int]string{}, lastFrom: map[string]int{}, done: make(chan struct{}), next: 1}
	return c
}

func (c *orderClient) nextID() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.next
	c.next++
	c.sent++
	return id
}

// request sends one full-form request with an Id.
func (c *orderClient) request(line string) {
	c.wmu.Lock()
	id := c.next
	c.next++
	c.sent++
	c.wmu.Unlock()
	c.mu.Lock()
	c.kinds[id] = strings.ToLower(strings.Fields(line)[0])
	c.mu.Unlock()
	c.write(fmt.Sprintf("%s CAMP/1.0\r\nId: %d\r\n\r\n", line, id))
}

func (c *orderClient) write(s string) {
	if err := c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
		c.fail("%v", err)
		return
	}
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.fail("write: %v", err)
	}
}

func (c *orderClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 10 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

// waitReplies reads frames in the calling goroutine until n replies came.
func (c *orderClient) waitReplies(n int) {
	for c.replies.Load() < int64(n) {
		if !c.readOne() {
			c.t.Fatalf("%s: connection ended: %v", c.id, c.errs)
		}
	}
}

// start reads in the background until the connection ends.
func (c *orderClient) start() {
	go func() {
		defer close(c.done)
		for c.readOne() {
		}
	}()
}

func (c *orderClient) wait() {
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		_ = c.conn.Close()
		<-c.done
		c.fail("still reading after 60s")
	}
}

// readOne reads and checks one frame; false at the end of the stream or
// when the camper's own checkout reply came.
func (c *orderClient) readOne() bool {
	if err := c.conn.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return false
	}
	f, err := c.r.Next()
	if err != nil {
		return false
	}
	if code, ok := f.Status(); ok {
		c.replies.Add(1)
		id, err := strconv.Atoi(string(f.Header(protocol.HeaderID)))
		if err != nil {
			c.fail("reply without a numeric Id: %q", f.Start)
			return true
		}
		if id != c.lastReply+1 {
			c.fail("reply to request %d after the reply to %d", id, c.lastReply)
		}
		c.lastReply = id
		if code != protocol.StatusOK {
			c.fail("request %d: %s %q", id, f.Start, f.Body)
		}
		c.mu.Lock()
		kind := c.kinds[id]
		c.mu.Unlock()
		switch kind {
		case "peersession":
			if c.peerStarted {
				c.fail("PEERSESSION came before the 200 to peersession")
			}
		case "checkout":
			return false
		case "":
			c.piped++
		}
		return true
	}
	name, arg, ok := f.Event()
	if !ok {
		c.fail("neither a reply nor an event: %q", f.Start)
		return true
	}
	switch string(name) {
	case protocol.EventPeerSession:
		c.peerStarted = true
	case protocol.EventMessage:
		c.messages++
		// Each sender's messages arrive in the order it sent them.
		from, seq, _ := strings.Cut(string(f.Body), " ")
		k, err := strconv.Atoi(seq)
		if err != nil || from != string(arg) {
			c.fail("MESSAGE from %s with body %q", arg, f.Body)
		} else if last, ok := c.lastFrom[from]; ok && k != last+1 || !ok && k != 0 {
			c.fail("MESSAGE %d from %s after %d", k, from, last)
		}
		c.lastFrom[from] = k
		if c.sawComplete {
			c.fail("MESSAGE after COMPLETE")
		}
	case protocol.EventDirect:
		c.directs++
		if string(arg) != c.id {
			c.fail("DIRECT from %s", arg)
		}
		// Round k is message, direct, ping: its DIRECT comes right after
		// the reply to its direct and before the reply to its ping.
		if want := 3*(c.directs-1) + 2; c.piped != want {
			c.fail("DIRECT %d after %d pipelined replies, want right after %d", c.directs, c.piped, want)
		}
	case protocol.EventComplete:
		c.sawComplete = true
		if c.sawLeft {
			c.fail("COMPLETE after LEFT")
		}
	case protocol.EventLeft:
		if !c.sawComplete {
			c.fail("LEFT %s before COMPLETE", arg)
		}
		c.sawLeft = true
		return false
	}
	return true
}

// TestHeldBatchGoesWhenReceiverCatchesUp checks the one thing that moves
// a batch kept open for a loop that is behind, when its sender has
// nothing more to do: the receiver, once it has emptied its inbox, has
// the sender hand it on. With 3 loops and the camp's loop stopped, a
// request from loop 2 waits in the camp's inbox, and a request from loop 1
// is then held (HoldAlways: any backlog). Loop 1 then has no other reason
// to run: the replies of loop 2's request go to loop 2. Its request must
// still be answered once the camp's loop goes on.
func TestHeldBatchGoesWhenReceiverCatchesUp(t *testing.T) {
	s := startServer(t, func(cfg *server.Config) {
		cfg.Loops = 3
		server.HoldAlways(cfg)
		server.RareSweeps(cfg) // a sweep's round would hand it on too
	})
	var on [3]*client
	for range 12 {
		c := dial(t, s.Addr())
		c.ping() // registered on its loop
		idx, err := server.LoopOf(s, c.conn.LocalAddr().String())
		if err != nil || idx < 0 {
			t.Fatalf("the loop of %v: %d, %v", c.conn.LocalAddr(), idx, err)
		}
		if on[idx] == nil {
			on[idx] = c
		}
	}
	if on[1] == nil || on[2] == nil {
		t.Fatalf("12 connections did not reach loops 1 and 2: %v", on)
	}
	release, err := server.BlockCampLoop(s)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	await := func(what string, ok func(queued int, holders uint64) bool) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for q, h := server.CampInbox(s); !ok(q, h); q, h = server.CampInbox(s) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v (inbox %d batches, holders %b)", what, waitFor, q, h)
			}
			<-time.After(time.Millisecond) // polling the inbox with a deadline
		}
	}
	on[2].send("ping\r\n")
	await("loop 2's request waits for the camp", func(q int, _ uint64) bool { return q == 1 })
	on[1].send("ping\r\n")
	await("loop 1 holds its request", func(q int, h uint64) bool { return q == 1 && h == 1<<1 })
	release()
	on[2].expectStatus(protocol.StatusOK)
	on[1].expectStatus(protocol.StatusOK)
}
