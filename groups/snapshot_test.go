package groups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"campfire/protocol"
)

// TestSnapshotRoundTrip snapshots a camp, restores it, and plays the same
// steps against both: each must give the results in want, and both must
// end with the same digest and the same snapshot.
func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		setup []step
		more  []step
	}{
		{"empty camp", Config{}, nil, []step{
			{conn: 1, send: "checkin J001", want: []string{"200 Group: 1"}, change: "checkin J001 1"},
		}},
		{"a freed seat is taken before a new group", Config{}, with(checkins(8),
			step{conn: 6, leave: true},
			step{conn: 2, leave: true},
		), []step{
			{conn: 20, send: "checkin J020", want: []string{
				"200 Group: 1",
				"c1: JOINED J020 Group: 1",
				"c3: JOINED J020 Group: 1",
				"c4: JOINED J020 Group: 1",
			}, change: "checkin J020 1"},
			{conn: 21, send: "checkin J021", want: []string{
				"200 Group: 2",
				"c5: JOINED J021 Group: 2",
				"c7: JOINED J021 Group: 2",
				"c8: JOINED J021 Group: 2",
			}, change: "checkin J021 2"},
		}},
		{"the lowest free group number is reused", Config{}, with(checkins(12),
			step{conn: 7, leave: true}, step{conn: 5, leave: true},
			step{conn: 8, leave: true}, step{conn: 6, leave: true},
		), []step{
			{conn: 30, send: "checkin J030", want: []string{"200 Group: 2"}, change: "checkin J030 2"},
		}},
		{"an empty last group", Config{}, with(checkins(5),
			step{conn: 5, leave: true},
		), []step{
			{conn: 30, send: "checkin J030", want: []string{"200 Group: 2"}, change: "checkin J030 2"},
			{conn: 31, send: "checkin J031", want: []string{"200 Group: 2", "c30: JOINED J031 Group: 2"}, change: "checkin J031 2"},
		}},
		{"seat order after a checkout in the middle", Config{}, with(checkins(4),
			step{conn: 2, leave: true},
			step{conn: 9, send: "checkin J009"},
		), []step{
			{conn: 3, send: "peersession 2", want: []string{
				"200 Max-Count: 2",
				"c1: PEERSESSION J003 Group: 1 Max-Count: 2",
				"c3: PEERSESSION J003 Group: 1 Max-Count: 2",
				"c4: PEERSESSION J003 Group: 1 Max-Count: 2",
				"c9: PEERSESSION J003 Group: 1 Max-Count: 2",
			}},
		}},
		{"a session keeps its host and count", Config{}, with(checkins(3),
			step{conn: 2, send: "peersession 3"},
			step{conn: 1, send: "message one"},
		), []step{
			{conn: 1, send: "complete", want: []string{`403 "only J002, who started the peer session, can complete it"`}},
			{conn: 3, send: "message two", want: []string{
				"200 Remaining: 1",
				`c1: MESSAGE J003 Group: 1 "two"`,
				`c2: MESSAGE J003 Group: 1 "two"`,
			}},
			{conn: 1, send: "message three", want: []string{
				"200 Remaining: 0",
				`c2: MESSAGE J001 Group: 1 "three"`,
				`c3: MESSAGE J001 Group: 1 "three"`,
				"c1: COMPLETE J002 Group: 1 Reason: limit",
				"c2: COMPLETE J002 Group: 1 Reason: limit",
				"c3: COMPLETE J002 Group: 1 Reason: limit",
			}},
		}},
		{"the host leaving ends the session", Config{}, with(checkins(6),
			step{conn: 6, send: "peersession 9"},
		), []step{
			{conn: 6, leave: true, want: []string{
				"c5: COMPLETE J006 Group: 2 Reason: host-left",
				"c5: LEFT J006 Group: 2",
			}, change: "checkout J006 2"},
		}},
		{"Active counts from the check-in", Config{}, []step{
			{conn: 1, send: "checkin J001", at: time.Second},
		}, []step{
			{conn: 1, send: "checkout", at: 3500 * time.Millisecond, want: []string{"200 Active: 2.500"}, close: true, change: "checkout J001 1"},
		}},
		{"check-in times before 1970", Config{}, []step{
			{conn: 1, send: "checkin J001", at: -60 * 366 * 24 * time.Hour},
			{conn: 2, send: "checkin J002", at: time.Hour},
		}, []step{
			{conn: 2, send: "checkout", at: 2 * time.Hour, want: []string{"200 Active: 3600.000", "c1: LEFT J002 Group: 1"}, close: true, change: "checkout J002 1"},
		}},
		{"draining", Config{}, with(checkins(1),
			step{do: func(c *testCamp) { c.SetDraining(true) }},
		), []step{
			{conn: 2, send: "checkin J002", want: []string{`503 "server shutting down"`}},
			{conn: 1, send: "ping", want: []string{"200"}},
		}},
		{"camper limit", Config{MaxCampers: 2}, checkins(2), []step{
			{conn: 3, send: "checkin J003", want: []string{`503 "server full"`}},
		}},
		{"another id range", Config{IDs: protocol.IDRange{Letter: 'K', Digits: 5, Min: 100, Max: 99999}}, []step{
			{conn: 1, send: "checkin K99999"},
		}, []step{
			{conn: 2, send: "direct K99999 hi", want: []string{"401 \"check in first, e.g. checkin K00100\""}},
			{conn: 2, send: "checkin k00100", want: []string{"200 Group: 1", "c1: JOINED K00100 Group: 1"}, change: "checkin K00100 1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, tt.cfg, tt.setup)
			snap := c.AppendSnapshot(nil, appendIntKey)
			r, err := restoreTestCamp(tt.cfg, snap)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			checkInvariants(t, "restored", r)
			checkTwins(t, "restored", r, c)
			play(t, c, tt.more)
			play(t, r, tt.more)
			checkTwins(t, "after more steps", r, c)
		})
	}
}

