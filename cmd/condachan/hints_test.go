package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/pkgtest"
	"github.com/condachan/condachan/publish"
)

// The libraries' typed errors name no flag; the CLI's message for them does, worded as
// before the libraries stopped naming flags.
func TestFlagHints(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&index.CorruptRepodataError{Key: "linux-64/repodata.json", Err: errors.New("bad json"), Remedy: index.RemedyFullReindex},
			"linux-64/repodata.json is not valid repodata (bad json); not replacing it: run `condachan index --full` to rebuild it from the packages"},
		{&publish.ConflictError{Key: "linux-64/a-1-0.conda", Channel: "s3://b/c"},
			"linux-64/a-1-0.conda already exists in s3://b/c with different content (sha256 differs); packages are immutable: bump the build number, or pass --force to replace it"},
		{&publish.NotIndexedError{Missing: []string{"linux-64/a-1-0.conda: unreadable"}, Channel: "s3://b/c", Remedy: index.RemedyReindex},
			"uploaded but not in the index:\n  linux-64/a-1-0.conda: unreadable\nrerun `condachan index --channel s3://b/c` once the cause is fixed"},
		{&pkgbuild.MissingSourceError{Missing: []pkgbuild.MissingSource{{FileName: "a.tgz"}}},
			"source archive a.tgz not found\n  then pass it with: --source-archive /path/to/a.tgz"},
		{&pkgbuild.MissingSourceError{Missing: []pkgbuild.MissingSource{{FileName: "a.tgz"}, {FileName: "b.tgz"}}},
			"2 source archives not found\n- a.tgz\n- b.tgz\nthen pass them with --source-archive FILE (once for each) or --source-dir DIR (a folder holding them)"},
		{&pkgbuild.SourceArchiveError{Archive: "x.zip", Unmatched: true, Platform: "win-64", Expected: []string{"y.zip"}},
			"--source-archive x.zip matches no source of the recipe for win-64 (expected file names: y.zip)"},
		{fmt.Errorf("platform win-64: %w", &pkgbuild.SourceArchiveError{Archive: "x.zip", Err: &pkgbuild.ArchiveMismatchError{Name: "x.zip", Recipe: "r", Platform: "win-64", Expected: []string{"y.zip", "z.zip"}}}),
			"platform win-64: --source-archive x.zip: x.zip: recipe r for win-64 expects y.zip or z.zip (pass --target-platform for another platform)"},
		{&pkgbuild.PrefixTooLongError{Dir: "/long", Max: 235},
			"the build folder /long is too long for a padded build prefix (235 bytes at most); use a shorter --output-dir"},
		{&pkgtest.Failure{Test: 0, Kind: "script", Line: 9, Err: &pkgtest.MissingRequirementError{Spec: "gcc >=9", Line: 12, Name: "gcc"}},
			"tests[0] (script test, line 9) failed: its requirement gcc >=9 (line 12) is not on PATH: condachan installs only the package itself into the test prefix; install gcc on this machine, or build with --no-test"},
	}
	for _, tc := range cases {
		got := withFlagHints(usageError{tc.err})
		if got.Error() != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		var usage usageError
		if !errors.As(got, &usage) || !errors.Is(got, tc.err) {
			t.Errorf("%q does not unwrap to the library's error", got)
		}
	}
	plain := errors.New("nothing to rewrite")
	if got := withFlagHints(plain); got != plain {
		t.Errorf("an error without hints became %v", got)
	}
}
