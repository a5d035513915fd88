package protocol

import (
	"testing"
	"unsafe"
)

// TestParserSize guards the per-connection footprint: every connection
// holds a Parser, and telnet support was fitted in without making it
// larger than the 40 bytes it had before.
func TestParserSize(t *testing.T) {
	if got := unsafe.Sizeof(Parser{}); got > 40 {
		t.Errorf("Parser is %d bytes, want at most 40", got)
	}
}