// checkTwins checks that got and want have the same state: the same
// digest, snapshot, totals, and the same ids on the same connections.
func checkTwins(t *testing.T, what string, got, want *testCamp) {
	t.Helper()
	if got.Digest() != want.Digest() {
		t.Errorf("%s: digest %016x, want %016x", what, got.Digest(), want.Digest())
	}
	if g, w := got.AppendSnapshot(nil, appendIntKey), want.AppendSnapshot(nil, appendIntKey); !bytes.Equal(g, w) {
		t.Errorf("%s: snapshot\n%x\nwant\n%x", what, g, w)
	}
	if got.Len() != want.Len() || got.Groups() != want.Groups() || got.Sessions() != want.Sessions() || got.Draining() != want.Draining() {
		t.Errorf("%s: Len, Groups, Sessions, Draining = %d, %d, %d, %v; want %d, %d, %d, %v", what,
			got.Len(), got.Groups(), got.Sessions(), got.Draining(), want.Len(), want.Groups(), want.Sessions(), want.Draining())
	}
	for n := range want.conns {
		if g, w := got.camper(n), want.camper(n); g != w {
			t.Errorf("%s: c%d is %d, want %d", what, n, g, w)
		}
	}
	for n := range got.conns {
		if g := got.camper(n); g != 0 && want.camper(n) != g {
			t.Errorf("%s: c%d is %d, want %d", what, n, g, want.camper(n))
		}
	}
}

// TestSnapshotLongKeys checks keys whose length takes more than one byte,
// which AppendSnapshot moves to make room for the length.
func TestSnapshotLongKeys(t *testing.T) {
	c := newTestCamp(Config{})
	var keys []string // keys[n] is the key of connection n
	for i, n := range []int{0, 1, 127, 128, 300, 20000} {
		keys = append(keys, strings.Repeat(string(rune('a'+i)), n))
		if res := c.Handle(c.conn(i), parseRequest(t, fmt.Sprintf("checkin J%03d", i+1)), t0()); res.Change.Kind != ChangeCheckin {
			t.Fatalf("checkin %d: %s", i, res.Reply)
		}
	}
	key := func(dst []byte, p *tc) []byte { return append(dst, keys[p.n]...) }
	snap := c.AppendSnapshot([]byte("prefix"), key)
	if !bytes.HasPrefix(snap, []byte("prefix")) {
		t.Fatalf("snapshot overwrote the bytes before it")
	}
	r := newTestCamp(Config{})
	camp, err := Restore(Config{}, snap[len("prefix"):], func(b []byte) (*tc, error) {
		n := slices.Index(keys, string(b))
		if n < 0 {
			return nil, fmt.Errorf("key %.20q...: no such connection", b)
		}
		return r.conn(n), nil
	})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	r.Camp = camp
	for n, k := range keys {
		if id := r.camper(n); id != protocol.CampID(n+1) {
			t.Errorf("key of %d bytes: restored as J%03d; want J%03d", len(k), id, n+1)
		}
	}
	if r.Digest() != c.Digest() {
		t.Errorf("digest %016x, want %016x", r.Digest(), c.Digest())
	}
}

