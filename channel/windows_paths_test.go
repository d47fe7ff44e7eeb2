package channel

import (
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// Windows-style channel paths, as pure string handling: these run on every system.

func TestFileURLPathWindows(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"file:///C:/conda/channel", `C:\conda\channel`},
		{"file:///c:/My%20Channels/x", `c:\My Channels\x`},
		{`file:///C:\conda\channel`, `C:\conda\channel`},
		{"file://localhost/C:/conda", `C:\conda`},
		{"file:///C:", `C:\`},
		{"file:///C:/", `C:\`},
		{"file://C:/conda", `C:\conda`}, // two slashes: still the drive
		{"file://server/share/channel", `\\server\share\channel`},
		{"file:////server/share/channel", `\\server\share\channel`},
		{"file:///conda", `\conda`}, // the current drive's root
	} {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		got, err := fileURLPath(c.raw, u, true)
		if err != nil || got != c.want {
			t.Errorf("fileURLPath(%q, windows) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	u, _ := url.Parse("file://server/")
	if _, err := fileURLPath("file://server/", u, true); err == nil || !strings.Contains(err.Error(), "share") {
		t.Errorf("a UNC URL without a share: %v", err)
	}
}

func TestFileURLPathUnix(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"file:///srv/conda", "/srv/conda"},
		{"file://localhost/srv/conda", "/srv/conda"},
		{"file:///C:/conda", "/C:/conda"}, // an absolute path whose first folder is "C:"
		{"file:///srv/My%20Channel", "/srv/My Channel"},
	} {
		u, _ := url.Parse(c.raw)
		got, err := fileURLPath(c.raw, u, false)
		if err != nil || got != c.want {
			t.Errorf("fileURLPath(%q) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	u, _ := url.Parse("file://server/share/channel")
	if _, err := fileURLPath("file://server/share/channel", u, false); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("a file URL with a host outside Windows: %v", err)
	}
}

// Windows paths are folders, never URLs or S3 channels, whatever system parses them.
func TestParseLocationWindowsStyleIsLocal(t *testing.T) {
	for _, raw := range []string{`C:\conda\channel`, `C:/conda`, `c:\conda`, `\\server\share\channel`, `//server/share/channel`, `D:conda`, `conda\channel`} {
		for _, windows := range []bool{false, true} {
			loc, err := parseLocation(raw, windows)
			if err != nil || loc.IsS3() || loc.Dir == "" {
				t.Errorf("parseLocation(%q, windows=%v) = %+v, %v", raw, windows, loc, err)
			}
		}
	}
	// C://conda is a drive on Windows, an unknown scheme elsewhere.
	if loc, err := parseLocation("C://conda", true); err != nil || loc.IsS3() {
		t.Errorf("C://conda on Windows: %+v %v", loc, err)
	}
	if _, err := parseLocation("C://conda", false); err == nil {
		t.Error("C://conda outside Windows: no error")
	}
	if runtime.GOOS != "windows" {
		loc, err := parseLocation("file:///C:/conda/channel", false)
		if err != nil || loc.Dir != "/C:/conda/channel" {
			t.Errorf("file:///C:/conda/channel outside Windows: %+v %v", loc, err)
		}
	}
}

func TestParseLocationS3Backslash(t *testing.T) {
	for _, raw := range []string{`s3://studio-bucket/Conda\Default`, `s3://studio-bucket\Conda`} {
		if loc, err := ParseLocation(raw); err == nil {
			t.Errorf("%s: accepted as %+v", raw, loc)
		}
	}
	if loc, err := ParseLocation("s3://studio-bucket/Conda/Default/"); err != nil || loc.Prefix != "Conda/Default" {
		t.Errorf("trailing slash: %+v %v", loc, err)
	}
}

// Channel keys always use "/": a key with a backslash or a drive is refused before it can
// become a path on any system.
func TestKeysRefuseWindowsSeparators(t *testing.T) {
	for _, key := range []string{`win-64\blender-4.1.1-0.conda`, `\win-64\x.conda`, `..\x`, `C:\x`, `.condachan\lock.json`} {
		if err := checkKey(key); err == nil {
			t.Errorf("checkKey(%q) accepted", key)
		}
	}
	for _, key := range []string{"win-64/blender-4.1.1-0.conda", "noarch/repodata.json", ".condachan/lock.json"} {
		if err := checkKey(key); err != nil {
			t.Errorf("checkKey(%q): %v", key, err)
		}
	}
}
