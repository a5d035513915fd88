// Command campfire is the CAMP/1.0 server, its echo service, an interactive
// client and a load harness, one subcommand each.
package main

import (
	"fmt"
	"io"
	"os"

	"campfire/bench"
	"campfire/client"
	"campfire/internal/version"
	"campfire/server"
)

const usage = `usage: campfire <command> [flags]

commands:
  serve    run the challenge server (CAMP/1.0), by default on 0.0.0.0:2022
  echo     run the echo service, by default on 0.0.0.0:2022
  client   check in from a terminal
  bench    load-test a server and report throughput, latency and memory
  version  print the version of this build

Run 'campfire <command> -h' for the flags of a command. The protocol is
described in docs/PROTOCOL.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return server.Serve(args[1:], stdout, stderr)
	case "echo":
		return server.Echo(args[1:], stdout, stderr)
	case "bench":
		return bench.Main(args[1:], stdout, stderr)
	case "client":
		return client.Main(args[1:], stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version.Get())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	// The same two lines as every command's mistakes (internal/cli).
	fmt.Fprintf(stderr, "campfire: unknown command %q\nrun 'campfire -h' for the commands\n", args[0])
	return 2
}