// sealed returns a snapshot of a default camp, with body after its config
// and a valid checksum: it is how the tests reach the checks that follow
// the checksum's.
func sealed(body ...byte) []byte {
	b := append([]byte("campsnap\x01J\x03\x01\x80\x03\x00"), body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func TestRestoreErrors(t *testing.T) {
	good := run(t, Config{}, with(checkins(5), step{conn: 1, send: "peersession 3"})).AppendSnapshot(nil, appendIntKey)
	flipped := bytes.Clone(good)
	flipped[20] ^= 0x10
	other := newTestCamp(Config{IDs: protocol.IDRange{Letter: 'J', Digits: 3, Min: 1, Max: 100}}).AppendSnapshot(nil, appendIntKey)
	limited := newTestCamp(Config{MaxCampers: 50}).AppendSnapshot(nil, appendIntKey)
	// One group of one camper, J001 on c1; each case changes one thing.
	const (
		campersAt = 2 // index in body of the camper count
		stepAt    = 4 // index of the first group's number step
		headAt    = 5 // index of its head byte
	)
	body := []byte{0, 1, 1, 1, 1, 0x01, 1, 0, 1, 2}
	change := func(i int, v ...byte) []byte {
		return sealed(append(append(bytes.Clone(body[:i]), v...), body[i+1:]...)...)
	}
	tests := []struct {
		name    string
		give    []byte
		key     func([]byte) (*tc, error) // nil: restoreTestCamp's
		wantErr error
		wantMsg string
	}{
		{"valid", sealed(body...), nil, nil, ""},
		{"empty", nil, nil, ErrBadSnapshot, `does not start with "campsnap"`},
		{"not a snapshot", []byte("CHECKIN J001 CAMP/1.0\r\n\r\n"), nil, ErrBadSnapshot, `does not start with "campsnap"`},
		{"magic only", []byte("campsnap"), nil, ErrBadSnapshot, "truncated after 8 bytes"},
		{"version 2", append([]byte("campsnap\x02"), good[9:]...), nil, ErrSnapshotVersion, "version 2, this build reads 1"},
		{"version 0", []byte("campsnap\x00"), nil, ErrSnapshotVersion, "version 0, this build reads 1"},
		{"no checksum", []byte("campsnap\x01abc"), nil, ErrBadSnapshot, "truncated after 12 bytes"},
		{"a flipped bit", flipped, nil, ErrBadSnapshot, "checksum"},
		{"cut short", good[:len(good)-1], nil, ErrBadSnapshot, "checksum"},
		{"another id range", other, nil, ErrConfigMismatch, "snapshot ids J001-J100, no camper limit, config ids J001-J384, no camper limit"},
		{"another camper limit", limited, nil, ErrConfigMismatch, "snapshot ids J001-J384, at most 50 campers, config ids J001-J384, no camper limit"},
		{"config truncated", sealed(), nil, ErrBadSnapshot, "draining: truncated"},
		{"draining 2", change(0, 2), nil, ErrBadSnapshot, "draining 2: above 1"},
		{"more group slots than the ids fill", sealed(0, 97, 1, 1, 1, 0x01, 1, 0, 1, 2), nil, ErrBadSnapshot, "group slots 97: above 96"},
		{"more campers than the data holds", change(campersAt, 3), nil, ErrBadSnapshot, "campers 3: above 2"},
		{"more groups than slots", sealed(0, 1, 2, 2, 1, 0x01, 1, 0, 1, 2, 1, 0x01, 2, 0, 1, 4), nil, ErrBadSnapshot, "groups 2: above 1"},
		{"a group number twice", sealed(0, 2, 2, 2, 1, 0x01, 1, 0, 1, 2, 0, 0x01, 2, 0, 1, 4), nil, ErrBadSnapshot, "group number step 0 after group 1"},
		{"a group past the slots", change(stepAt, 2), nil, ErrBadSnapshot, "group number step 2: above 1"},
		{"an empty group", change(headAt, 0x00), nil, ErrBadSnapshot, "group 1: 0 campers, want 1 to 4"},
		{"five campers", change(headAt, 0x05), nil, ErrBadSnapshot, "group 1: 5 campers, want 1 to 4"},
		{"reserved bits", change(headAt, 0x41), nil, ErrBadSnapshot, "group 1: head 0x41 has reserved bits set"},
		{"a host but no session", change(headAt, 0x11), nil, ErrBadSnapshot, "group 1: head 0x11 has a host but no session"},
		{"a host outside the group", change(headAt, 0x19, 3, 3), nil, ErrBadSnapshot, "group 1: host in seat 2 of 1"},
		{"session cap 0", change(headAt, 0x09, 0, 0), nil, ErrBadSnapshot, "group 1: session of 0 with 0 messages left"},
		{"session cap too high", change(headAt, 0x09, 0xc1, 0x84, 0x3d, 1), nil, ErrBadSnapshot, "session cap 1000001: above 1000000"},
		{"no messages left", change(headAt, 0x09, 3, 0), nil, ErrBadSnapshot, "group 1: session of 3 with 0 messages left"},
		{"more left than the cap", change(headAt, 0x09, 3, 4), nil, ErrBadSnapshot, "session remaining 4: above 3"},
		{"id 0", change(6, 0), nil, ErrBadSnapshot, "group 1: id 0 below J001"},
		{"id above the range", change(6, 0x81, 0x03), nil, ErrBadSnapshot, "camp id 385: above 384"},
		{"id not in its shortest form", change(6, 0x81, 0x00), nil, ErrBadSnapshot, "camp id: varint not in its shortest form"},
		{"varint past 64 bits", change(7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), nil, ErrBadSnapshot, "check-in time: varint overflows 64 bits"},
		{"key cut short", change(8, 2), nil, ErrBadSnapshot, "key: truncated"},
		{"a key refused", sealed(body...), func([]byte) (*tc, error) { return nil, errors.New("node 7 unknown") }, ErrBadSnapshot, "key of J001: node 7 unknown"},
		{"an id twice", sealed(0, 1, 2, 1, 1, 0x02, 1, 0, 1, 2, 1, 0, 1, 4), nil, ErrBadSnapshot, "group 1: J001 already in group 1"},
		{"a connection twice", sealed(0, 1, 2, 1, 1, 0x02, 1, 0, 1, 2, 2, 0, 1, 2), nil, ErrBadSnapshot, "group 1: J002 has the connection of J001"},
		{"fewer campers than the header says", sealed(0, 1, 2, 1, 1, 0x01, 1, 0, 1, 2, 0), nil, ErrBadSnapshot, "1 campers in the groups, header says 2"},
		{"bytes after the last group", sealed(append(bytes.Clone(body), 0)...), nil, ErrBadSnapshot, "1 bytes after the last group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := restoreTestCamp(Config{}, tt.give)
			if tt.key != nil {
				var camp *Camp[*tc]
				camp, err = Restore(Config{}, tt.give, tt.key)
				c = nil
				if camp != nil {
					c = &testCamp{Camp: camp, conns: map[int]*tc{}}
				}
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Restore: %v", err)
				}
				checkInvariants(t, tt.name, c)
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Restore = %v, want an error wrapping %q and saying %q", err, tt.wantErr, tt.wantMsg)
			}
			if c != nil {
				t.Errorf("Restore returned a camp with its error")
			}
		})
	}
}

