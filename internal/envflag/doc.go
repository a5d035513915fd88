// Package envflag lets every flag of a command also come from the
// environment, as PREFIX_FLAG (CAMPFIRE_ADDR for -addr, CAMPFIRE_HTTP_ADDR
// for -http-addr), the way containers and systemd units configure a
// server. The command line wins over the environment, and a bad value in
// the environment fails exactly as a bad flag does: the flag's own parser
// checks it, the error names the flag and the variable, and the caller
// exits with code 2.
package envflag
