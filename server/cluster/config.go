package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the tunables that are not flags.
const (
	DefaultNodeTimeout      = 5 * time.Second
	DefaultClusterTimeout   = 2 * time.Second
	DefaultWindow           = 64
	DefaultMaxMessage       = 64 << 10
	DefaultSnapshotEvery    = 20000
	DefaultSnapshotInterval = time.Minute
	DefaultJoinTimeout      = time.Minute

	// maxName bounds cluster and node names: they become NATS subject
	// tokens, stream and bucket names, and sit in every log message.
	maxName = 64
	// lookupTimeout bounds each DNS lookup of a route host in Validate.
	lookupTimeout = 5 * time.Second
)

// Config is a node's cluster configuration. The exported fields with a flag
// are set by RegisterFlags; the rest are tunables with defaults.
type Config struct {
	// Cluster names the camp: nodes with the same name share one log.
	Cluster string
	// Node names this node; it must be unique in the cluster. It is also
	// the embedded NATS server's name.
	Node string
	// NATS lists the URLs of an external NATS system with JetStream. When
	// it is empty a NATS server is embedded.
	NATS []string
	// NATSListen is the embedded server's client address; empty: none
	// (the node talks to its server in process).
	NATSListen string
	// RouteListen is the embedded server's route address.
	RouteListen string
	// Routes lists the route addresses of all nodes; the node's own may be
	// among them.
	Routes []string
	// StoreDir is where the embedded server keeps JetStream files; empty:
	// streams are kept in memory.
	StoreDir string
	// Replicas is the stream's replica count; 0: min(3, nodes).
	Replicas int
	// NodeTimeout is how long a node may be silent before it is declared
	// down.
	NodeTimeout time.Duration
	// ClusterTimeout is how long an appended entry may wait for the log to
	// take it before it is reported failed.
	ClusterTimeout time.Duration

	// Camp describes the camp configuration that every node must share,
	// in a canonical form such as "ids=J00001-J50000 max-campers=0
	// max-body=65536". The first node records it; a node with another
	// description is refused with a *MismatchError.
	Camp string

	// Window bounds the log messages published and not yet acknowledged.
	Window int
	// MaxMessage bounds the bytes of one log message; a single larger entry
	// is sent alone.
	MaxMessage int
	// MaxEntries bounds the entries packed into one log message; 0: no
	// bound but MaxMessage. 1 turns batching off.
	MaxEntries int
	// SnapshotEvery and SnapshotInterval say when a snapshot is due: after
	// that many log messages, or that much time with any message.
	SnapshotEvery    uint64
	SnapshotInterval time.Duration
	// JoinTimeout bounds Open and Start when their context has no deadline.
	JoinTimeout time.Duration
}

// DefaultConfig returns a Config with the defaults of every flag and
// tunable; Cluster and Node are left empty.
func DefaultConfig() Config {
	return Config{
		NodeTimeout:      DefaultNodeTimeout,
		ClusterTimeout:   DefaultClusterTimeout,
		Window:           DefaultWindow,
		MaxMessage:       DefaultMaxMessage,
		SnapshotEvery:    DefaultSnapshotEvery,
		SnapshotInterval: DefaultSnapshotInterval,
		JoinTimeout:      DefaultJoinTimeout,
	}
}

// RegisterFlags defines the cluster flags of campfire serve on fs, bound to
// c. Cluster mode is on when -cluster is given.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Cluster, "cluster", c.Cluster, "run as a node of the cluster `NAME` (one camp over many nodes, ordered by NATS JetStream)")
	fs.StringVar(&c.Node, "node", c.Node, "with -cluster: this node's `NAME`, unique in the cluster")
	fs.Var((*listFlag)(&c.NATS), "nats", "with -cluster: use the external NATS system at `URL[,URL…]` instead of an embedded server")
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "with -cluster: the embedded NATS server's client address `HOST:PORT` (default: none)")
	fs.StringVar(&c.RouteListen, "nats-route-listen", c.RouteListen, "with -cluster: the embedded NATS server's route address `HOST:PORT`")
	fs.Var((*listFlag)(&c.Routes), "nats-routes", "with -cluster: route addresses of all nodes, `HOST:PORT[,…]` (this node's may be listed)")
	fs.StringVar(&c.StoreDir, "nats-store", c.StoreDir, "with -cluster: the embedded NATS server's JetStream storage `DIR` (default: memory; an external NATS keeps the log in its own files)")
	fs.Var((*replicasFlag)(&c.Replicas), "replicas", "with -cluster: stream replicas `N` (default min(3, nodes))")
	fs.DurationVar(&c.NodeTimeout, "node-timeout", c.NodeTimeout, "with -cluster: declare a node down after it has been silent this long")
	fs.DurationVar(&c.ClusterTimeout, "cluster-timeout", c.ClusterTimeout, "with -cluster: answer 503 to a change the log has not taken within this time")
}

