// Package cli gives every campfire command (serve, echo, client, bench)
// the same -h and the same error lines.
//
// Each command keeps its own flag.FlagSet in the package it drives
// (server, client, bench), so its flags sit next to the code they
// configure. What they share is only the shape of what a person reads:
//
//	usage: campfire serve [flags]
//
//	Run the challenge server (CAMP/1.0) until SIGINT or SIGTERM.
//
//	flags:
//	  -addr HOST:PORT
//	    	listen address (default "0.0.0.0:2022")
//
// on stdout for -h (exit 0), and one line naming the command for every
// mistake, followed by where to look (exit 2):
//
//	campfire serve: invalid value "xyz" for flag -idle: parse error
//	run 'campfire serve -h' for its flags
//
// It is a package of its own, under internal/, because the four commands
// live in three packages and none of them should import another one to
// borrow its help text; the root main.go uses it for its own usage too.
package cli
