package tlsflag_test

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"campfire/internal/tlsflag"
	"campfire/internal/tlstest"
)

func TestFlags(t *testing.T) {
	ca := tlstest.NewCA(t, "campfire test CA")
	caFile := tlstest.WriteFile(t, "ca.pem", ca.PEM)
	notPEM := tlstest.WriteFile(t, "ca.txt", []byte("not a certificate\n"))
	tests := []struct {
		name         string
		args         []string
		wantErr      string // "" for none
		wantTLS      bool
		wantRoots    bool
		wantInsecure bool
	}{
		{name: "off", args: nil},
		{name: "system roots", args: []string{"-tls"}, wantTLS: true},
		{name: "private CA", args: []string{"-tls", "-tls-ca", caFile}, wantTLS: true, wantRoots: true},
		{name: "insecure", args: []string{"-tls", "-tls-insecure"}, wantTLS: true, wantInsecure: true},
		{name: "CA without -tls", args: []string{"-tls-ca", caFile}, wantErr: "-tls-ca needs -tls"},
		{name: "insecure without -tls", args: []string{"-tls-insecure"}, wantErr: "-tls-insecure needs -tls"},
		{name: "CA and insecure", args: []string{"-tls", "-tls-ca", caFile, "-tls-insecure"}, wantErr: "do not go together"},
		{name: "missing CA file", args: []string{"-tls", "-tls-ca", caFile + ".gone"}, wantErr: "no such file"},
		{name: "CA file without PEM", args: []string{"-tls", "-tls-ca", notPEM}, wantErr: "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f tlsflag.Flags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.Config()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Config error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			if (cfg != nil) != tt.wantTLS {
				t.Fatalf("Config = %v, want TLS %v", cfg, tt.wantTLS)
			}
			if cfg == nil {
				return
			}
			if cfg.ServerName != "" {
				t.Errorf("ServerName = %q, want empty (taken from each address)", cfg.ServerName)
			}
			if (cfg.RootCAs != nil) != tt.wantRoots || cfg.InsecureSkipVerify != tt.wantInsecure {
				t.Errorf("RootCAs set %v, InsecureSkipVerify %v; want %v, %v", cfg.RootCAs != nil, cfg.InsecureSkipVerify, tt.wantRoots, tt.wantInsecure)
			}
		})
	}
}

func TestWarn(t *testing.T) {
	tests := []struct {
		give tlsflag.Flags
		want string
	}{
		{tlsflag.Flags{On: true, Insecure: true}, tlsflag.Warning + "\n"},
		{tlsflag.Flags{On: true}, ""},
		{tlsflag.Flags{}, ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		tt.give.Warn(&b)
		if b.String() != tt.want {
			t.Errorf("%+v: Warn wrote %q, want %q", tt.give, b.String(), tt.want)
		}
	}
}
