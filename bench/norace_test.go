//go:build !race

package bench

// raceEnabled says the tests run under the race detector.
const raceEnabled = false
