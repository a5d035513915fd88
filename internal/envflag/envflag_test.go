package envflag

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

// settings is a flag set like the serve command's, with every kind of
// flag the serve command uses.
type settings struct {
	addr     string
	httpAddr string
	idle     time.Duration
	maxConns int
	keepOpen bool
	ids      list
}

// list is a flag.Value, as the serve command's -ids is.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	if s == "" {
		return errors.New("empty list")
	}
	*l = strings.Split(s, ",")
	return nil
}

func newFlags(out *bytes.Buffer) (*flag.FlagSet, *settings) {
	s := &settings{ids: list{"J001-J384"}}
	fs := flag.NewFlagSet("campfire serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { out.WriteString("usage: campfire serve [flags]\n") }
	fs.StringVar(&s.addr, "addr", "0.0.0.0:2022", "listen address")
	fs.StringVar(&s.httpAddr, "http-addr", "127.0.0.1:2080", "side port")
	fs.DurationVar(&s.idle, "idle", 10*time.Minute, "idle time")
	fs.IntVar(&s.maxConns, "max-conns", 0, "connection cap")
	fs.BoolVar(&s.keepOpen, "echo-keep-open", false, "keep echoing")
	fs.Var(&s.ids, "ids", "id range")
	return fs, s
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    settings
		wantErr string // the error's text; empty for none
		wantOut string // what the flag set's output got
	}{
		{
			name: "defaults without environment",
			want: settings{addr: "0.0.0.0:2022", httpAddr: "127.0.0.1:2080", idle: 10 * time.Minute, ids: list{"J001-J384"}},
		},
		{
			name: "every kind of flag from the environment",
			env: map[string]string{
				"CAMPFIRE_ADDR": "127.0.0.1:3000", "CAMPFIRE_HTTP_ADDR": "127.0.0.1:3001", "CAMPFIRE_IDLE": "30s",
				"CAMPFIRE_MAX_CONNS": "100", "CAMPFIRE_ECHO_KEEP_OPEN": "true", "CAMPFIRE_IDS": "J00001-J50000",
			},
			want: settings{addr: "127.0.0.1:3000", httpAddr: "127.0.0.1:3001", idle: 30 * time.Second, maxConns: 100, keepOpen: true, ids: list{"J00001-J50000"}},
		},
		{
			name: "the command line wins",
			args: []string{"-addr", "127.0.0.1:4000", "-idle=1m", "-echo-keep-open=false"},
			env:  map[string]string{"CAMPFIRE_ADDR": "127.0.0.1:3000", "CAMPFIRE_IDLE": "not a duration", "CAMPFIRE_ECHO_KEEP_OPEN": "true", "CAMPFIRE_MAX_CONNS": "7"},
			want: settings{addr: "127.0.0.1:4000", httpAddr: "127.0.0.1:2080", idle: time.Minute, maxConns: 7, ids: list{"J001-J384"}},
		},
		{
			name: "set but empty turns a string flag off",
			env:  map[string]string{"CAMPFIRE_HTTP_ADDR": ""},
			want: settings{addr: "0.0.0.0:2022", idle: 10 * time.Minute, ids: list{"J001-J384"}},
		},
		{
			name: "other prefixes and lower case are not ours",
			env:  map[string]string{"ADDR": "x", "campfire_addr": "x", "CAMPFIRE_ADDRESS": "x", "CAMPFIRE_HTTP-ADDR": "x"},
			want: settings{addr: "0.0.0.0:2022", httpAddr: "127.0.0.1:2080", idle: 10 * time.Minute, ids: list{"J001-J384"}},
		},
		{
			name:    "bad duration",
			env:     map[string]string{"CAMPFIRE_IDLE": "ten minutes"},
			wantErr: `invalid value "ten minutes" for flag -idle from CAMPFIRE_IDLE: parse error`,
			wantOut: "invalid value \"ten minutes\" for flag -idle from CAMPFIRE_IDLE: parse error\nusage: campfire serve [flags]\n",
		},
		{
			name:    "int out of range",
			env:     map[string]string{"CAMPFIRE_MAX_CONNS": "99999999999999999999"},
			wantErr: `invalid value "99999999999999999999" for flag -max-conns from CAMPFIRE_MAX_CONNS: value out of range`,
			wantOut: "invalid value \"99999999999999999999\" for flag -max-conns from CAMPFIRE_MAX_CONNS: value out of range\nusage: campfire serve [flags]\n",
		},
		{
			name:    "bad bool",
			env:     map[string]string{"CAMPFIRE_ECHO_KEEP_OPEN": "yes please"},
			wantErr: `invalid value "yes please" for flag -echo-keep-open from CAMPFIRE_ECHO_KEEP_OPEN: parse error`,
			wantOut: "invalid value \"yes please\" for flag -echo-keep-open from CAMPFIRE_ECHO_KEEP_OPEN: parse error\nusage: campfire serve [flags]\n",
		},
		{
			name:    "a Value's own error",
			env:     map[string]string{"CAMPFIRE_IDS": ""},
			wantErr: `invalid value "" for flag -ids from CAMPFIRE_IDS: empty list`,
			wantOut: "invalid value \"\" for flag -ids from CAMPFIRE_IDS: empty list\nusage: campfire serve [flags]\n",
		},
		{
			name:    "the first bad flag in lexical order is reported",
			env:     map[string]string{"CAMPFIRE_MAX_CONNS": "x", "CAMPFIRE_IDLE": "y"},
			wantErr: `invalid value "y" for flag -idle from CAMPFIRE_IDLE: parse error`,
			wantOut: "invalid value \"y\" for flag -idle from CAMPFIRE_IDLE: parse error\nusage: campfire serve [flags]\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fs, got := newFlags(&out)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			err := FromEnv(fs, "CAMPFIRE", lookup)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("FromEnv error = %v, want %q", err, tt.wantErr)
				}
				if out.String() != tt.wantOut {
					t.Errorf("output = %q, want %q", out.String(), tt.wantOut)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if got.addr != tt.want.addr || got.httpAddr != tt.want.httpAddr || got.idle != tt.want.idle ||
				got.maxConns != tt.want.maxConns || got.keepOpen != tt.want.keepOpen || got.ids.String() != tt.want.ids.String() {
				t.Errorf("flags = %+v, want %+v", *got, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("output = %q, want none", out.String())
			}
		})
	}
}

