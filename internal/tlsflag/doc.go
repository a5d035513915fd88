// Package tlsflag holds the TLS flags that campfire's two clients share,
// the terminal client and the load harness: -tls to speak TLS to a
// TLS-terminating proxy in front of the server (campfire itself speaks
// plain TCP), -tls-ca to trust a private CA instead of the system's roots,
// and -tls-insecure to skip verification against a self-signed test proxy,
// which a command announces loudly on stderr.
//
// Flags is a plain value that travels as JSON, so that the harness can
// hand it to its worker processes; Config turns it into a *tls.Config
// whose ServerName is left empty, for each dial to take from the address
// it dials (crypto/tls's Dialer does that).
package tlsflag
