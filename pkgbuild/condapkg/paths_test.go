package condapkg_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/pkgbuild/condapkg"
)

func TestCheckPath(t *testing.T) {
	good := []string{
		"a", "a/b", "bin/blender", ".hidden/x", "...", "..a", "a..", "a b/c d", "a-.-b",
		"share/données/café-☕.txt", "日本語/ファイル.txt", strings.Repeat("long/", 60) + "x",
	}
	for _, p := range good {
		if err := condapkg.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	bad := []string{
		"",                 // empty
		"/etc/passwd", "/", // absolute
		"..", "../a", "a/..", "a/../b", "a/b/../../..", // ".." components
		"C:/Windows", "c:x", "C:", // drive letters
		`a\b`, `\a`, `..\x`, `C:\x`, // backslashes
		"a//b", "a/", "//a", // empty components
		".", "./a", "a/./b", "a/.", // "." components
		"a\x00b", "\x00", // NUL
		"\xff", "a/\xc3", "caf\xe9", // invalid UTF-8
	}
	for _, p := range bad {
		if err := condapkg.CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) = nil, want an error", p)
		}
	}
}

func TestCheckPathRefusesControlCharacters(t *testing.T) {
	tests := []struct{ path, want string }{
		{"a\x00b", `path "a\x00b" contains the control character \x00`},
		{"bin/a\nb", `path "bin/a\nb" contains the control character \x0a`},
		{"a\rb", `\x0d`},
		{"tab\there", `path "tab\there" contains the control character \x09`},
		{"\x1b[31mred", `\x1b`},
		{"x\x1f", `\x1f`},
		{"del\x7f", `path "del\x7f" contains the control character \x7f`},
		{"share/caf\u00e9\x01", `\x01`},
	}
	for _, tt := range tests {
		err := condapkg.CheckPath(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckPath(%q) = %v, want an error containing %s", tt.path, err, tt.want)
		}
	}
	// Printable characters next to the range stay allowed.
	for _, p := range []string{"a b", "a~b", "a\u0080b", "a\u00a0b"} {
		if err := condapkg.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
}

func TestCheckLinkTarget(t *testing.T) {
	for _, c := range []struct {
		link, target string
		ok           bool
	}{
		{"a/b", "../x", true},
		{"a/b", "../../x", false},
		{"a", "x", true},
		{"a", "../x", false},
		{"a", "..", false},
		{"a/b", "..", true}, // the prefix itself
		{"a/b", "../..", false},
		{"bin/blender", "../opt/blender/blender", true},
		{"lib/libapp.so", "libapp.so.1", true},
		{"a/b/c", "../../x/y", true},
		{"a/b/c", "../../../x", false},
		{"a/b", "./x", true},
		{"a/b", "x//y", true},
		{"a/b", "x/", true},
		{"a/b", `..\x`, true},        // backslash read as a separator, still inside
		{"a/b", `..\..\x`, false},    // ... and outside
		{"a/b", "/x", false},         // absolute
		{"a/b", "/", false},          // absolute
		{"a/b", `\x`, false},         // absolute on Windows
		{"a/b", `\\server\x`, false}, // UNC
		{"a/b", "C:/x", false},       // drive
		{"a/b", "c:", false},         // drive-relative
		{"a/b", "", false},
		{"a/b", "x\x00y", false},
		{"a/b", "\xff", false},
		// ".." after a name: inside lexically, but the name may be a link (see
		// TestLinkEscapeThroughLink).
		{"a/b", "c/../../x", false},
		{"a/b", "c/../x", false},
		{"a/b", "x/..", false},
		{"a/b", "../c/../x", false},
	} {
		err := condapkg.CheckLinkTarget(c.link, c.target)
		if (err == nil) != c.ok {
			t.Errorf("CheckLinkTarget(%q, %q) = %v, want ok=%v", c.link, c.target, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), c.link) {
			t.Errorf("CheckLinkTarget(%q, %q): error %q does not name the link", c.link, c.target, err)
		}
	}
}

// TestLinkEscapeThroughLink shows why a ".." after a name is refused: with a/c -> ".",
// both links look inside the prefix lexically, yet a/b -> c/../../x resolves outside.
func TestLinkEscapeThroughLink(t *testing.T) {
	tmp := t.TempDir()
	prefix := filepath.Join(tmp, "prefix")
	if err := os.MkdirAll(filepath.Join(prefix, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "x"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(prefix, "a", "c")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("c/../../x", filepath.Join(prefix, "a", "b")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(prefix, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if rel, _ := filepath.Rel(prefix, real); !strings.HasPrefix(rel, "..") {
		t.Fatalf("expected the link to escape, it resolves to %s", real)
	}
	if err := condapkg.CheckLinkTarget("a/c", "."); err != nil {
		t.Errorf("a/c -> . is harmless on its own: %v", err)
	}
	if err := condapkg.CheckLinkTarget("a/b", "c/../../x"); err == nil {
		t.Errorf("a/b -> c/../../x escapes through a/c but was accepted")
	}
}

func TestStemAndMembers(t *testing.T) {
	for in, want := range map[string]string{
		"blender-4.1.1-0.conda":             "blender-4.1.1-0",
		"/chan/linux-64/x-1-0.conda":        "x-1-0",
		`C:\chan\win-64\x-1-0.conda`:        "x-1-0",
		"x-1-0.tar.bz2":                     "",
		".conda":                            "",
		"dir/.conda":                        "",
		"x-1-0.conda.part":                  "",
		"s3://bucket/Conda/Default/a.conda": "a",
	} {
		if got := condapkg.Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
	if condapkg.PkgMember("x-1-0") != "pkg-x-1-0.tar.zst" || condapkg.InfoMember("x-1-0") != "info-x-1-0.tar.zst" {
		t.Error("member names")
	}
}