func TestDigest(t *testing.T) {
	// base leaves J002, J003, J004 in group 1 and J005, J006 in group 2,
	// where J005 hosts a session of 5 with 4 messages left.
	base := with(checkins(6),
		step{conn: 5, send: "peersession 5"},
		step{conn: 5, send: "message hi"},
		step{conn: 1, leave: true},
	)
	session := base[len(base)-3:]
	tests := []struct {
		name string
		give []step
		same bool // the same state as base, reached another way
	}{
		{"the same steps", base, true},
		{"other connections", []step{
			{conn: 11, send: "checkin J001"}, {conn: 12, send: "checkin J002"},
			{conn: 13, send: "checkin J003"}, {conn: 14, send: "checkin J004"},
			{conn: 15, send: "checkin J005"}, {conn: 16, send: "checkin J006"},
			{conn: 15, send: "peersession 5"}, {conn: 15, send: "message hi"},
			{conn: 11, leave: true},
		}, true},
		{"an empty group above the rest", with(base,
			step{conn: 7, send: "checkin J007"}, step{conn: 8, send: "checkin J008"},
			step{conn: 9, send: "checkin J009"}, step{conn: 10, send: "checkin J010"},
			step{conn: 10, leave: true}, step{conn: 9, leave: true},
			step{conn: 8, leave: true}, step{conn: 7, leave: true},
		), true},
		{"a later leave", with(base[:len(base)-1],
			step{conn: 1, leave: true, at: time.Nanosecond},
		), true},
		{"draining and back", with(base,
			step{do: func(c *testCamp) { c.SetDraining(true) }},
			step{do: func(c *testCamp) { c.SetDraining(false) }},
		), true},
		{"another check-in time", with(base[:5], append([]step{{conn: 6, send: "checkin J006", at: time.Nanosecond}}, session...)...), false},
		{"seats swapped", with(base[:4], append([]step{{conn: 6, send: "checkin J006"}, {conn: 5, send: "checkin J005"}}, session...)...), false},
		{"another id", with(base[:5], append([]step{{conn: 6, send: "checkin J007"}}, session...)...), false},
		{"no session", with(base, step{conn: 5, send: "complete"}), false},
		{"another message count", with(base, step{conn: 6, send: "message again"}), false},
		{"another cap", with(base[:6], step{conn: 5, send: "peersession 4"}, step{conn: 1, leave: true}), false},
		{"another host", with(base[:6], step{conn: 6, send: "peersession 5"}, step{conn: 6, send: "message hi"}, step{conn: 1, leave: true}), false},
		{"another group number", with(checkins(4),
			step{conn: 7, send: "checkin J007"}, step{conn: 8, send: "checkin J008"},
			step{conn: 9, send: "checkin J009"}, step{conn: 10, send: "checkin J010"},
			step{conn: 5, send: "checkin J005"}, step{conn: 6, send: "checkin J006"},
			step{conn: 7, leave: true}, step{conn: 8, leave: true},
			step{conn: 9, leave: true}, step{conn: 10, leave: true},
			session[0], session[1], session[2],
		), false},
		{"draining", with(base, step{do: func(c *testCamp) { c.SetDraining(true) }}), false},
	}
	want := run(t, Config{}, base).Digest()
	if empty := newTestCamp(Config{}).Digest(); empty == want {
		t.Fatalf("the empty camp has the digest of base, %016x", want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Config{}, tt.give).Digest()
			if (got == want) != tt.same {
				t.Errorf("digest %016x, base %016x; want equal: %v", got, want, tt.same)
			}
		})
	}
}

