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

// TestGetStampedBinary builds a tiny main package inside a fresh git
// repository with -buildvcs=true and checks that Get, run in that binary,
// reports the commit it was built from.
func TestGetStampedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not found: cannot make a checkout to stamp")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module stamped\n\ngo 1.26\n\nrequire campfire v0.0.0\n\nreplace campfire => "+root+"\n")
	write("main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"campfire/version\"\n)\n\nfunc main() { i := version.Get(); fmt.Println(i.Module, i.Revision, i.Modified) }\n")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("go", "mod", "tidy")
	run(git, "init", "-q")
	run(git, "add", ".")
	run(git, "commit", "-q", "-m", "stamp")
	rev := run(git, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "stamped") // outside the checkout, which must stay clean
	run("go", "build", "-mod=mod", "-o", bin, ".")
	got := run(bin)
	if want := "stamped " + rev + " false"; got != want {
		t.Errorf("stamped binary printed %q, want %q", got, want)
	}
}
