package cluster

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestFlagNames pins the flag names: tests outside this repository start
// clusters with exactly these.
func TestFlagNames(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	var got []string
	fs.VisitAll(func(f *flag.Flag) { got = append(got, f.Name) })
	want := []string{"cluster", "cluster-timeout", "nats", "nats-listen", "nats-route-listen", "nats-routes",
		"nats-store", "node", "node-timeout", "replicas"}
	if !slices.Equal(got, want) {
		t.Errorf("flags %v, want %v", got, want)
	}
}

func TestFlags(t *testing.T) {
	routes3 := []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:6222,127.0.0.1:6223,127.0.0.1:6224"}
	tests := []struct {
		name         string
		give         []string
		wantErr      string // substring of the parse or Validate error
		wantNodes    int    // embedded only
		wantReplicas int
		wantRoutes   int
	}{
		{name: "one embedded node", give: []string{}, wantNodes: 1, wantReplicas: 1},
		{name: "three embedded nodes", give: routes3, wantNodes: 3, wantReplicas: 3, wantRoutes: 2},
		{name: "own route not listed", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:6223"},
			wantNodes: 2, wantReplicas: 2, wantRoutes: 1},
		{name: "wildcard listen finds itself", give: []string{"-nats-route-listen", "0.0.0.0:6222", "-nats-routes", "127.0.0.1:6222,192.0.2.1:6222"},
			wantNodes: 2, wantReplicas: 2, wantRoutes: 1},
		{name: "five nodes, three replicas", give: []string{"-nats-route-listen", "127.0.0.1:6222",
			"-nats-routes", "127.0.0.1:6222,127.0.0.1:6223,127.0.0.1:6224,127.0.0.1:6225,127.0.0.1:6226"},
			wantNodes: 5, wantReplicas: 3, wantRoutes: 4},
		{name: "duplicate routes", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:6223,127.0.0.1:6223"},
			wantNodes: 2, wantReplicas: 2, wantRoutes: 1},
		{name: "routes given twice", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:6223", "-nats-routes", "127.0.0.1:6224"},
			wantNodes: 3, wantReplicas: 3, wantRoutes: 2},
		{name: "replicas", give: append([]string{"-replicas", "2"}, routes3...), wantNodes: 3, wantReplicas: 2, wantRoutes: 2},
		{name: "external", give: []string{"-nats", "nats://127.0.0.1:4222,tls://nats.example:4443"}},
		{name: "timeouts", give: []string{"-node-timeout", "10s", "-cluster-timeout", "500ms"}, wantNodes: 1, wantReplicas: 1},

		{name: "no cluster", give: []string{"-cluster", ""}, wantErr: "-cluster: required"},
		{name: "no node", give: []string{"-node", ""}, wantErr: "-node: required"},
		{name: "bad cluster name", give: []string{"-cluster", "camp.one"}, wantErr: `-cluster "camp.one": want letters`},
		{name: "bad node name", give: []string{"-node", "a b"}, wantErr: `-node "a b": want letters`},
		{name: "long node name", give: []string{"-node", strings.Repeat("n", 65)}, wantErr: "longer than 64"},
		{name: "replicas 0", give: []string{"-replicas", "0"}, wantErr: `invalid value "0" for flag -replicas: want 1 or more`},
		{name: "replicas not a number", give: []string{"-replicas", "three"}, wantErr: "want a whole number"},
		{name: "more replicas than nodes", give: append([]string{"-replicas", "4"}, routes3...), wantErr: "-replicas 4: more than the 3 nodes"},
		{name: "nats with embedded flags", give: []string{"-nats", "nats://127.0.0.1:4222", "-nats-routes", "127.0.0.1:6222", "-nats-store", "/tmp/x"},
			wantErr: "-nats: cannot be combined with -nats-routes, -nats-store"},
		{name: "nats with listen", give: []string{"-nats", "nats://127.0.0.1:4222", "-nats-listen", "127.0.0.1:4222"}, wantErr: "cannot be combined with -nats-listen"},
		{name: "nats not a URL", give: []string{"-nats", "127.0.0.1:4222"}, wantErr: "want a nats://"},
		{name: "nats http", give: []string{"-nats", "http://127.0.0.1:4222"}, wantErr: "want a nats://"},
		{name: "nats no host", give: []string{"-nats", "nats://:4222"}, wantErr: "no host"},
		{name: "nats bad port", give: []string{"-nats", "nats://a:99999"}, wantErr: "want 0 to 65535"},
		{name: "empty list item", give: []string{"-nats", "nats://a:4222,"}, wantErr: "empty item"},
		{name: "unknown route host", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "no-such-host.invalid:6222"},
			wantErr: `-nats-routes "no-such-host.invalid:6222": unknown host`},
		{name: "route without port", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1"}, wantErr: "want HOST:PORT"},
		{name: "route as URL", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "nats-route://127.0.0.1:6223"}, wantErr: "not a URL"},
		{name: "route port 0", give: []string{"-nats-route-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:0"}, wantErr: "other than 0"},
		{name: "routes without route listen", give: []string{"-nats-routes", "127.0.0.1:6223"}, wantErr: "needs -nats-route-listen"},
		{name: "route listen without port", give: []string{"-nats-route-listen", "127.0.0.1"}, wantErr: "-nats-route-listen \"127.0.0.1\": want HOST:PORT"},
		{name: "listen port out of range", give: []string{"-nats-listen", "127.0.0.1:70000"}, wantErr: "want 0 to 65535"},
		{name: "node timeout 0", give: []string{"-node-timeout", "0s"}, wantErr: "-node-timeout 0s: want a positive duration"},
		{name: "cluster timeout negative", give: []string{"-cluster-timeout", "-1s"}, wantErr: "-cluster-timeout -1s: want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.RegisterFlags(fs)
			args := append([]string{"-cluster", "camp", "-node", "a"}, tt.give...)
			err := fs.Parse(args)
			var p plan
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				p, err = cfg.resolve()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.nodes != tt.wantNodes || p.replicas != tt.wantReplicas || len(p.routes) != tt.wantRoutes {
				t.Errorf("nodes %d, replicas %d, routes %d; want %d, %d, %d",
					p.nodes, p.replicas, len(p.routes), tt.wantNodes, tt.wantReplicas, tt.wantRoutes)
			}
		})
	}
}