// FuzzRestore feeds Restore arbitrary bytes, as they are and with their
// checksum set right, so that the fuzzer reaches the decoding behind it.
// Restore must not panic, and a camp it returns must be whole and give
// back the very bytes it came from.
func FuzzRestore(f *testing.F) {
	cfg := Config{IDs: protocol.IDRange{Letter: 'J', Digits: 1, Min: 1, Max: 9}}
	for _, steps := range [][]step{
		nil,
		{{conn: 1, send: "checkin J1"}},
		{{conn: 1, send: "checkin J1"}, {conn: 2, send: "checkin J2"}, {conn: 3, send: "checkin J3"},
			{conn: 4, send: "checkin J4"}, {conn: 5, send: "checkin J5"}, {conn: 3, send: "peersession 3"},
			{conn: 3, send: "message x"}, {conn: 1, leave: true}},
		{{conn: 1, send: "checkin J1"}, {conn: 2, send: "checkin J2"}, {conn: 3, send: "checkin J3"},
			{conn: 4, send: "checkin J4"}, {conn: 5, send: "checkin J5"}, {conn: 5, leave: true},
			{do: func(c *testCamp) { c.SetDraining(true) }}},
	} {
		c := newTestCamp(cfg)
		play(f, c, steps)
		f.Add(c.AppendSnapshot(nil, appendIntKey))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resealed := bytes.Clone(data)
		if len(resealed) >= 4 {
			end := len(resealed) - 4
			binary.LittleEndian.PutUint32(resealed[end:], crc32.Checksum(resealed[:end], crc32.MakeTable(crc32.Castagnoli)))
		}
		for _, give := range [][]byte{data, resealed} {
			c, err := restoreTestCamp(cfg, give)
			if err != nil {
				if c != nil || !(errors.Is(err, ErrBadSnapshot) || errors.Is(err, ErrSnapshotVersion) || errors.Is(err, ErrConfigMismatch)) {
					t.Fatalf("Restore = %v, %v", c, err)
				}
				continue
			}
			checkInvariants(t, "restored", c)
			if again := c.AppendSnapshot(nil, appendIntKey); !bytes.Equal(again, give) {
				t.Fatalf("restored from\n%x\nit snapshots as\n%x", give, again)
			}
		}
	})
}
