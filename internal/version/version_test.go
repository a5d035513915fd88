package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestFromBuildInfo(t *testing.T) {
	commit := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		give *debug.BuildInfo
		ok   bool
		want Info
		line string
	}{
		{
			name: "checkout with vcs stamp",
			give: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Path: "campfire", Version: "(devel)"},
				Settings: []debug.BuildSetting{
					{Key: "-compiler", Value: "gc"},
					{Key: "vcs", Value: "git"},
					{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
					{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			ok:   true,
			want: Info{Module: "campfire", Version: "(devel)", Revision: "0123456789abcdef0123456789abcdef01234567", Time: commit, Modified: true, Go: "go1.26.8"},
			line: "campfire (devel) revision 0123456789ab (modified) 2026-01-02T03:04:05Z go1.26.8",
		},
		{
			name: "module download without vcs",
			give: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Path: "campfire", Version: "v1.2.0"},
			},
			ok:   true,
			want: Info{Module: "campfire", Version: "v1.2.0", Revision: Unknown, Go: "go1.26.8"},
			line: "campfire v1.2.0 revision unknown go1.26.8",
		},
		{
			name: "clean checkout, bad vcs time",
			give: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Path: "campfire", Version: "(devel)"},
				Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "abc"},
					{Key: "vcs.time", Value: "yesterday"},
					{Key: "vcs.modified", Value: "false"},
				},
			},
			ok:   true,
			want: Info{Module: "campfire", Version: "(devel)", Revision: "abc", Go: "go1.26.8"},
			line: "campfire (devel) revision abc go1.26.8",
		},
		{
			name: "no build info",
			give: nil,
			ok:   false,
			want: Info{Module: Unknown, Version: Unknown, Revision: Unknown, Go: runtime.Version()},
			line: "unknown unknown revision unknown " + runtime.Version(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBuildInfo(tt.give, tt.ok)
			if got != tt.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.line {
				t.Errorf("String = %q, want %q", s, tt.line)
			}
		})
	}
}

// TestGetStampedBinary builds the campfire command from this checkout
// with -buildvcs=true and checks that `campfire version` reports the commit
// it was built from.
func TestGetStampedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		// The go command looks for a .git directory; a git worktree has a
		// .git file, and its builds carry no revision.
		t.Skip("not a git clone with a .git directory (a worktree?): the go command stamps no revision here")
	}
	rev := run(root, "git", "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "campfire")
	run(root, "go", "build", "-o", bin, ".")
	got := run(root, bin, "version")
	if want := "revision " + rev[:12]; !strings.Contains(got, want) {
		t.Errorf("campfire version = %q, want it to name %q", got, want)
	}
}
