// Package tlstest makes what TLS tests need, at test time: a private CA
// and server certificates issued by it (crypto/x509, ECDSA P-256, valid
// for an hour), written as PEM files where a program (the clients' -tls-ca,
// HAProxy's crt) wants a file, and Relay, a TLS-terminating forwarder in
// front of a plain campfire server: the smallest stand-in for the proxy a
// deployment puts there. Only tests import it, like net/http's
// internal/testcert.
package tlstest
