package globset

import "testing"

func TestCompile(t *testing.T) {
	tests := []struct {
		glob string
		path string
		want bool
	}{
		{"*.so", "libx.so", true},
		{"*.so", "lib/libx.so", true}, // * crosses / as in globset without literal_separator
		{"lib/*.so", "lib/a/b.so", true},
		{"?", "a", true},
		{"?", "ab", false},
		{"**/*.txt", "a.txt", true},
		{"**/*.txt", "x/y/a.txt", true},
		{"opt/**", "opt/a", true},
		{"opt/**", "opt", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/xb", false},
		{"**", "anything/at/all", true},
		{"a**b", "axxb", true},
		{"{bin,lib}/x", "lib/x", true},
		{"{bin,lib}/x", "etc/x", false},
		{"x{,.exe}", "x", true},
		{"x{,.exe}", "x.exe", true},
		{"[ab].txt", "a.txt", true},
		{"[!ab].txt", "a.txt", false},
		{"[!ab].txt", "c.txt", true},
		{"[a-c]x", "bx", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"a.b", "axb", false},
		{"(x)+", "(x)+", true},
	}
	for _, tt := range tests {
		g, err := Compile(tt.glob)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.glob, err)
		}
		if got := g.Match(tt.path); got != tt.want {
			t.Errorf("%q matching %q = %v, want %v", tt.glob, tt.path, got, tt.want)
		}
	}
}

func TestCompilePath(t *testing.T) {
	tests := []struct {
		glob string
		path string
		want bool
	}{
		{"bin", "bin", true},
		{"bin", "bin/x", true},
		{"bin", "binx", false},
		{"./opt/app", "opt/app/lib/a.so", true},
		{"opt/", "opt/a", true},
		{".", "x/y", true},
		{"*.txt", "doc/a.txt", true},
		{"share/doc", "share/docs/x", false},
	}
	for _, tt := range tests {
		g, err := CompilePath(tt.glob)
		if err != nil {
			t.Fatalf("CompilePath(%q): %v", tt.glob, err)
		}
		if got := g.Match(tt.path); got != tt.want {
			t.Errorf("%q matching %q = %v, want %v", tt.glob, tt.path, got, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	s, err := NewSet([]string{"opt/"}, []string{"opt/app/docs"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"opt/app/bin/x": true, "opt/app/docs/i.html": false, "bin/x": false} {
		if got := s.Match(p); got != want {
			t.Errorf("Match(%q) = %v, want %v", p, got, want)
		}
	}
	if (&Set{}).Match("x") {
		t.Error("an empty set matched")
	}
	onlyExclude, _ := NewSet(nil, []string{"*.la"})
	if !onlyExclude.Match("lib/a.so") || onlyExclude.Match("lib/a.la") {
		t.Error("exclude-only set: want everything but *.la")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, bad := range []string{"[abc", "{a,b", "{a,{b}}", `x\`} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"*.so", "**/x", "{a,b}/[!c]?", `\[`, "a/**/b{,/**}"} {
		f.Add(s, "a/b/c")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		g, err := Compile(pattern)
		if err != nil {
			return
		}
		g.Match(path)
		if pattern == path && !containsMeta(pattern) && !g.Match(path) {
			t.Errorf("literal pattern %q does not match itself", pattern)
		}
	})
}

func containsMeta(s string) bool {
	for _, c := range s {
		switch c {
		case '*', '?', '[', ']', '{', '}', ',', '\\':
			return true
		}
	}
	return false
}
