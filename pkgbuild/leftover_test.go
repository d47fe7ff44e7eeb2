package pkgbuild

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/buildscript"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// What a failed or interrupted build leaves in the output folder (issue 15): nothing at
// all, not even an empty OUT/<subdir>/ or OUT/, except the log of a build that had
// opened one (script builds, builds with tests), which stays as OUT/<subdir>/<stem>.build.log
// because the error points at it. Folders that were there before are left as they were.

// outputEntries lists everything under out (folders end in /), nil when out does not exist.
func outputEntries(t *testing.T, out string) []string {
	t.Helper()
	if _, err := os.Lstat(out); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	entries := []string{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == out {
			return nil
		}
		rel, _ := filepath.Rel(out, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		entries = append(entries, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// cancelWhenPacking is a progress reporter that cancels the build once the package is
// being written, and notes whether its temporary file was there at that moment.
type cancelWhenPacking struct {
	progress.Nop
	cancel  context.CancelFunc
	subdir  string
	once    sync.Once
	sawTemp bool
}

func (c *cancelWhenPacking) Update(done, total int64) {
	if done == 0 {
		return
	}
	c.once.Do(func() {
		tmps, _ := filepath.Glob(filepath.Join(c.subdir, ".*.conda.tmp-*"))
		c.sawTemp = len(tmps) == 1
		c.cancel()
	})
}

// cancelOnOutput cancels the build when the script's live output shows marker.
type cancelOnOutput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOnOutput) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// failingBuild is a build into out that must fail.
type failingBuild struct {
	name string
	log  string // the file name of the log left in OUT/linux-64, "" for nothing
	run  func(t *testing.T, out string) error
	want func(err error) bool
}

func failingBuilds(t *testing.T) []failingBuild {
	// a plain (script-less) recipe whose archive is big enough to cancel mid-way
	big := testkit.Tree{"big.bin": {Data: bytes.Repeat([]byte("0123456789abcdef"), 4<<20), Mode: 0o644}}
	bigTar := big.Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	small := testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	runPlain := func(ctx context.Context, t *testing.T, r *recipe.Recipe, out string, rep progress.Reporter) error {
		arch := filepath.Join(filepath.Dir(r.Dir), "sample-1.0.tar")
		var archives []string
		if _, err := os.Stat(arch); err == nil {
			archives = []string{arch}
		}
		_, err := Build(ctx, Options{Recipe: r, SourceArchives: archives, OutputDir: out, Compression: condapkg.LevelFast, Timestamp: fixedTime, Progress: rep})
		return err
	}
	script := func(t *testing.T, files map[string]string) *recipe.Recipe {
		r, err := recipe.LoadDir(scriptRecipe(t, files), "linux-64")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	runScript := func(ctx context.Context, r *recipe.Recipe, out string, live *cancelOnOutput) error {
		opts := Options{Recipe: r, OutputDir: out, Compression: condapkg.LevelFast, Timestamp: fixedTime, RunTests: true}
		if live != nil {
			opts.Output = live
		}
		_, err := Build(ctx, opts)
		return err
	}
	return []failingBuild{
		{
			name: "missing source archive",
			run: func(t *testing.T, out string) error {
				dir := t.TempDir()
				r, err := recipe.LoadDir(writeRecipe(t, dir, urlRecipe("sample-1.0.tar", testkit.SHA256(small), "")), "linux-64")
				if err != nil {
					t.Fatal(err)
				}
				return runPlain(context.Background(), t, r, out, nil)
			},
			want: func(err error) bool { var m *MissingSourceError; return errors.As(err, &m) },
		},
		{
			name: "sha256 mismatch found while packing",
			run: func(t *testing.T, out string) error {
				dir := t.TempDir()
				testkit.WriteFile(t, dir, "sample-1.0.tar", small)
				r, err := recipe.LoadDir(writeRecipe(t, dir, urlRecipe("sample-1.0.tar", strings.Repeat("ab", 32), "")), "linux-64")
				if err != nil {
					t.Fatal(err)
				}
				return runPlain(context.Background(), t, r, out, nil)
			},
			want: func(err error) bool { return err != nil && strings.Contains(err.Error(), "sha256 mismatch") },
		},
		{
			name: "cancelled while packing",
			run: func(t *testing.T, out string) error {
				dir := t.TempDir()
				testkit.WriteFile(t, dir, "sample-1.0.tar", bigTar)
				r, err := recipe.LoadDir(writeRecipe(t, dir, urlRecipe("sample-1.0.tar", testkit.SHA256(bigTar), "")), "linux-64")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				rep := &cancelWhenPacking{cancel: cancel, subdir: filepath.Join(out, "linux-64")}
				err = runPlain(ctx, t, r, out, rep)
				if !rep.sawTemp {
					t.Errorf("the build was not cancelled while its temporary package was being written")
				}
				return err
			},
			want: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name: "output folder too long for the padded build prefix",
			run: func(t *testing.T, out string) error {
				r := script(t, map[string]string{
					"recipe.yaml": "package: {name: deep, version: \"1.0\"}\nsource:\n  path: src\n",
					"src/a.txt":   "a\n",
					"build.sh":    "true\n",
				})
				return runScript(context.Background(), r, out, nil)
			},
			want: func(err error) bool {
				var long *PrefixTooLongError
				return errors.As(err, &long) && long.Max == placeholderLength-20 && strings.Contains(err.Error(), "shorter output folder")
			},
		},
		{
			name: "build script exits 1",
			log:  "broken-1.0-0.build.log",
			run: func(t *testing.T, out string) error {
				r := script(t, map[string]string{
					"recipe.yaml": "package: {name: broken, version: \"1.0\"}\nsource:\n  path: src\n",
					"src/a.txt":   "a\n",
					"build.sh":    "echo failing\nexit 1\n",
				})
				return runScript(context.Background(), r, out, nil)
			},
			want: func(err error) bool { var se *buildscript.Error; return errors.As(err, &se) && se.ExitCode == 1 },
		},
		{
			name: "cancelled while the build script runs",
			log:  "slow-1.0-0.build.log",
			run: func(t *testing.T, out string) error {
				r := script(t, map[string]string{
					"recipe.yaml": "package: {name: slow, version: \"1.0\"}\nsource:\n  path: src\n",
					"src/a.txt":   "a\n",
					"build.sh":    "echo started\nsleep 60\n",
				})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				return runScript(ctx, r, out, &cancelOnOutput{marker: "+ sleep 60", cancel: cancel})
			},
			want: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name: "package test fails",
			log:  "untested-1.0-0.build.log",
			run: func(t *testing.T, out string) error {
				r := script(t, map[string]string{
					"recipe.yaml": "package: {name: untested, version: \"1.0\"}\nsource:\n  path: src\ntests:\n  - script:\n      - test -x \"$PREFIX/bin/app\"\n",
					"src/a.txt":   "a\n",
					"build.sh":    "mkdir -p \"$PREFIX/share\" && cp a.txt \"$PREFIX/share/\"\n",
				})
				return runScript(context.Background(), r, out, nil)
			},
			want: func(err error) bool { return err != nil && strings.Contains(err.Error(), "tests[0]") },
		},
	}
}

// TestFailedBuildLeavesNoOutputFolder: every failure, for every state the output folder
// may be in beforehand, leaves it as it was (plus the log of a build that had one).
func TestFailedBuildLeavesNoOutputFolder(t *testing.T) {
	testkit.Tool(t, "bash")
	states := []struct {
		name    string
		prepare func(t *testing.T, out string)
	}{
		{"OUT missing", func(t *testing.T, out string) {}},
		{"OUT exists, OUT/linux-64 missing", func(t *testing.T, out string) {
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"OUT/linux-64 exists and is empty", func(t *testing.T, out string) {
			if err := os.MkdirAll(filepath.Join(out, "linux-64"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"OUT/linux-64 holds another package", func(t *testing.T, out string) {
			if err := os.MkdirAll(filepath.Join(out, "linux-64"), 0o755); err != nil {
				t.Fatal(err)
			}
			testkit.WriteFile(t, filepath.Join(out, "linux-64"), "other-1.0-0.conda", []byte("other"))
		}},
	}
	for _, fb := range failingBuilds(t) {
		t.Run(fb.name, func(t *testing.T) {
			for _, s := range states {
				t.Run(s.name, func(t *testing.T) {
					// below a folder that does not exist yet either: the whole chain is new
					parent := t.TempDir()
					if strings.Contains(fb.name, "too long") {
						parent = filepath.Join(parent, strings.Repeat("long-output-folder-", 12))
						if err := os.Mkdir(parent, 0o755); err != nil {
							t.Fatal(err)
						}
					}
					out := filepath.Join(parent, "channel")
					s.prepare(t, out)
					before := outputEntries(t, out)
					err := fb.run(t, out)
					if !fb.want(err) {
						t.Fatalf("error = %v", err)
					}
					after := outputEntries(t, out)
					want := before
					if fb.log != "" {
						want = append([]string{}, before...)
						if want == nil {
							want = []string{}
						}
						if !slices.Contains(want, "linux-64/") {
							want = append(want, "linux-64/")
						}
						want = append(want, "linux-64/"+fb.log)
						slices.Sort(want)
					}
					if !slices.Equal(after, want) {
						t.Errorf("output folder after the failed build:\n got %q\nwant %q", after, want)
					}
					if before == nil && fb.log == "" {
						if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
							t.Errorf("the output folder %s was left behind", out)
						}
					}
				})
			}
		})
	}
}

// TestOutputFoldersMadeAreTracked: only the folders a build itself made are noted for
// removal, and removed deepest first whatever their order; a file in the way is an
// error; and a folder that a concurrent failed build took away between making it and
// writing into it is made again.
func TestOutputFoldersMadeAreTracked(t *testing.T) {
	root := t.TempDir()
	made, err := mkdirAllTracked(filepath.Join(root, "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(root, "a", "b", "c"), filepath.Join(root, "a", "b"), filepath.Join(root, "a")}; !slices.Equal(made, want) {
		t.Errorf("made %q, want %q", made, want)
	}
	if made, err := mkdirAllTracked(filepath.Join(root, "a", "b")); err != nil || len(made) != 0 {
		t.Errorf("an existing folder: made %q, %v", made, err)
	}
	testkit.WriteFile(t, root, "file", []byte("x"))
	if made, err := mkdirAllTracked(filepath.Join(root, "file", "y")); err == nil {
		t.Errorf("a file in the way: made %q, no error", made)
	}
	removeEmptyDirs([]string{filepath.Join(root, "a"), filepath.Join(root, "a", "b", "c"), filepath.Join(root, "a", "b")})
	if _, err := os.Lstat(filepath.Join(root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removeEmptyDirs, given the folders in any order, left %s", filepath.Join(root, "a"))
	}

	st := &buildState{}
	dir := filepath.Join(root, "out", "linux-64")
	calls := 0
	err = st.inDir(dir, func() error {
		calls++
		if calls == 1 {
			os.Remove(dir) // a concurrent failed build removes the empty folder
		}
		f, err := os.CreateTemp(dir, "pkg-*")
		if err == nil {
			f.Close()
		}
		return err
	})
	if err != nil || calls != 2 {
		t.Errorf("inDir: %v after %d calls", err, calls)
	}
	if want := []string{dir, filepath.Dir(dir), dir}; !slices.Equal(st.made, want) {
		t.Errorf("made %q, want %q", st.made, want)
	}
}