// listFlag is a comma-separated list flag; each use adds to the list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("empty item in %q", s)
		}
		*l = append(*l, item)
	}
	return nil
}

// replicasFlag refuses a replica count below 1 at parse time: 0 in the
// Config means "default", which a user cannot ask for by writing 0.
type replicasFlag int

func (r *replicasFlag) String() string {
	if *r == 0 {
		return ""
	}
	return strconv.Itoa(int(*r))
}

func (r *replicasFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	if n < 1 {
		return errors.New("want 1 or more")
	}
	*r = replicasFlag(n)
	return nil
}

// plan is what a valid Config resolves to.
type plan struct {
	embedded bool
	nodes    int // nodes in the cluster, counting this one (embedded only)
	replicas int
	// Embedded server addresses; a zero port with a host means "pick one".
	clientHost  string
	clientPort  int
	listen      bool // the embedded server has a client port
	routeHost   string
	routePort   int
	routes      []*url.URL // without this node's own
	externalURL string     // comma-joined NATS URLs
}

// Validate checks c and says what is wrong with the first bad setting. It
// looks up the host names in Routes, so an unknown host is found here.
func (c *Config) Validate() error {
	_, err := c.resolve()
	return err
}

func (c *Config) resolve() (plan, error) {
	var p plan
	if err := checkName("-cluster", c.Cluster); err != nil {
		return p, err
	}
	if err := checkName("-node", c.Node); err != nil {
		return p, err
	}
	switch {
	case c.Replicas < 0:
		return p, fmt.Errorf("-replicas %d: want 1 or more", c.Replicas)
	case c.NodeTimeout <= 0:
		return p, fmt.Errorf("-node-timeout %v: want a positive duration", c.NodeTimeout)
	case c.ClusterTimeout <= 0:
		return p, fmt.Errorf("-cluster-timeout %v: want a positive duration", c.ClusterTimeout)
	case c.Window < 1:
		return p, fmt.Errorf("window %d: want 1 or more", c.Window)
	case c.MaxMessage < 64:
		return p, fmt.Errorf("max message %d: want 64 bytes or more", c.MaxMessage)
	case c.MaxEntries < 0:
		return p, fmt.Errorf("max entries %d: want 0 (no bound) or more", c.MaxEntries)
	case c.SnapshotEvery < 1:
		return p, fmt.Errorf("snapshot every %d: want 1 or more", c.SnapshotEvery)
	case c.SnapshotInterval <= 0:
		return p, fmt.Errorf("snapshot interval %v: want a positive duration", c.SnapshotInterval)
	case c.JoinTimeout <= 0:
		return p, fmt.Errorf("join timeout %v: want a positive duration", c.JoinTimeout)
	}
	if len(c.NATS) > 0 {
		return p, c.resolveExternal(&p)
	}
	return p, c.resolveEmbedded(&p)
}

func (c *Config) resolveExternal(p *plan) error {
	var embedded []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"-nats-listen", c.NATSListen != ""},
		{"-nats-route-listen", c.RouteListen != ""},
		{"-nats-routes", len(c.Routes) > 0},
		{"-nats-store", c.StoreDir != ""},
	} {
		if f.set {
			embedded = append(embedded, f.name)
		}
	}
	if len(embedded) > 0 {
		return fmt.Errorf("-nats: cannot be combined with %s, which configure the embedded NATS server", strings.Join(embedded, ", "))
	}
	for _, s := range c.NATS {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss" {
			return fmt.Errorf("-nats %q: want a nats://, tls://, ws:// or wss:// URL", s)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("-nats %q: no host", s)
		}
		if port := u.Port(); port != "" {
			if _, err := parsePort(port); err != nil {
				return fmt.Errorf("-nats %q: %w", s, err)
			}
		}
	}
	p.externalURL = strings.Join(c.NATS, ",")
	p.replicas = c.Replicas // 0: decided by the servers the connection discovers
	return nil
}

