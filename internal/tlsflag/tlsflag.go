package tlsflag

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Flags are the values of -tls, -tls-ca and -tls-insecure.
type Flags struct {
	// On makes the client speak TLS.
	On bool `json:"on,omitempty"`
	// CAFile, if set, is a PEM file of the CA certificates to trust
	// instead of the system's.
	CAFile string `json:"ca_file,omitempty"`
	// Insecure skips the verification of the server's certificate.
	Insecure bool `json:"insecure,omitempty"`
}

// Warning is what a command prints on stderr when -tls-insecure is given.
const Warning = "WARNING: -tls-insecure: the server's certificate is NOT verified; " +
	"anyone on the way can read and change this connection. Use it only against a test proxy."

// Register defines -tls, -tls-ca and -tls-insecure on fs, to be stored in f.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.On, "tls", false, "speak TLS to a TLS-terminating proxy in front of the server (server name from -addr)")
	fs.StringVar(&f.CAFile, "tls-ca", "", "with -tls: trust the CA certificates in this PEM `FILE` instead of the system's")
	fs.BoolVar(&f.Insecure, "tls-insecure", false, "with -tls: do not verify the server's certificate (a self-signed test proxy only)")
}

// Check reports flags that do not go together.
func (f Flags) Check() error {
	switch {
	case !f.On && f.CAFile != "":
		return errors.New("-tls-ca needs -tls")
	case !f.On && f.Insecure:
		return errors.New("-tls-insecure needs -tls")
	case f.CAFile != "" && f.Insecure:
		return errors.New("-tls-ca and -tls-insecure do not go together: one verifies with a CA, the other does not verify")
	}
	return nil
}

// Warn prints Warning to w when f skips verification.
func (f Flags) Warn(w io.Writer) {
	if f.On && f.Insecure {
		fmt.Fprintln(w, Warning)
	}
}

// Config returns the client configuration f describes, or nil when TLS is
// off. Its ServerName is empty: a tls.Dialer takes it from the address it
// dials, a name or an IP address that the certificate must hold.
func (f Flags) Config() (*tls.Config, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if !f.On {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.Insecure}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
