package bench

import (
	"os"
	"testing"

	"campfire/internal/servertest"
)

// workerEnv, set in a test's environment, makes the test binary started
// as a -procs worker run the bench worker instead of the tests: the
// binary stands in for "campfire bench".
const workerEnv = "CAMPFIRE_BENCH_TEST_WORKER"

// TestMain checks for leaked goroutines. gnet's worker pool (ants) keeps
// two goroutines for the life of the process.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		args := os.Args[1:]
		if len(args) > 0 && args[0] == "bench" {
			args = args[1:]
		}
		os.Exit(Main(args, os.Stdout, os.Stderr))
	}
	servertest.VerifyMain(m)
}
