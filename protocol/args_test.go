package protocol_test

import (
	"errors"
	"flag"
	"io"
	"math"
	"strings"
	"testing"

	"campfire/protocol"
)

// request parses raw, which must hold one whole request frame, and splits it.
func request(t *testing.T, raw string) protocol.Request {
	t.Helper()
	var p protocol.Parser
	var f protocol.Frame
	n, ok, err := p.Parse([]byte(raw), &f)
	if err != nil || !ok || n != len(raw) {
		t.Fatalf("Parse(%q) = %d, %v, %v; want one whole frame", raw, n, ok, err)
	}
	return f.Request()
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		give    string // a whole request frame
		want    protocol.Command
		wantErr bool
	}{
		{name: "checkin", give: "checkin J004\n", want: protocol.Command{ID: 4}},
		{name: "checkin lower-case id", give: "checkin j004\n", want: protocol.Command{ID: 4}},
		{name: "checkin upper-case method", give: "CHECKIN J384\n", want: protocol.Command{ID: 384}},
		{name: "checkin lowest", give: "checkin J001\n", want: protocol.Command{ID: 1}},
		{name: "checkin full form", give: "CHECKIN J004 CAMP/1.0\r\nId: 17\r\n\r\n", want: protocol.Command{ID: 4}},
		{name: "checkin above the range", give: "checkin J385\n", wantErr: true},
		{name: "checkin below the range", give: "checkin J000\n", wantErr: true},
		{name: "checkin short id", give: "checkin J04\n", wantErr: true},
		{name: "checkin long id", give: "checkin J0004\n", wantErr: true},
		{name: "checkin other letter", give: "checkin K004\n", wantErr: true},
		{name: "checkin letters for digits", give: "checkin J00x\n", wantErr: true},
		{name: "checkin signed id", give: "checkin J+04\n", wantErr: true},
		{name: "checkin no id", give: "checkin\n", wantErr: true},
		{name: "checkin two ids", give: "checkin J004 J005\n", wantErr: true},

		{name: "mission number", give: "mission 4\n", want: protocol.Command{Day: 4}},
		{name: "mission day4", give: "mission day4\n", want: protocol.Command{Day: 4}},
		{name: "mission Day 4", give: "mission Day 4\n", want: protocol.Command{Day: 4}},
		{name: "mission DAY4", give: "MISSION DAY4\n", want: protocol.Command{Day: 4}},
		{name: "mission day tab 19", give: "mission day\t19\n", want: protocol.Command{Day: 19}},
		{name: "mission plus sign", give: "mission +4\n", want: protocol.Command{Day: 4}},
		{name: "mission negative", give: "mission -3\n", want: protocol.Command{Day: -3}},
		{name: "mission zero", give: "mission 0\n", want: protocol.Command{Day: 0}},
		{name: "mission leading zeros", give: "mission 004\n", want: protocol.Command{Day: 4}},
		{name: "mission max int", give: "mission 9223372036854775807\n", want: protocol.Command{Day: math.MaxInt}},
		{name: "mission huge integer", give: "mission 99999999999999999999999\n", want: protocol.Command{Day: math.MaxInt}},
		{name: "mission full form", give: "MISSION day4 CAMP/1.0\r\n\r\n", want: protocol.Command{Day: 4}},
		{name: "mission word", give: "mission x\n", wantErr: true},
		{name: "mission no day", give: "mission\n", wantErr: true},
		{name: "mission day alone", give: "mission day\n", wantErr: true},
		{name: "mission fraction", give: "mission 4.5\n", wantErr: true},
		{name: "mission two numbers", give: "mission 4 5\n", wantErr: true},
		{name: "mission sign alone", give: "mission -\n", wantErr: true},
		{name: "mission daytime", give: "mission daytime\n", wantErr: true},

		{name: "peersession number", give: "peersession 3\n", want: protocol.Command{Max: 3}},
		{name: "peersession maxCount=3", give: "peersession maxCount=3\n", want: protocol.Command{Max: 3}},
		{name: "peersession maxcount = 3", give: "peersession maxcount = 3\n", want: protocol.Command{Max: 3}},
		{name: "peersession MAXCOUNT=1000000", give: "PEERSESSION MAXCOUNT=1000000\n", want: protocol.Command{Max: protocol.MaxPeerSession}},
		{name: "peersession one", give: "peersession 1\n", want: protocol.Command{Max: 1}},
		{name: "peersession zero", give: "peersession 0\n", wantErr: true},
		{name: "peersession over the cap", give: "peersession 1000001\n", wantErr: true},
		{name: "peersession huge", give: "peersession 99999999999999999999999\n", wantErr: true},
		{name: "peersession word", give: "peersession abc\n", wantErr: true},
		{name: "peersession negative", give: "peersession -1\n", wantErr: true},
		{name: "peersession none", give: "peersession\n", wantErr: true},
		{name: "peersession other key", give: "peersession max=3\n", wantErr: true},
		{name: "peersession empty value", give: "peersession maxCount=\n", wantErr: true},
		{name: "peersession zero value", give: "peersession maxCount=0\n", wantErr: true},

		{name: "message trimmed", give: "message  hello all  \n", want: protocol.Command{Text: []byte("hello all")}},
		{name: "message one word", give: "MESSAGE hi\r\n", want: protocol.Command{Text: []byte("hi")}},
		{name: "message full form body", give: "MESSAGE CAMP/1.0\r\nContent-Length: 10\r\n\r\nhello\r\nall", want: protocol.Command{Text: []byte("hello\r\nall")}},
		{name: "message full form body kept as is", give: "MESSAGE CAMP/1.0\r\nContent-Length: 3\r\n\r\n a ", want: protocol.Command{Text: []byte(" a ")}},
		{name: "message empty", give: "message\n", wantErr: true},
		{name: "message blank", give: "message   \t \n", wantErr: true},
		{name: "message full form without body", give: "MESSAGE CAMP/1.0\r\n\r\n", wantErr: true},
		{name: "message full form text on the start line", give: "MESSAGE hi CAMP/1.0\r\n\r\n", wantErr: true},
		{name: "message full form text on the start line and body", give: "MESSAGE hi CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi", wantErr: true},

		{name: "direct", give: "direct J005 hi\n", want: protocol.Command{ID: 5, Text: []byte("hi")}},
		{name: "direct to", give: "direct to J005 hi there \n", want: protocol.Command{ID: 5, Text: []byte("hi there")}},
		{name: "direct TO lower-case id", give: "DIRECT TO j005 hi\n", want: protocol.Command{ID: 5, Text: []byte("hi")}},
		{name: "direct text to", give: "direct J005 to\n", want: protocol.Command{ID: 5, Text: []byte("to")}},
		{name: "direct to to", give: "direct to J005 to\n", want: protocol.Command{ID: 5, Text: []byte("to")}},
		{name: "direct full form", give: "DIRECT J005 CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi", want: protocol.Command{ID: 5, Text: []byte("hi")}},
		{name: "direct to full form", give: "DIRECT to J005 CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi", want: protocol.Command{ID: 5, Text: []byte("hi")}},
		{name: "direct to alone", give: "direct to\n", wantErr: true},
		{name: "direct to id", give: "direct to J005\n", wantErr: true},
		{name: "direct to to alone", give: "direct to to\n", wantErr: true},
		{name: "direct id alone", give: "direct J005\n", wantErr: true},
		{name: "direct nothing", give: "direct\n", wantErr: true},
		{name: "direct bad id", give: "direct X005 hi\n", wantErr: true},
		{name: "direct out-of-range id", give: "direct J999 hi\n", wantErr: true},
		{name: "direct full form without body", give: "DIRECT J005 CAMP/1.0\r\n\r\n", wantErr: true},
		{name: "direct full form text on the start line", give: "DIRECT J005 hi CAMP/1.0\r\nContent-Length: 2\r\n\r\nhi", wantErr: true},

		{name: "checkout", give: "checkout\n"},
		{name: "complete", give: "COMPLETE\n"},
		{name: "ping", give: "Ping\n"},
		{name: "help", give: "help\n"},
		{name: "ping full form", give: "PING CAMP/1.0\r\nId: 1\r\n\r\n"},
		{name: "checkout with args", give: "checkout now\n", wantErr: true},
		{name: "complete with args", give: "complete 1\n", wantErr: true},
		{name: "ping with args", give: "ping pong\n", wantErr: true},
		{name: "help with args", give: "help me\n", wantErr: true},
		{name: "ping with lower-case version", give: "ping camp/1.0\n", wantErr: true},
		{name: "unknown method", give: "frobnicate\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, tt.give)
			got, err := protocol.ParseArgs(&r, protocol.DefaultIDs())
			if tt.wantErr {
				if !errors.Is(err, protocol.ErrBadArgs) {
					t.Fatalf("ParseArgs = %+v, %v; want an error wrapping ErrBadArgs", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseArgs: %v", err)
			}
			if got.ID != tt.want.ID || got.Day != tt.want.Day || got.Max != tt.want.Max || string(got.Text) != string(tt.want.Text) {
				t.Errorf("ParseArgs = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseArgsOtherRange(t *testing.T) {
	ids, err := protocol.ParseIDRange("J00001-J50000")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give    string
		want    protocol.CampID
		wantErr bool
	}{
		{give: "checkin J00001\n", want: 1},
		{give: "checkin j50000\n", want: 50000},
		{give: "checkin J50001\n", wantErr: true},
		{give: "checkin J004\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.give), func(t *testing.T) {
			r := request(t, tt.give)
			got, err := protocol.ParseArgs(&r, ids)
			if (err != nil) != tt.wantErr || got.ID != tt.want {
				t.Errorf("ParseArgs = %+v, %v; want ID %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseIDRange(t *testing.T) {
	tests := []struct {
		give    string
		want    protocol.IDRange
		wantErr bool
	}{
		{give: "J001-J384", want: protocol.DefaultIDs()},
		{give: "J00001-J50000", want: protocol.IDRange{Letter: 'J', Digits: 5, Min: 1, Max: 50000}},
		{give: "j001-j384", want: protocol.DefaultIDs()},
		{give: "A0-A9", want: protocol.IDRange{Letter: 'A', Digits: 1, Min: 0, Max: 9}},
		{give: "Z000000001-Z999999999", want: protocol.IDRange{Letter: 'Z', Digits: 9, Min: 1, Max: 999999999}},
		{give: "J005-J005", want: protocol.IDRange{Letter: 'J', Digits: 3, Min: 5, Max: 5}},
		{give: "", wantErr: true},
		{give: "J001", wantErr: true},
		{give: "J001-", wantErr: true},
		{give: "J-J", wantErr: true},
		{give: "J01-J384", wantErr: true},
		{give: "J001-K384", wantErr: true},
		{give: "1001-1384", wantErr: true},
		{give: "J384-J001", wantErr: true},
		{give: "J0a1-J384", wantErr: true},
		{give: "J001-J38x", wantErr: true},
		{give: "J0000000001-J0000000002", wantErr: true},
		{give: "J001-J384-J999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := protocol.ParseIDRange(tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseIDRange(%q) = %+v, %v; want error %v", tt.give, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseIDRange(%q) = %+v, want %+v", tt.give, got, tt.want)
			}
		})
	}
}

func TestIDRangeFormat(t *testing.T) {
	big := protocol.IDRange{Letter: 'J', Digits: 5, Min: 1, Max: 50000}
	tests := []struct {
		name string
		r    protocol.IDRange
		give protocol.CampID
		want string
	}{
		{name: "padded", r: protocol.DefaultIDs(), give: 4, want: "J004"},
		{name: "two digits", r: protocol.DefaultIDs(), give: 42, want: "J042"},
		{name: "full width", r: protocol.DefaultIDs(), give: 384, want: "J384"},
		{name: "wide padded", r: big, give: 7, want: "J00007"},
		{name: "wide full", r: big, give: 50000, want: "J50000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Format(tt.give); got != tt.want {
				t.Errorf("Format(%d) = %q, want %q", tt.give, got, tt.want)
			}
			if got := string(tt.r.Append([]byte("id="), tt.give)); got != "id="+tt.want {
				t.Errorf("Append(%d) = %q, want %q", tt.give, got, "id="+tt.want)
			}
			if id, err := tt.r.Parse([]byte(strings.ToLower(tt.want))); err != nil || id != tt.give {
				t.Errorf("Parse(lower %q) = %d, %v; want %d", tt.want, id, err, tt.give)
			}
		})
	}
	if got := big.String(); got != "J00001-J50000" {
		t.Errorf("String() = %q", got)
	}
	if got := protocol.DefaultIDs().String(); got != "J001-J384" {
		t.Errorf("String() = %q", got)
	}
	if got := protocol.DefaultIDs().Size(); got != 384 {
		t.Errorf("Size() = %d, want 384", got)
	}
	if got := big.Size(); got != 50000 {
		t.Errorf("Size() = %d, want 50000", got)
	}
}

func TestIDRangeParse(t *testing.T) {
	tests := []struct {
		give    string
		want    protocol.CampID
		wantErr bool
	}{
		{give: "J004", want: 4},
		{give: "j004", want: 4},
		{give: "J001", want: 1},
		{give: "J384", want: 384},
		{give: "J000", wantErr: true},
		{give: "J385", wantErr: true},
		{give: "J999", wantErr: true},
		{give: "J04", wantErr: true},
		{give: "J0004", wantErr: true},
		{give: "K004", wantErr: true},
		{give: "J-04", wantErr: true},
		{give: "J 04", wantErr: true},
		{give: "004", wantErr: true},
		{give: "", wantErr: true},
		{give: "JJ04", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := protocol.DefaultIDs().Parse([]byte(tt.give))
			if tt.wantErr {
				if !errors.Is(err, protocol.ErrBadArgs) {
					t.Errorf("Parse(%q) = %d, %v; want an error wrapping ErrBadArgs", tt.give, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %d, %v; want %d", tt.give, got, err, tt.want)
			}
		})
	}
}

// TestIDRangeFlag checks that *IDRange works as a flag.Value.
func TestIDRangeFlag(t *testing.T) {
	tests := []struct {
		give    string
		want    string
		wantErr bool
	}{
		{give: "J00001-J50000", want: "J00001-J50000"},
		{give: "k1-k9", want: "K1-K9"},
		{give: "Q1", want: "J001-J384", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			ids := protocol.DefaultIDs()
			fs.Var(&ids, "ids", "")
			err := fs.Parse([]string{"-ids", tt.give})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(-ids %s) error %v, want error %v", tt.give, err, tt.wantErr)
			}
			if ids.String() != tt.want {
				t.Errorf("ids = %s, want %s", ids, tt.want)
			}
		})
	}
	if got := (protocol.IDRange{}).String(); got != "" {
		t.Errorf("zero IDRange String() = %q, want empty", got)
	}
}