func (c *Config) resolveEmbedded(p *plan) error {
	p.embedded = true
	if c.NATSListen != "" {
		host, port, err := splitHostPort("-nats-listen", c.NATSListen)
		if err != nil {
			return err
		}
		p.clientHost, p.clientPort, p.listen = host, port, true
	}
	if c.RouteListen == "" && len(c.Routes) > 0 {
		return errors.New("-nats-routes: needs -nats-route-listen, the address the other nodes route to")
	}
	p.nodes = 1
	if c.RouteListen != "" {
		host, port, err := splitHostPort("-nats-route-listen", c.RouteListen)
		if err != nil {
			return err
		}
		p.routeHost, p.routePort = host, port
		self, err := localAddrs(host)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, r := range c.Routes {
			if strings.Contains(r, "://") {
				return fmt.Errorf("-nats-routes %q: want HOST:PORT, not a URL", r)
			}
			rhost, rport, err := splitHostPort("-nats-routes", r)
			if err != nil {
				return err
			}
			if rport == 0 {
				return fmt.Errorf("-nats-routes %q: want a port other than 0", r)
			}
			ips, err := lookup(rhost)
			if err != nil {
				return fmt.Errorf("-nats-routes %q: unknown host: %w", r, err)
			}
			key := net.JoinHostPort(ips[0], strconv.Itoa(rport))
			if seen[key] {
				continue
			}
			seen[key] = true
			if rport == port && self(ips) {
				continue // this node's own route address
			}
			p.routes = append(p.routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort(rhost, strconv.Itoa(rport))})
		}
		p.nodes = 1 + len(p.routes)
	}
	p.replicas = c.Replicas
	if p.replicas == 0 {
		p.replicas = min(3, p.nodes)
	}
	if p.replicas > p.nodes {
		return fmt.Errorf("-replicas %d: more than the %d nodes in -nats-routes", p.replicas, p.nodes)
	}
	return nil
}

// checkName accepts what can be a NATS subject token, a stream name and an
// object store bucket name at once.
func checkName(flagName, s string) error {
	if s == "" {
		return fmt.Errorf("%s: required in cluster mode", flagName)
	}
	if len(s) > maxName {
		return fmt.Errorf("%s %q: longer than %d bytes", flagName, s, maxName)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%s %q: want letters, digits, '-' and '_' only", flagName, s)
		}
	}
	return nil
}

func splitHostPort(flagName, s string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: want HOST:PORT", flagName, s)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: %w", flagName, s, err)
	}
	return host, port, nil
}

func parsePort(s string) (int, error) {
	port, err := strconv.Atoi(s)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("port %q: want 0 to 65535", s)
	}
	return port, nil
}

// lookup resolves host to its addresses, bounded by lookupTimeout.
func lookup(host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		addrs[i] = net.ParseIP(a).String()
	}
	return addrs, nil
}

// localAddrs returns a test for "one of these addresses is this host's
// route listener": with a wildcard listen host, any address of a local
// interface; otherwise the listen host's own addresses.
func localAddrs(listenHost string) (func(ips []string) bool, error) {
	local := map[string]bool{}
	if ip := net.ParseIP(listenHost); listenHost == "" || ip != nil && ip.IsUnspecified() {
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("-nats-route-listen: local addresses: %w", err)
		}
		for _, a := range ifaddrs {
			if n, ok := a.(*net.IPNet); ok {
				local[n.IP.String()] = true
			}
		}
	} else {
		ips, err := lookup(listenHost)
		if err != nil {
			return nil, fmt.Errorf("-nats-route-listen %q: unknown host: %w", listenHost, err)
		}
		for _, ip := range ips {
			local[ip] = true
		}
	}
	return func(ips []string) bool {
		for _, ip := range ips {
			if local[ip] {
				return true
			}
		}
		return false
	}, nil
}
