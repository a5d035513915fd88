package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestOutputLimitHard checks the hard output limit from inside: a client
// that floods help (a big answer to a small request) and never reads never
// has more than the limit plus one reply queued before it is closed, with
// one loop and with several (where replies are in flight between loops).
func TestOutputLimitHard(t *testing.T) {
	for _, loops := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.Loops = loops
			cfg.MaxPending = 64 << 10
			cfg.SlowTimeout = 200 * time.Millisecond
			s, err := Start(cfg, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Shutdown(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
				return errors.Join(err, serr)
			}}
			nc, err := d.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			flood := []byte(strings.Repeat("help\r\n", 10000))
			deadline := time.Now().Add(20 * time.Second)
			for err == nil && time.Now().Before(deadline) {
				_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, err = nc.Write(flood)
			}
			if err == nil {
				t.Fatal("the server kept reading a client that never reads")
			}
			r := s.main.h.(*reactor[campState])
			maxReply := maxReplySize()
			peak := 0
			if err := r.forEachLoop(context.Background(), true, func(l *campLoop) { peak = max(peak, l.peak) }); err != nil {
				t.Fatal(err)
			}
			if limit := cfg.MaxPending + maxReply; peak > limit {
				t.Errorf("%d bytes were queued, want at most the limit plus one reply, %d", peak, limit)
			}
			if peak <= cfg.MaxPending/2 {
				t.Errorf("only %d bytes were ever queued: the flood did not reach the limit", peak)
			}
			t.Logf("peak queued output %d bytes, limit %d, longest reply %d", peak, cfg.MaxPending, maxReply)
		})
	}
}
