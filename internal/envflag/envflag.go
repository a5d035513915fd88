package envflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// ErrNotParsed is returned by FromEnv for a FlagSet whose command line has
// not been parsed yet: it cannot tell which flags the command line set.
var ErrNotParsed = errors.New("envflag: FromEnv called before the flag set was parsed")

// Name is the environment variable for the flag called flagName: prefix,
// an underscore, and the flag's name upper-cased with '-' and '.' turned
// into '_'. Name("CAMPFIRE", "http-addr") is "CAMPFIRE_HTTP_ADDR"; an empty
// prefix gives the bare name.
func Name(prefix, flagName string) string {
	n := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
	if prefix == "" {
		return n
	}
	return prefix + "_" + n
}

// FromEnv sets every flag of fs that the command line did not set from the
// environment variable Name(prefix, flag), as looked up by lookup (usually
// os.LookupEnv). A variable that is set but empty sets the flag to the
// empty value, so CAMPFIRE_HTTP_ADDR= turns off a string flag whose empty
// value means off; one that is not set leaves the default. Call it after
// fs.Parse.
//
// A value the flag rejects fails as flag.Parse fails on a bad flag: the
// error, of the form
//
//	invalid value "abc" for flag -idle from CAMPFIRE_IDLE: parse error
//
// is printed to fs.Output() followed by fs.Usage(), and then, by fs's
// ErrorHandling, returned, or the program exits with code 2, or panics.
// Flags are visited in lexical order and the first bad one is reported.
func FromEnv(fs *flag.FlagSet, prefix string, lookup func(string) (string, bool)) error {
	if !fs.Parsed() {
		return ErrNotParsed
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		env := Name(prefix, f.Name)
		v, ok := lookup(env)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("invalid value %q for flag -%s from %s: %w", v, f.Name, env, serr)
		}
	})
	if err == nil {
		return nil
	}
	fmt.Fprintln(fs.Output(), err)
	if fs.Usage != nil {
		fs.Usage()
	}
	switch fs.ErrorHandling() {
	case flag.ExitOnError:
		os.Exit(2)
	case flag.PanicOnError:
		panic(err)
	}
	return err
}

// IsSet reports whether the flag called name was set, on the command line
// or (after FromEnv) from the environment; a flag left at its default is
// not. The serve command uses it to tell an -http-addr the operator asked
// for, which must bind, from the default, which may be busy.
func IsSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
