//go:build !linux

package client

import "os"

// isTerminal reports whether f is a character device, which is a terminal
// in practice (/dev/null aside) on the platforms without the Linux ioctl.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
