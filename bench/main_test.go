package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines. gnet's worker pool (ants) keeps
// two goroutines for the life of the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}
