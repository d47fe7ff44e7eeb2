package mirrortest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lock formats the tests write.
const (
	ExplicitMD5    = "explicit-md5"    // conda list --explicit --md5
	ExplicitSHA256 = "explicit-sha256" // conda-lock --kind explicit / conda's #sha256: form
	Pixi           = "pixi"            // pixi.lock, version 6
	CondaLock      = "conda-lock"      // conda-lock.yml, version 1
)

// Formats are all of them.
var Formats = []string{ExplicitMD5, ExplicitSHA256, Pixi, CondaLock}

// WriteLock writes the environment's lock in format into dir and returns its path.
func (u *Upstream) WriteLock(t testing.TB, dir, format string) string {
	t.Helper()
	var name, body string
	switch format {
	case ExplicitMD5:
		name, body = "render-env.txt", u.explicit(func(p Package) string { return p.MD5 })
	case ExplicitSHA256:
		name, body = "render-env.lock", u.explicit(func(p Package) string { return "sha256:" + p.SHA256 })
	case Pixi:
		name, body = "pixi.lock", u.pixiLock()
	case CondaLock:
		name, body = "conda-lock.yml", u.condaLock()
	default:
		t.Fatalf("no lock format %q", format)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// explicit is a conda explicit file; fragment gives each URL's hash fragment.
func (u *Upstream) explicit(fragment func(Package) string) string {
	var b strings.Builder
	b.WriteString("# This file may be used to create an environment using:\n# $ conda create --name <env> --file <this file>\n# platform: linux-64\n@EXPLICIT\n")
	for _, p := range u.Locked() {
		fmt.Fprintf(&b, "%s#%s\n", p.URL, fragment(p))
	}
	return b.String()
}

// pixiLock is a pixi.lock (version 6) with the environment as "default" and a second
// environment "tools" that holds only render-base.
func (u *Upstream) pixiLock() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 6\nenvironments:\n  default:\n    channels:\n    - url: %s/\n    packages:\n      linux-64:\n", u.URL)
	for _, p := range u.Locked() {
		fmt.Fprintf(&b, "      - conda: %s\n", p.URL)
	}
	base := u.Find(nil, "render-base-1.0.1-0.conda")
	fmt.Fprintf(&b, "  tools:\n    channels:\n    - url: %s/\n    packages:\n      linux-64:\n      - conda: %s\n", u.URL, base.URL)
	b.WriteString("packages:\n")
	for _, p := range u.Locked() {
		fmt.Fprintf(&b, "- conda: %s\n  sha256: %s\n  md5: %s\n  depends: []\n  license: MIT\n  size: %d\n  timestamp: 1700000000000\n", p.URL, p.SHA256, p.MD5, p.Size)
	}
	return b.String()
}

// condaLock is a conda-lock.yml (version 1) for linux-64; noarch packages are listed
// under the environment's platform with their noarch URL, as conda-lock writes them.
func (u *Upstream) condaLock() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nmetadata:\n  content_hash:\n    linux-64: 0123abcd\n  channels:\n  - url: %s\n    used_env_vars: []\n  platforms:\n  - linux-64\n  sources:\n  - environment.yml\npackage:\n", u.URL)
	for _, p := range u.Locked() {
		fmt.Fprintf(&b, "- name: %s\n  version: '%s'\n  manager: conda\n  platform: linux-64\n  dependencies: {}\n  url: %s\n  hash:\n    md5: %s\n    sha256: %s\n  category: main\n  optional: false\n", p.Name, p.Version, p.URL, p.MD5, p.SHA256)
	}
	return b.String()
}