// TestSameFormAsBadFlag checks that a bad value reads the same from the
// environment as from the command line, but for naming the variable.
func TestSameFormAsBadFlag(t *testing.T) {
	var out bytes.Buffer
	fs, _ := newFlags(&out)
	flagErr := fs.Parse([]string{"-idle", "soon"})
	fs2, _ := newFlags(&bytes.Buffer{})
	if err := fs2.Parse(nil); err != nil {
		t.Fatal(err)
	}
	envErr := FromEnv(fs2, "CAMPFIRE", func(k string) (string, bool) { return "soon", k == "CAMPFIRE_IDLE" })
	want := strings.Replace(flagErr.Error(), "-idle:", "-idle from CAMPFIRE_IDLE:", 1)
	if envErr == nil || envErr.Error() != want {
		t.Errorf("environment error %v, want %q (command line: %q)", envErr, want, flagErr)
	}
}

func TestFromEnvBeforeParse(t *testing.T) {
	fs, _ := newFlags(&bytes.Buffer{})
	if err := FromEnv(fs, "CAMPFIRE", func(string) (string, bool) { return "", false }); !errors.Is(err, ErrNotParsed) {
		t.Errorf("FromEnv before Parse = %v, want ErrNotParsed", err)
	}
}

func TestFromEnvPanicOnError(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.PanicOnError)
	fs.SetOutput(&bytes.Buffer{})
	fs.Int("n", 0, "")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("FromEnv with PanicOnError and a bad value did not panic")
		}
	}()
	_ = FromEnv(fs, "CAMPFIRE", func(string) (string, bool) { return "x", true })
}

func TestName(t *testing.T) {
	tests := []struct{ prefix, give, want string }{
		{"CAMPFIRE", "addr", "CAMPFIRE_ADDR"},
		{"CAMPFIRE", "http-addr", "CAMPFIRE_HTTP_ADDR"},
		{"CAMPFIRE", "max-conns-per-ip", "CAMPFIRE_MAX_CONNS_PER_IP"},
		{"CAMPFIRE", "log.level", "CAMPFIRE_LOG_LEVEL"},
		{"", "addr", "ADDR"},
	}
	for _, tt := range tests {
		if got := Name(tt.prefix, tt.give); got != tt.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tt.prefix, tt.give, got, tt.want)
		}
	}
}

func TestIsSet(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"default", nil, nil, false},
		{"command line", []string{"-http-addr", "127.0.0.1:9"}, nil, true},
		{"command line, same as the default", []string{"-http-addr", "127.0.0.1:2080"}, nil, true},
		{"environment", nil, map[string]string{"CAMPFIRE_HTTP_ADDR": "127.0.0.1:9"}, true},
		{"another flag", []string{"-addr", "127.0.0.1:9"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, _ := newFlags(&bytes.Buffer{})
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := FromEnv(fs, "CAMPFIRE", func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }); err != nil {
				t.Fatal(err)
			}
			if got := IsSet(fs, "http-addr"); got != tt.want {
				t.Errorf("IsSet = %v, want %v", got, tt.want)
			}
		})
	}
}
