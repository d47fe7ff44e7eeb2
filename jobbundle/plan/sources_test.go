package plan

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

func TestParseGiven(t *testing.T) {
	dir := t.TempDir()
	file := testkit.WriteFile(t, dir, "a-1.0.tar.gz", []byte("a"))
	g, err := ParseGiven([]string{file, "s3://bucket/src/b-1.0.zip"})
	if err != nil || len(g.Local) != 1 || g.Local[0] != file || g.URI != "s3://bucket/src/b-1.0.zip" {
		t.Fatalf("%+v, %v", g, err)
	}
	if got := strings.Join(g.Names(), " "); got != "a-1.0.tar.gz b-1.0.zip" {
		t.Errorf("names %s", got)
	}
	if got := strings.Join(ArchiveNames([]string{`C:\dl\x.zip`, "dl/y.tgz", "z.tgz"}), " "); got != "x.zip y.tgz z.tgz" {
		t.Errorf("ArchiveNames: %s", got)
	}

	flag := func(Field) string { return "--source-archive" }
	for _, c := range []struct {
		values []string
		is     error
		want   string // the message with the flag
	}{
		{[]string{"s3://bucket"}, ErrNotS3Object, "--source-archive s3://bucket: expected s3://bucket/key"},
		{[]string{"s3://b-1/x.tgz", "s3://b-1/y.tgz"}, ErrSecondURI, "--source-archive: a job takes one s3:// archive"},
		{[]string{dir}, ErrIsFolder, "--source-archive " + dir + " is a folder; pass the archive file"},
		{[]string{filepath.Join(dir, "missing.tgz")}, fs.ErrNotExist, "--source-archive: stat " + filepath.Join(dir, "missing.tgz")},
	} {
		_, err := ParseGiven(c.values)
		var se *SourceArchiveError
		if !errors.As(err, &se) || !errors.Is(err, c.is) || !errors.Is(err, ErrInput) {
			t.Errorf("%v: %v", c.values, err)
			continue
		}
		noFlag(t, err)
		if got := se.Message(flag); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v: %q, want %q", c.values, got, c.want)
		}
	}
}

func TestSearch(t *testing.T) {
	recipeDir, _ := catalogue(t, sampleDeadlineYAML)
	meta := loadMeta(t, recipeDir)
	mine := t.TempDir()
	s := NewSearch([]string{mine}, meta, entry(t, meta, "win-64"), recipeDir)
	archiveDir := filepath.Join(filepath.Dir(filepath.Dir(recipeDir)), "archive_files")
	if strings.Join(s.Dirs, " ") != strings.Join([]string{mine, archiveDir, "."}, " ") || s.Instructions != "Follow the README to make the zip." || s.RecipeDir != recipeDir {
		t.Fatalf("search %+v", s)
	}
	if p, ok := s.Find("StudioApp_2025_Windows.zip"); !ok || p != filepath.Join(archiveDir, "StudioApp_2025_Windows.zip") {
		t.Errorf("Find: %s, %v", p, ok)
	}
	// The caller's folders come first.
	testkit.WriteFile(t, mine, "StudioApp_2025_Windows.zip", []byte("mine"))
	if p, _ := s.Find("StudioApp_2025_Windows.zip"); p != filepath.Join(mine, "StudioApp_2025_Windows.zip") {
		t.Errorf("Find: %s", p)
	}
	if _, ok := s.Find("nothing.zip"); ok {
		t.Error("found what is not there")
	}

	testkit.WriteFile(t, filepath.Join(recipeDir, "files"), "patch.tgz", []byte("p"))
	for _, c := range []struct {
		src  recipe.Source
		want bool
	}{
		{recipe.Source{URLs: []string{"file://files/patch.tgz"}}, true},
		{recipe.Source{URLs: []string{"file://../archive_files/x.tgz"}}, false},
		{recipe.Source{URLs: []string{"https://example.invalid/recipe.yaml"}}, true}, // a file beside recipe.yaml
		{recipe.Source{URLs: []string{"https://example.invalid/none.tgz"}}, false},
	} {
		if got := s.InRecipeFolder(c.src); got != c.want {
			t.Errorf("InRecipeFolder(%v) = %v", c.src.URLs, got)
		}
	}
	if (Search{}).InRecipeFolder(recipe.Source{URLs: []string{"file://files/patch.tgz"}}) {
		t.Error("a shipped recipe carries no files")
	}
}

