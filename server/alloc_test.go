package server

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"campfire/protocol"
	"campfire/server/metrics"
)

// TestMessageAllocs checks that a peer-session message allocates nothing
// on the server's side with metrics on: the request handed to the carrier,
// applied to the camp, its reply and three events routed, counted and
// queued. (Parsing has its own test in protocol; the write is gnet's.)
func TestMessageAllocs(t *testing.T) {
	m, err := metrics.New(metrics.Config{CloseReasons: CloseReasons()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Metrics = m
	if err := cfg.validate(1024); err != nil {
		t.Fatal(err)
	}
	s := newCampService(cfg, zap.NewNop())
	l := &campLoop{r: s.r, idx: 0}
	s.r.onLoop(l)
	now := time.Now()
	request := func(c *campConn, line string) {
		var p protocol.Parser
		var f protocol.Frame
		if _, ok, err := p.Parse([]byte(line), &f); !ok || err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		s.submit(l, command{kind: cmdRequest, c: c, req: f.Request(), parsed: now.UnixNano()}, now)
	}
	drop := func() { // what flush does after writing
		for _, c := range l.dirty {
			l.recycle(c.out)
			c.out, c.dirty = nil, false
		}
		l.dirty = l.dirty[:0]
	}
	cs := make([]*campConn, 4)
	for i := range cs {
		cs[i] = &campConn{state: stateOpen}
		request(cs[i], "checkin J00"+string(rune('1'+i))+"\r\n")
	}
	request(cs[0], "peersession 1000000\r\n")
	drop()
	var p protocol.Parser
	var f protocol.Frame
	line := []byte("message hello, all of you\r\n")
	allocs := testing.AllocsPerRun(1000, func() {
		p.Parse(line, &f)
		s.submit(l, command{kind: cmdRequest, c: cs[0], req: f.Request(), parsed: now.UnixNano()}, now)
		drop()
	})
	if allocs != 0 {
		t.Errorf("a message allocates %v times, want 0", allocs)
	}
	if s.core.messages < 1000 {
		t.Errorf("%d messages answered 200, want at least 1000", s.core.messages)
	}
}
