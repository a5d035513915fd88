package tlstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// validity is how long the certificates are valid, from a minute ago (a
// clock a little behind must not find them not yet valid).
const validity = time.Hour

// CA is a private certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA's certificate, PEM-encoded: what a client trusts.
	PEM []byte
}

// NewCA makes a CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("tlstest: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("tlstest: CA certificate: %v", err)
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Pool returns a certificate pool that holds the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Leaf is a server certificate and its key.
type Leaf struct {
	// TLS is the certificate for a crypto/tls server.
	TLS tls.Certificate
	// CertPEM and KeyPEM are the certificate and its key, PEM-encoded.
	CertPEM, KeyPEM []byte
}

// Issue issues a server certificate for hosts: DNS names or IP addresses.
func (ca *CA) Issue(t testing.TB, hosts ...string) Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("tlstest: server certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("tlstest: server key: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("tlstest: key pair: %v", err)
	}
	return Leaf{TLS: cert, CertPEM: certPEM, KeyPEM: keyPEM}
}

// WriteFile writes the concatenation of parts to name in a directory of
// the test's own, readable by the user only, and returns its path.
func WriteFile(t testing.TB, name string, parts ...[]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	return path
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("tlstest: key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("tlstest: serial: %v", err)
	}
	return n
}

// handshakeTimeout bounds a relay's TLS handshake.
const handshakeTimeout = 5 * time.Second

// Relay accepts TLS connections on a loopback port and forwards each, in
// plain TCP, to a backend: a TLS-terminating proxy without the PROXY
// header. It stops when the test ends.
type Relay struct {
	ln      net.Listener
	backend string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// StartRelay starts a relay serving cert in front of backend.
func StartRelay(t testing.TB, cert tls.Certificate, backend string) *Relay {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("tlstest: relay: %v", err)
	}
	r := &Relay{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	r.wg.Go(r.accept)
	t.Cleanup(r.close)
	return r
}

// Addr returns the relay's address, HOST:PORT.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

func (r *Relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Go(func() { r.forward(c.(*tls.Conn)) })
	}
}

// track adds c to the open connections, unless the relay is closing.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// forward copies both ways between the client and the backend; an end of
// stream in one direction is passed on as one (close_notify towards the
// client, FIN towards the backend), so that a server's close after its
// last reply reaches the client as the end of the stream.
func (r *Relay) forward(client *tls.Conn) {
	defer r.untrack(client)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := client.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return // a client that refused the certificate, say
	}
	back, err := net.Dial("tcp", r.backend)
	if err != nil {
		return
	}
	if !r.track(back) {
		back.Close()
		return
	}
	defer r.untrack(back)
	defer back.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := io.Copy(back, client); err == nil || errors.Is(err, io.EOF) {
			back.(*net.TCPConn).CloseWrite()
		} else {
			back.Close()
		}
	})
	if _, err := io.Copy(client, back); err == nil {
		client.CloseWrite()
	} else {
		client.Close()
	}
	wg.Wait()
}

// close stops accepting, closes every connection and waits for the
// relay's goroutines.
func (r *Relay) close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
