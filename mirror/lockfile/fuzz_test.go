package lockfile

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
)

// packageInvariants is what every package Parse returns guarantees to the mirror: a hash
// to verify it by, and a subdir and file name that are safe keys in a channel.
func packageInvariants(p Package) error {
	if p.SHA256 == "" && p.MD5 == "" {
		return errors.New("no hash")
	}
	if _, err := hexHash(p.SHA256, 64, "sha256"); err != nil || p.SHA256 != strings.ToLower(p.SHA256) {
		return fmt.Errorf("sha256 %q", p.SHA256)
	}
	if _, err := hexHash(p.MD5, 32, "md5"); err != nil || p.MD5 != strings.ToLower(p.MD5) {
		return fmt.Errorf("md5 %q", p.MD5)
	}
	if !channel.IsSubdir(p.Subdir) {
		return fmt.Errorf("subdir %q", p.Subdir)
	}
	n, v, b, err := splitFilename(p.Filename)
	if err != nil || n != p.Name || v != p.Version || b != p.Build || strings.ContainsAny(p.Filename, "/\\") {
		return fmt.Errorf("file name %q: %v", p.Filename, err)
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Fragment != "" {
		return fmt.Errorf("URL %q", p.URL)
	}
	if dir, file := path.Split(u.Path); file != p.Filename || path.Base(dir) != p.Subdir {
		return fmt.Errorf("URL %q is not .../%s/%s", p.URL, p.Subdir, p.Filename)
	}
	if p.Size < 0 || p.Origin == "" {
		return fmt.Errorf("size %d origin %q", p.Size, p.Origin)
	}
	return nil
}

// fuzzParse checks that Parse never panics, that what it returns keeps the package
// invariants and is de-duplicated, and that its errors are the documented types.
func fuzzParse(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "linux-64")
	}
	f.Fuzz(func(t *testing.T, data []byte, platform string) {
		var opts Options
		if platform != "" {
			opts.Platforms = []string{platform}
		}
		lock, err := Parse(strings.NewReader(string(data)), "fuzz.lock", opts)
		if err != nil {
			var le *Error
			var pe *PyPIError
			if !errors.As(err, &le) && !errors.As(err, &pe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range lock.Packages {
			if err := packageInvariants(p); err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			key := p.Subdir + "/" + p.Filename
			if seen[key] {
				t.Fatalf("%s twice", key)
			}
			seen[key] = true
		}
	})
}

func FuzzParseExplicit(f *testing.F) {
	fuzzParse(f, condaExplicitMD5, condaExplicitSHA256, condaLockExplicit,
		"@EXPLICIT\nhttps://a.example/c/noarch/x-1-0.conda#md5=0123456789abcdef0123456789abcdef\n",
		"# pip x @ https://x\n@EXPLICIT\n# no URL for: x\n")
}

func FuzzParsePixi(f *testing.F) {
	fuzzParse(f, pixiV6, pixiV7, pixiV5, pixiPyPI,
		"version: 6\nenvironments: {e: {packages: {linux-64: [{conda: u}]}}}\npackages: [{conda: u, md5: x}]\n",
		"version: 6\nenvironments: {e: {packages: {linux-64: [{conda: 'https://h/c/noarch/a-1-0.conda'}, {pypi: w}]}}}\n"+
			"packages: [{conda: 'https://h/c/noarch/a-1-0.conda', md5: 0123456789abcdef0123456789abcdef, size: 1}, {pypi: w, name: b}]\n",
		"version: 5\nenvironments: {e: {packages: {linux-64: [{conda: 'https://h/c/linux-64/a-1-0.tar.bz2'}]}}}\n"+
			"packages: [{kind: conda, name: a, version: '1', build: '0', subdir: linux-64, url: 'https://h/c/linux-64/a-1-0.tar.bz2', sha256: &s 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}]\n",
		"version: 7\nplatforms: [{name: p, subdir: osx-arm64}]\nenvironments: {e: {packages: {p: [{conda: 'https://h/c/osx-arm64/a-1-0.conda'}, {conda_source: 'x[1] @ .'}]}}}\n"+
			"packages: [{conda: 'https://h/c/osx-arm64/a-1-0.conda', md5: 0123456789abcdef0123456789abcdef}]\n")
}

func FuzzParseCondaLock(f *testing.F) {
	fuzzParse(f, condaLockYML, condaLockYML+condaLockPip,
		"version: 1\nmetadata: {platforms: [linux-64]}\npackage: [{manager: conda, platform: linux-64, url: u, hash: {md5: x}}]\n",
		"version: 1\nmetadata: {}\npackage: [{name: a, version: '1', build: '0', manager: conda, platform: linux-64, url: 'https://h/c/noarch/a-1-0.conda', hash: &h {md5: 0123456789abcdef0123456789abcdef}},\n"+
			" {name: a, manager: conda, platform: osx-64, url: 'https://h/c/noarch/a-1-0.conda', hash: *h}, {name: b, manager: pip, platform: osx-64, url: w, hash: {}}]\n")
}
