package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
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
		{fmt.Errorf("index linux-64: %w", &index.PatchError{File: "linux-64/patch_instructions.json", Err: errors.New("more than one JSON document"), Stored: true}),
			"index linux-64: linux-64/patch_instructions.json: more than one JSON document; store fixed instructions with `condachan patch --channel CHANNEL --subdir linux-64 FILE`, or remove them with `condachan patch --channel CHANNEL --subdir linux-64 --clear`, to index this subdir again"},
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
		{fmt.Errorf("sources: %w", &publish.ArchiveURIError{URI: "s3://bucket"}),
			"sources: --source-archive s3://bucket: expected s3://bucket/key"},
		{&publish.LocalArchiveError{Path: "/no/a.tgz", Err: errors.New("stat /no/a.tgz: no such file or directory")},
			"--source-archive: stat /no/a.tgz: no such file or directory"},
		{&pkgbuild.PrefixTooLongError{Dir: "/long", Max: 235},
			"the build folder /long is too long for a padded build prefix (235 bytes at most); use a shorter --output-dir"},
		{&pkgtest.Failure{Test: 0, Kind: "script", Line: 9, Err: &pkgtest.MissingRequirementError{Spec: "gcc >=9", Line: 12, Name: "gcc"}},
			"tests[0] (script test, line 9) failed: its requirement gcc >=9 (line 12) is not on PATH: condachan installs only the package itself into the test prefix; install gcc on this machine, or build with --no-test"},
		{&s3store.RegionUnknownError{Bucket: "b", Err: &s3store.ConnectError{Endpoint: "https://s3.amazonaws.com", Unresolved: true, Err: errors.New("no such host")}},
			"no AWS region configured and the region of bucket b could not be found (cannot resolve the S3 endpoint https://s3.amazonaws.com: check --endpoint-url/AWS_ENDPOINT_URL_S3 and --region; in a VPC without internet, add an S3 gateway endpoint, or an interface endpoint with private DNS: no such host): pass --region or set AWS_REGION"},
		{fmt.Errorf("publish: %w", &s3store.NoSuchBucketError{Op: "get", URI: "s3://b/c/k", Bucket: "b"}),
			"publish: get s3://b/c/k: bucket b does not exist (check the channel URL, --region and --endpoint-url)"},
		{&s3store.WrongRegionError{Op: "put", URI: "s3://b/k", Err: errors.New("PermanentRedirect")},
			"put s3://b/k: the bucket is in another region: pass --region (or set AWS_REGION): PermanentRedirect"},
		{fmt.Errorf("list s3://b/c: %w", &s3store.ConnectError{Endpoint: "https://s3.us-east-1.amazonaws.com", Err: errors.New("dial tcp: i/o timeout")}),
			"list s3://b/c: cannot reach the S3 endpoint https://s3.us-east-1.amazonaws.com: check the network route; in a VPC without internet access add an S3 gateway endpoint to the subnet's route table (or use an interface endpoint with --endpoint-url): dial tcp: i/o timeout"},
		{plan.AsInput(&jobbundle.TemplateRequirementError{Name: "attr.worker.os.family", Setting: jobbundle.HostWorkerOS}),
			"host requirement attr.worker.os.family is set by the job template from the worker OS (--worker-os, or the target platform)"},
		{&jobbundle.TemplateRequirementError{Name: "amount.worker.vcpu", Setting: jobbundle.HostVCPUs},
			"host requirement amount.worker.vcpu is set by the job template from the vCPU minimum (--vcpus)"},
		{&jobbundle.TemplateRequirementError{Name: "amount.worker.memory", Setting: jobbundle.HostMemory},
			"host requirement amount.worker.memory is set by the job template from the memory minimum (--memory-mib)"},
	}
	for _, tc := range cases {
		got := withFlagHints(usageError{tc.err})
		if got.Error() != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
		// The commands' errors get hints, and run's again: the second time changes nothing.
		if again := withFlagHints(fmt.Errorf("%w", got)); again.Error() != tc.want {
			t.Errorf("hinted twice: %q\nwant %q", again, tc.want)
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

// Doctor findings name settings through a channel.Namer: the CLI's names them as its
// flags, and the policy statements as the command that prints them.
func TestDoctorWordsFlags(t *testing.T) {
	dir := t.TempDir()
	rep := doctor.Diagnose(t.Context(), dir, doctor.Options{ReadOnly: true}).Words(cliNames{})
	if c, _ := rep.Check("writable"); c.Detail != "skipped: --read-only" || !slices.Equal(c.Settings, []channel.Setting{channel.SettingReadOnly}) {
		t.Errorf("writable: %+v", c)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep = doctor.Diagnose(t.Context(), file, doctor.Options{}).Words(cliNames{})
	if c, _ := rep.Check("folder"); c.Fix != "pass the channel folder (or file:///dir) as --channel" {
		t.Errorf("folder: %+v", c)
	}
	rep = doctor.Diagnose(t.Context(), "ftp://x/y", doctor.Options{}).Words(cliNames{})
	if c, _ := rep.Check("channel"); c.Fix != "pass --channel s3://bucket/prefix, file:///dir or a folder path" {
		t.Errorf("channel: %+v", c)
	}
	for _, tc := range []struct{ ch, access, want string }{
		{"s3://b/c", "read|write", "`condachan policy --channel s3://b/c --access read|write`"},
		{"", "write", "`condachan policy --access write`"},
	} {
		if got := (cliNames{}).Policy(tc.ch, tc.access); got != tc.want {
			t.Errorf("Policy(%q, %q) = %q, want %q", tc.ch, tc.access, got, tc.want)
		}
	}
	for s := range settingFlags {
		if flag := (cliNames{}).Setting(s); newDoctorCommand(io.Discard, io.Discard).Flags().Lookup(flag[2:]) == nil {
			t.Errorf("setting %s: doctor has no flag %s", s, flag)
		}
	}
}

// The flags that job planning errors name are flags of submit (bundle write has all but
// --stage-source), so a renamed flag cannot leave a hint naming the old one.
func TestFieldFlagsExist(t *testing.T) {
	submit := newSubmitCommand(io.Discard, io.Discard).Flags()
	write := newBundleCommand(io.Discard, io.Discard).Commands()[0].Flags()
	for field, flag := range fieldFlags {
		if submit.Lookup(flag) == nil {
			t.Errorf("field %q: submit has no flag --%s", field, flag)
		}
		if write.Lookup(flag) == nil && field != plan.FieldStageSources {
			t.Errorf("field %q: bundle write has no flag --%s", field, flag)
		}
	}
	for setting, field := range hostFields {
		if _, ok := fieldFlags[field]; !ok {
			t.Errorf("host setting %v: field %q has no flag", setting, field)
		}
	}
}
