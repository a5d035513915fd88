package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
)

func TestCheckIDs(t *testing.T) {
	addr := startCampfire(t, false) // ids J00001-J00100
	ids := func(s string) protocol.IDRange {
		r, err := protocol.ParseIDRange(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name      string
		scenario  Scenario
		ids       string
		conns     int
		wantID    string // the refused id; "" for no refusal
		wantTried string
	}{
		{name: "the server's range", scenario: ScenarioPeers, ids: testIDs, conns: 100},
		{name: "part of the server's range", scenario: ScenarioCheckin, ids: "J00050-J00999", conns: 51},
		{name: "serve's default range", scenario: ScenarioPeers, ids: "J001-J384", conns: 384, wantID: "J001", wantTried: "J001-J384"},
		{name: "past the end", scenario: ScenarioCheckin, ids: "J00001-J50000", conns: 101, wantID: "J00101", wantTried: "J00001-J00101"},
		{name: "one id", scenario: ScenarioPeers, ids: "J00101-J00200", conns: 1, wantID: "J00101", wantTried: "J00101-J00101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Addr: addr, Scenario: tt.scenario, Conns: tt.conns, IDs: ids(tt.ids)}
			err := CheckIDs(context.Background(), cfg)
			if tt.wantID == "" {
				if err != nil {
					t.Fatalf("CheckIDs: %v", err)
				}
				return
			}
			var ire *IDRangeError
			if !errors.As(err, &ire) {
				t.Fatalf("CheckIDs = %v, want an *IDRangeError", err)
			}
			if ire.ID != tt.wantID || ire.Tried.String() != tt.wantTried || ire.IDs.String() != tt.ids {
				t.Errorf("refused %s, tried %s, -ids %s; want %s, %s, %s", ire.ID, ire.Tried, ire.IDs, tt.wantID, tt.wantTried, tt.ids)
			}
			if !strings.Contains(ire.Message, "J00001-J00100") {
				t.Errorf("message %q does not name the server's range", ire.Message)
			}
		})
	}
	// Several servers (-addr A,B,C, the nodes of one camp): the first is
	// asked, the others are not dialled.
	t.Run("several servers", func(t *testing.T) {
		cfg := Config{Addr: addr + ",127.0.0.1:1", Scenario: ScenarioCheckin, IDs: ids("J00001-J50000"), Conns: 101}
		var ire *IDRangeError
		if err := CheckIDs(context.Background(), cfg); !errors.As(err, &ire) || ire.ID != "J00101" {
			t.Fatalf("CheckIDs(%s) = %v, want J00101 refused by the first server", cfg.Addr, err)
		}
	})
	// The probes checked out: every id is free for the run.
	cfg := shortRun(t, addr, ScenarioPeers)
	cfg.Conns = 100
	if err := CheckIDs(context.Background(), cfg); err != nil {
		t.Fatalf("after the probes: %v", err)
	}
}

func TestCheckIDsNoServer(t *testing.T) {
	// A port that was just free: nothing listens on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tests := []struct {
		name     string
		scenario Scenario
		wantErr  bool
	}{
		{"peers dials", ScenarioPeers, true},
		{"echo checks no ids", ScenarioEcho, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIDs(context.Background(), Config{Addr: addr, Scenario: tt.scenario, Conns: 4, IDs: protocol.DefaultIDs()})
			var ire *IDRangeError
			if (err != nil) != tt.wantErr || errors.As(err, &ire) {
				t.Errorf("CheckIDs = %v, want an error: %v (not an *IDRangeError)", err, tt.wantErr)
			}
		})
	}
}

// TestMainStopsOnIDRange runs the command with serve's default ids against
// a server with another range: it must stop before the run (whose window
// would be a minute), naming the range it tried and -ids.
func TestMainStopsOnIDRange(t *testing.T) {
	addr := startCampfire(t, false)
	var stdout, stderr bytes.Buffer
	args := []string{"-addr", addr, "-sources", "", "-conns", "8", "-duration", "1m"}
	exit := make(chan int, 1)
	go func() { exit <- Main(args, &stdout, &stderr) }()
	select {
	case code := <-exit:
		if code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bench did not stop on check-ins refused with 400")
	}
	want := `campfire bench: the server answered checkin J001 with 400 (bad arguments: "J001" is not a camp id in J00001-J00100): ` +
		"this run checks in J001-J008 (-ids J001-J384); give -ids the server's range\n" +
		"run 'campfire bench -h' for its flags\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout: %s", stdout.String())
	}
}
