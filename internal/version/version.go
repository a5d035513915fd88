package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Unknown stands for a field the build did not record.
const Unknown = "unknown"

// Info is what the binary knows about its own build.
type Info struct {
	// Module is the main module's path ("campfire").
	Module string
	// Version is the main module's version: a tag such as v1.2.0 when built
	// from a module download, "(devel)" when built from a checkout.
	Version string
	// Revision is the VCS commit the binary was built from, or Unknown.
	Revision string
	// Time is the commit time of Revision; zero if unknown.
	Time time.Time
	// Modified reports uncommitted changes in the checkout at build time.
	Modified bool
	// Go is the toolchain that built the binary, e.g. go1.26.8.
	Go string
}

// Get returns the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return FromBuildInfo(bi, ok)
}

// FromBuildInfo extracts an Info from what debug.ReadBuildInfo returned;
// ok false (a binary without module support) gives an Info that says
// Unknown everywhere but Go.
func FromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	info := Info{Module: Unknown, Version: Unknown, Revision: Unknown, Go: runtime.Version()}
	if !ok || bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	if bi.Main.Path != "" {
		info.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Revision = s.Value
			}
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				info.Time = t
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// ShortRevision is the first 12 hex digits of Revision, or Unknown.
func (i Info) ShortRevision() string {
	if len(i.Revision) > 12 && i.Revision != Unknown {
		return i.Revision[:12]
	}
	return i.Revision
}

// String is the one line `campfire version` prints, e.g.
// "campfire (devel) revision 0123456789ab (modified) 2026-01-02T03:04:05Z go1.26.8".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Module)
	b.WriteByte(' ')
	b.WriteString(i.Version)
	b.WriteString(" revision ")
	b.WriteString(i.ShortRevision())
	if i.Modified {
		b.WriteString(" (modified)")
	}
	if !i.Time.IsZero() {
		b.WriteByte(' ')
		b.WriteString(i.Time.UTC().Format(time.RFC3339))
	}
	b.WriteByte(' ')
	b.WriteString(i.Go)
	return b.String()
}
