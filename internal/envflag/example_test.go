package envflag_test

import (
	"flag"
	"fmt"
	"os"
	"time"

	"campfire/internal/envflag"
)

func ExampleFromEnv() {
	fs := flag.NewFlagSet("campfire serve", flag.ContinueOnError)
	addr := fs.String("addr", "0.0.0.0:2022", "listen address")
	httpAddr := fs.String("http-addr", "127.0.0.1:2080", "side port")
	idle := fs.Duration("idle", 10*time.Minute, "idle time")
	_ = fs.Parse([]string{"-addr", "127.0.0.1:4000"})

	env := map[string]string{"CAMPFIRE_ADDR": "ignored: the command line wins", "CAMPFIRE_HTTP_ADDR": "", "CAMPFIRE_IDLE": "30s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok } // os.LookupEnv in the command
	if err := envflag.FromEnv(fs, "CAMPFIRE", lookup); err != nil {
		os.Exit(2)
	}
	fmt.Printf("addr %s, http-addr %q (explicit: %v), idle %v\n", *addr, *httpAddr, envflag.IsSet(fs, "http-addr"), *idle)
	// Output: addr 127.0.0.1:4000, http-addr "" (explicit: true), idle 30s
}
