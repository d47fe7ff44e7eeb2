package patch

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			b, _ := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

const config = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		before  map[string]string
		patch   string
		after   map[string]string
		strip   int
		skipped []string
	}{
		{
			name:   "git diff, p1",
			before: map[string]string{"src/a.txt": config},
			patch:  "diff --git a/src/a.txt b/src/a.txt\nindex 1..2 100644\n--- a/src/a.txt\n+++ b/src/a.txt\n@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n",
			after:  map[string]string{"src/a.txt": strings.Replace(config, "three", "THREE", 1)},
			strip:  1,
		},
		{
			name:   "plain diff -u, p0",
			before: map[string]string{"a.txt": config},
			patch:  "--- a.txt\t2024-01-01 00:00:00\n+++ a.txt\t2024-01-02 00:00:00\n@@ -9,2 +9,3 @@\n nine\n ten\n+eleven\n",
			after:  map[string]string{"a.txt": config + "eleven\n"},
			strip:  0,
		},
		{
			name:   "deeper strip level guessed from what exists",
			before: map[string]string{"a.txt": config},
			patch:  "--- x/y/a.txt\n+++ x/y/a.txt\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n",
			after:  map[string]string{"a.txt": strings.Replace(config, "one", "ONE", 1)},
			strip:  2,
		},
		{
			name:   "hunk moved by lines added above it (offset)",
			before: map[string]string{"a.txt": "new\nlines\nabove\n" + config},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -5,3 +5,3 @@\n five\n-six\n+SIX\n seven\n",
			after:  map[string]string{"a.txt": "new\nlines\nabove\n" + strings.Replace(config, "six", "SIX", 1)},
			strip:  1,
		},
		{
			name:   "two hunks, the second after the first grew the file",
			before: map[string]string{"a.txt": config},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,4 @@\n one\n+1a\n+1b\n two\n@@ -8,3 +10,2 @@\n eight\n-nine\n ten\n",
			after:  map[string]string{"a.txt": "one\n1a\n1b\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nten\n"},
			strip:  1,
		},
		{
			name:   "fuzz: context that changed upstream",
			before: map[string]string{"a.txt": strings.Replace(config, "four", "FOUR (changed)", 1)},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -4,3 +4,3 @@\n four\n-five\n+5\n six\n",
			after:  map[string]string{"a.txt": strings.Replace(strings.Replace(config, "four", "FOUR (changed)", 1), "five", "5", 1)},
			strip:  1,
		},
		{
			name:   "whitespace ignored, the file's own whitespace kept",
			before: map[string]string{"a.txt": "if x:\n\tcall()\n\treturn 1\n"},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n if x:\n     call()\n-    return 1\n+    return 2\n",
			after:  map[string]string{"a.txt": "if x:\n\tcall()\n    return 2\n"},
			strip:  1,
		},
		{
			name:    "already applied hunks are skipped",
			before:  map[string]string{"a.txt": strings.Replace(config, "three", "THREE", 1)},
			patch:   "--- a/a.txt\n+++ b/a.txt\n@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n",
			after:   map[string]string{"a.txt": strings.Replace(config, "three", "THREE", 1)},
			strip:   1,
			skipped: []string{"a.txt: hunk #1"},
		},
		{
			name:   "new file, deleted file",
			before: map[string]string{"old.txt": "bye\n", "keep.txt": "k\n"},
			patch:  "diff --git a/new/file.txt b/new/file.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new/file.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\ndiff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n",
			after:  map[string]string{"new/file.txt": "hello\nworld\n", "keep.txt": "k\n"},
			strip:  1,
		},
		{
			name:   "no newline at end of file, both ways",
			before: map[string]string{"a.txt": "x\ny"},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n",
			after:  map[string]string{"a.txt": "x\nz\n"},
			strip:  1,
		},
		{
			name:   "adding a line break-less last line",
			before: map[string]string{"a.txt": "x\n"},
			patch:  "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1,2 @@\n x\n+y\n\\ No newline at end of file\n",
			after:  map[string]string{"a.txt": "x\ny"},
			strip:  1,
		},
		{
			name:   "CRLF file keeps its line breaks",
			before: map[string]string{"a.bat": "@echo off\r\nset A=1\r\nexit /b 0\r\n"},
			patch:  "--- a/a.bat\n+++ b/a.bat\n@@ -1,3 +1,3 @@\n @echo off\n-set A=1\n+set A=2\n exit /b 0\n",
			after:  map[string]string{"a.bat": "@echo off\r\nset A=2\r\nexit /b 0\r\n"},
			strip:  1,
		},
		{
			name:   "a mail header and commit message before the diff",
			before: map[string]string{"a.txt": config},
			patch:  "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] fix\n\nfix the thing\n---\n a.txt | 2 +-\n\ndiff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+1\n--\n2.40.0\n",
			after:  map[string]string{"a.txt": strings.Replace(config, "one", "1", 1)},
			strip:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.before)
			res, err := Apply(dir, "fix.patch", []byte(tt.patch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := readTree(t, dir); !reflect.DeepEqual(got, tt.after) {
				t.Errorf("tree = %q\nwant   %q", got, tt.after)
			}
			if res.Strip != tt.strip || !reflect.DeepEqual(res.Skipped, tt.skipped) {
				t.Errorf("Strip = %d, Skipped = %q; want %d, %q", res.Strip, res.Skipped, tt.strip, tt.skipped)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		want  string
	}{
		{"hunk that does not apply", "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1,2 @@\n one\n+x\n--- a/b.txt\n+++ b/b.txt\n@@ -1,3 +1,3 @@\n nothing\n-like\n+this\n here\n", "b.txt: hunk #1 (patch line 8) does not apply"},
		{"missing file", "--- a/missing.txt\n+++ b/missing.txt\n@@ -1 +1 @@\n-a\n+b\n", "missing.txt"},
		{"binary patch", "diff --git a/x.bin b/x.bin\nGIT binary patch\nliteral 3\n", "binary patches are not supported"},
		{"truncated hunk", "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n", "line 5: the patch ends inside a hunk"},
		{"hunk longer than its header", "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+1\n-two\n", ""},
		{"bad hunk line", "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n*two\n", `hunk line starts with '*'`},
		{"bad hunk header", "--- a/a.txt\n+++ b/a.txt\n@@ -x +1 @@\n", "bad hunk header"},
		{"not a diff", "just some text\n", "no file changes found"},
		{"path leaving the folder", "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "leaves the source folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"a.txt": config, "b.txt": "b\n"})
			_, err := Apply(dir, "fix.patch", []byte(tt.patch))
			if tt.want == "" {
				if err != nil {
					t.Logf("(accepted as an error: %v)", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "patch fix.patch: ") {
				t.Fatalf("error = %v, want one with %q", err, tt.want)
			}
			// Nothing is written when a patch fails.
			if tt.want != "" {
				if got := readTree(t, dir); !reflect.DeepEqual(got, map[string]string{"a.txt": config, "b.txt": "b\n"}) {
					t.Errorf("a failed patch changed the tree: %q", got)
				}
			}
		})
	}
}

// TestAgainstDiff applies what diff -u writes for random-ish edits of a file.
func TestAgainstDiff(t *testing.T) {
	diff, err := exec.LookPath("diff")
	if err != nil {
		t.Fatal("diff (GNU diffutils) is needed to generate patches")
	}
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, "line "+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	base := strings.Join(lines, "\n") + "\n"
	edited := append([]string{}, lines...)
	edited[3] = "changed 3"
	edited = append(edited[:50], append([]string{"inserted 1", "inserted 2"}, edited[50:]...)...)
	edited = append(edited[:120], edited[125:]...)
	edited[len(edited)-1] = "changed last"
	want := strings.Join(edited, "\n") + "\n"
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"old/f.txt": base, "new/f.txt": want})
	cmd := exec.Command(diff, "-u", "-r", "old", "new")
	cmd.Dir = dir
	out, _ := cmd.Output() // diff exits 1 when the files differ
	if len(out) == 0 {
		t.Fatal("diff produced nothing")
	}
	work := t.TempDir()
	writeTree(t, work, map[string]string{"f.txt": base})
	res, err := Apply(work, "gen.patch", out)
	if err != nil {
		t.Fatalf("Apply: %v\n%s", err, out)
	}
	if got := readTree(t, work)["f.txt"]; got != want || res.Strip != 1 {
		t.Errorf("strip %d, result differs from diff's new file", res.Strip)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"))
	f.Add([]byte("diff --git a/x b/y\nrename from x\nrename to y\n"))
	f.Add([]byte("--- /dev/null\n+++ b/n\n@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := Parse(data)
		if err != nil {
			return
		}
		for _, fl := range files {
			if _, _, err := applyFile([]byte(config), fl.Hunks); err != nil {
				continue
			}
		}
	})
}
