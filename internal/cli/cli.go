package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"campfire/internal/envflag"
	"campfire/internal/version"
)

// Exit codes every command uses.
const (
	ExitOK    = 0 // done, or -h
	ExitError = 1 // the command ran and failed
	ExitUsage = 2 // bad flags or arguments: nothing was done
)

// Command is one campfire command: its name, what it does, and its flags.
type Command struct {
	// Name is the command as typed, such as "campfire serve".
	Name string
	// About says what the command does, in a few lines printed between the
	// usage line and the flags.
	About string
	// Flags is the command's own flag set; define flags on it before Parse.
	Flags *flag.FlagSet

	stdout, stderr io.Writer
	version        *bool
}

// New returns a command called name ("campfire serve") with an empty flag
// set. Help goes to stdout, errors to stderr.
func New(name, about string, stdout, stderr io.Writer) *Command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages are replaced by ours: Parse prints
	// the error it returns, in the one form every command uses.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c := &Command{Name: name, About: about, Flags: fs, stdout: stdout, stderr: stderr}
	c.version = fs.Bool("version", false, "print the version of this build and exit")
	return c
}

// Parse parses args, which must be flags only. On -h it prints the usage to
// stdout and returns ExitOK; on a bad flag or a stray argument it prints the
// error and returns ExitUsage. ok is true when the command should run.
func (c *Command) Parse(args []string) (code int, ok bool) {
	err := c.Flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.PrintUsage(c.stdout)
		return ExitOK, false
	case err != nil:
		return c.Usagef("%v", err), false
	case c.Flags.NArg() > 0:
		return c.Usagef("unexpected argument %q (flags only)", c.Flags.Arg(0)), false
	case *c.version:
		fmt.Fprintln(c.stdout, version.Get())
		return ExitOK, false
	}
	return ExitOK, true
}

// ParseEnv is Parse, then every flag not given on the command line is
// taken from the environment as PREFIX_FLAG (CAMPFIRE_HTTP_ADDR for
// -http-addr); the command line wins, and a bad value in the environment
// is the same mistake as a bad flag.
func (c *Command) ParseEnv(args []string, prefix string, lookup func(string) (string, bool)) (code int, ok bool) {
	if code, ok := c.Parse(args); !ok {
		return code, ok
	}
	if err := envflag.FromEnv(c.Flags, prefix, lookup); err != nil {
		return c.Usagef("%v", err), false
	}
	return ExitOK, true
}

// Usagef reports a mistake in how the command was called (a flag's value,
// two flags that do not go together) and returns ExitUsage.
func (c *Command) Usagef(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\nrun '%s -h' for its flags\n", c.Name, fmt.Sprintf(format, args...), c.Name)
	return ExitUsage
}

// Errorf reports a failure of the command itself and returns ExitError.
func (c *Command) Errorf(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.Name, fmt.Sprintf(format, args...))
	return ExitError
}

// PrintUsage writes the usage line, About and every flag with its default.
func (c *Command) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s [flags]\n\n", c.Name)
	if about := strings.TrimSpace(c.About); about != "" {
		fmt.Fprintf(w, "%s\n\n", about)
	}
	fmt.Fprintln(w, "flags:")
	c.Flags.SetOutput(w)
	c.Flags.PrintDefaults()
	c.Flags.SetOutput(io.Discard)
}
