// Package version tells which build of campfire is running: the module
// version and the VCS revision the Go toolchain stamped into the binary
// (runtime/debug.ReadBuildInfo), for `campfire version`, the -version flag
// of every command, the live camp page and the campfire_build_info metric.
//
// The toolchain stamps a revision only when it builds inside a VCS checkout
// with -buildvcs on (the default for `go build` of a main package in a
// repository; GOFLAGS=-buildvcs=false turns it off), and a module version
// only when the binary is built from a module download (`go install
// campfire@v1.2.3`); a checkout builds as "(devel)". Get reports what is
// there and says "unknown" for what is not, rather than inventing it.
package version
