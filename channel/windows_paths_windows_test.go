//go:build windows

package channel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// How channel locations and keys map to Windows paths, with Windows' own filepath.

func TestParseLocationOnWindows(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`C:\conda\channel`, `C:\conda\channel`},
		{`C:/conda`, `C:\conda`},
		{`c:\conda\..\channel`, `c:\channel`},
		{`C://conda`, `C:\conda`},
		{"file:///C:/conda/channel", `C:\conda\channel`},
		{"FILE:///C:/conda/channel", `C:\conda\channel`},
		{"file:///c:/My%20Channels/x", `c:\My Channels\x`},
		{"file://localhost/C:/conda", `C:\conda`},
		{"file:///C:", `C:\`},
		{`\\server\share\channel`, `\\server\share\channel`},
		{"//server/share/channel", `\\server\share\channel`},
		{"file://server/share/channel", `\\server\share\channel`},
		{"file:////server/share/channel", `\\server\share\channel`},
	} {
		loc, err := ParseLocation(c.raw)
		if err != nil || loc.Dir != c.want || loc.IsS3() {
			t.Errorf("ParseLocation(%q) = %+v, %v; want Dir %q", c.raw, loc, err, c.want)
		}
	}
	// A relative path becomes absolute on the current drive.
	loc, err := ParseLocation(`conda\channel`)
	if err != nil || filepath.VolumeName(loc.Dir) == "" || !strings.HasSuffix(loc.Dir, `\conda\channel`) {
		t.Errorf("relative path: %+v %v", loc, err)
	}
}

func TestLocalKeysOnWindows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Path("win-64/blender-4.1.1-0.conda")
	if err != nil || p != dir+`\win-64\blender-4.1.1-0.conda` {
		t.Errorf("Path = %q, %v", p, err)
	}
	if _, err := st.Put(ctx, "win-64/blender-4.1.1-0.conda", strings.NewReader("pkg"), 3, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "win-64", "blender-4.1.1-0.conda")); err != nil {
		t.Error(err)
	}
	var keys []string
	if err := st.List(ctx, "win-64/", func(o Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "win-64/blender-4.1.1-0.conda" {
		t.Errorf("List = %q: keys must use /", keys)
	}
	for _, key := range []string{`win-64\x.conda`, `C:\x`, `\\server\share\x`} {
		if _, err := st.Path(key); err == nil {
			t.Errorf("Path(%q) accepted", key)
		}
	}
}