// PlanArchives finds each entry's archive by name, hashes it and makes it the bundle's
// value; what is wrong is refused before any bundle is written.
func TestPlanArchives(t *testing.T) {
	recipeDir, archives := catalogue(t, sampleDeadlineYAML)
	meta := loadMeta(t, recipeDir)
	archiveDir := filepath.Join(filepath.Dir(filepath.Dir(recipeDir)), "archive_files")
	plan := func(t *testing.T, platform string, given Given, staged StagedCheck, stage bool) (*Job, string, error) {
		t.Helper()
		r, err := recipe.LoadDir(recipeDir, platform)
		if err != nil {
			t.Fatal(err)
		}
		e := entry(t, meta, platform)
		j := &Job{Values: map[string]string{jobbundle.ParamCondaChannel: "s3://studio-bucket/Conda/Default"}, Recipe: r, Given: given, RecipeDir: recipeDir}
		var log bytes.Buffer
		err = j.PlanArchives(context.Background(), e, NewSearch(nil, meta, e, recipeDir), staged, stage, &log)
		return j, log.String(), err
	}
	for _, tc := range []struct{ platform, archive string }{
		{"linux-64", "StudioApp_2025_Linux_64bit.tgz"},
		{"win-64", "StudioApp_2025_Windows.zip"},
	} {
		j, log, err := plan(t, tc.platform, Given{}, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.platform, err)
		}
		if !strings.Contains(log, "hashing "+tc.archive) {
			t.Errorf("%s: not hashed: %s", tc.platform, log)
		}
		a := j.Sources.Local
		if len(a) != 1 || a[0].SHA256 != testkit.SHA256(archives[tc.archive]) || a[0].Size != int64(len(archives[tc.archive])) {
			t.Errorf("%s: local %+v", tc.platform, a)
		}
		if j.Values[jobbundle.ParamSourceArchive] != filepath.Join(archiveDir, tc.archive) {
			t.Errorf("%s: values %v", tc.platform, j.Values)
		}
	}

	t.Run("wrong hash", func(t *testing.T) {
		tampered := filepath.Join(archiveDir, "StudioApp_2025_Windows.zip")
		if err := os.WriteFile(tampered, []byte("a different download"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(tampered, archives["StudioApp_2025_Windows.zip"], 0o644)
		_, _, err := plan(t, "win-64", Given{}, nil, false)
		var ce *ChecksumError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInput) || ce.Path != tampered {
			t.Fatalf("%v", err)
		}
		for _, w := range []string{tampered + " has sha256 " + testkit.SHA256([]byte("a different download")), "recipe studioapp expects " + testkit.SHA256(archives["StudioApp_2025_Windows.zip"])} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q lacks %q", err, w)
			}
		}
		noFlag(t, err)
	})

	t.Run("missing archive", func(t *testing.T) {
		missing := filepath.Join(archiveDir, "StudioApp_2025_Linux_64bit.tgz")
		if err := os.Rename(missing, missing+".away"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(missing+".away", missing)
		_, _, err := plan(t, "linux-64", Given{}, nil, false)
		var me *MissingSourcesError
		var pe *pkgbuild.MissingSourceError
		if !errors.As(err, &me) || !errors.As(err, &pe) || !errors.Is(err, ErrInput) || me.StagedChecked {
			t.Fatalf("%v", err)
		}
		named := me.Message(func(Field) string { return "--stage-source" })
		for _, w := range []string{"recipe studioapp for linux-64: source archive StudioApp_2025_Linux_64bit.tgz not found (looked in: " + archiveDir,
			"download it from: https://vendor.example.com/StudioApp_2025_Linux_64bit.tgz",
			"from deadline-cloud.yaml: Download StudioApp_2025_Linux_64bit.tgz from the vendor portal.",
			"archives staged in the channel already are found with --stage-source"} {
			if !strings.Contains(named, w) {
				t.Errorf("%q lacks %q", named, w)
			}
		}
		if !strings.Contains(err.Error(), "archives staged in the channel already are found with source staging") {
			t.Errorf("Error(): %v", err)
		}

		// Staged in the channel already: found there by its sha256.
		var asked []string
		j, log, err := plan(t, "linux-64", Given{}, func(_ context.Context, channelURL, sha, name string) (bool, error) {
			asked = append(asked, channelURL+" "+sha+" "+name)
			return true, nil
		}, true)
		if err != nil || len(j.Sources.Staged) != 1 || len(j.Sources.Local) != 0 || !strings.Contains(log, "StudioApp_2025_Linux_64bit.tgz is not on this machine; it is staged in the channel already") {
			t.Fatalf("staged: %+v, %v\n%s", j.Sources, err, log)
		}
		if want := "s3://studio-bucket/Conda/Default " + testkit.SHA256(archives["StudioApp_2025_Linux_64bit.tgz"]) + " StudioApp_2025_Linux_64bit.tgz"; strings.Join(asked, "|") != want {
			t.Errorf("asked %q, want %q", asked, want)
		}
		// Not staged either: the staged sources were looked in too, so no hint.
		_, _, err = plan(t, "linux-64", Given{}, func(context.Context, string, string, string) (bool, error) { return false, nil }, true)
		if !errors.As(err, &me) || !me.StagedChecked || strings.Contains(err.Error(), "found with") || !strings.Contains(err.Error(), "the channel's staged sources") {
			t.Errorf("not staged: %v", err)
		}
		// A failed look is not the input's fault.
		failed := errors.New("access denied")
		if _, _, err = plan(t, "linux-64", Given{}, func(context.Context, string, string, string) (bool, error) { return false, failed }, true); !errors.Is(err, failed) || errors.Is(err, ErrInput) {
			t.Errorf("failed look: %v", err)
		}
	})

	t.Run("archive given that the recipe lacks", func(t *testing.T) {
		_, _, err := plan(t, "linux-64", Given{URI: "s3://b-1/StudioApp_2025_Windows.zip"}, nil, false)
		var se *SourceArchiveError
		if !errors.As(err, &se) || !se.NotInRecipe || !errors.Is(err, ErrInput) {
			t.Fatalf("%v", err)
		}
		if got := se.Message(func(Field) string { return "--source-archive" }); !strings.HasPrefix(got, "--source-archive StudioApp_2025_Windows.zip: recipe studioapp for linux-64 expects StudioApp_2025_Linux_64bit.tgz") {
			t.Errorf("named: %s", got)
		}
	})

	t.Run("an s3 archive given streams", func(t *testing.T) {
		j, _, err := plan(t, "linux-64", Given{URI: "s3://b-1/src/StudioApp_2025_Linux_64bit.tgz"}, nil, false)
		if err != nil || len(j.Sources.Local) != 0 || j.Values[jobbundle.ParamSourceArchiveURI] != "s3://b-1/src/StudioApp_2025_Linux_64bit.tgz" || j.Values[jobbundle.ParamSourceArchive] != "" {
			t.Errorf("%+v %v, %v", j.Sources, j.Values, err)
		}
	})

	t.Run("archive the recipe lacks", func(t *testing.T) {
		yamlPath := filepath.Join(filepath.Dir(recipeDir), "deadline-cloud.yaml")
		if err := os.WriteFile(yamlPath, []byte(strings.Replace(sampleDeadlineYAML, "    - StudioApp_2025_Linux_64bit.tgz", "    - StudioApp_2025_Linux_64bit.tar.xz", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(yamlPath, []byte(sampleDeadlineYAML), 0o644)
		meta = loadMeta(t, recipeDir)
		defer func() { meta = loadMeta(t, recipeDir) }()
		_, _, err := plan(t, "linux-64", Given{}, nil, false)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "deadline-cloud.yaml names StudioApp_2025_Linux_64bit.tar.xz in sourceArchiveFilename, but recipe studioapp has no such source for linux-64 (its archives: StudioApp_2025_Linux_64bit.tgz)") {
			t.Errorf("%v", err)
		}
	})
}

func TestArchiveValuesAndStaging(t *testing.T) {
	withSum := recipe.Source{SHA256: "abc"}
	local := func(names ...string) []LocalArchive {
		var out []LocalArchive
		for _, n := range names {
			src := withSum
			if strings.HasPrefix(n, "nosum") {
				src = recipe.Source{}
			}
			out = append(out, LocalArchive{Path: "/dl/" + n, Name: n, Source: src})
		}
		return out
	}

	// Several local archives need staging: a job attaches one.
	js := Sources{Local: local("a.tgz", "b.rpm", "c.rpm")}
	err := js.ArchiveValues(map[string]string{})
	var ns *NeedsStagingError
	if !errors.As(err, &ns) || !errors.Is(err, ErrInput) || strings.Join(ns.Archives, " ") != "a.tgz b.rpm c.rpm" {
		t.Fatalf("%v", err)
	}
	noFlag(t, err)
	if got, want := ns.Message(func(Field) string { return "`condachan submit --stage-source`" }), "the job needs 3 archives from this machine (a.tgz, b.rpm, c.rpm), and a job attaches one: stage them in the channel with `condachan submit --stage-source`, where the job finds them by sha256"; got != want {
		t.Errorf("named:\n%s\nwant\n%s", got, want)
	}
	if err := js.CheckStaging(); err != nil {
		t.Errorf("staging three archives with sha256s: %v", err)
	}

	values := map[string]string{}
	js = Sources{Local: local("a.tgz"), URI: "s3://b-1/u.zip"}
	if err := js.ArchiveValues(values); err != nil || values[jobbundle.ParamSourceArchive] != "/dl/a.tgz" || values[jobbundle.ParamSourceArchiveURI] != "s3://b-1/u.zip" {
		t.Errorf("values %v, %v", values, err)
	}

	// Staged archives are found by sha256; one without is passed by URI, and only one.
	js = Sources{Local: local("nosum-a.tgz", "nosum-b.tgz")}
	var nc *NoChecksumError
	if err := js.CheckStaging(); !errors.As(err, &nc) || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "the recipe gives no sha256 for nosum-a.tgz, nosum-b.tgz") {
		t.Errorf("two without sha256: %v", err)
	}
	js = Sources{Local: local("nosum-a.tgz"), URI: "s3://b-1/u.zip"}
	if err := js.CheckStaging(); !errors.As(err, &nc) {
		t.Errorf("one without sha256 and a URI: %v", err)
	}

	for _, c := range []struct {
		js   Sources
		uris []string
		want string
	}{
		{Sources{Local: local("a.tgz")}, []string{"s3://c/a"}, "s3://c/a"},                            // one: shown
		{Sources{Local: local("a.tgz", "b.rpm")}, []string{"s3://c/a", "s3://c/b"}, ""},               // found by sha256
		{Sources{Local: local("a.tgz", "nosum-b.tgz")}, []string{"s3://c/a", "s3://c/b"}, "s3://c/b"}, // no sha256: by URI
		{Sources{Local: local("a.tgz"), URI: "s3://b-1/u.zip"}, []string{"s3://c/a"}, "s3://b-1/u.zip"},
	} {
		values := map[string]string{jobbundle.ParamSourceArchive: "/dl/a.tgz"}
		c.js.StagedValues(values, c.uris)
		if values[jobbundle.ParamSourceArchive] != "" || values[jobbundle.ParamSourceArchiveURI] != c.want {
			t.Errorf("%+v: values %v, want URI %q", c.js.Local, values, c.want)
		}
	}
}
