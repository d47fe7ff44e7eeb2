package lockfile

import (
	"cmp"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const pixiHint = "lock it from a channel whose repodata lists sha256 (conda-forge and other public channels do), and run pixi lock again"

// pixiLock is a pixi.lock's top-level package records, by location.
type pixiLock struct {
	version int
	conda   map[string][]*yaml.Node
	pypi    map[string]string // location → "name version", for messages
	subdirs map[string]string // version 7: platform name → subdir
	built   map[string]Package
}

// pixi reads a pixi.lock: environments → platforms → [{conda: <url>} | {pypi: <url>}],
// and a top-level list of package records with the hashes. Versions 4 and 5 write
// records as {kind: conda, url: ...}; 6 keys them by location ({conda: <url>}); 7 adds a
// top-level platforms list (an environment's platforms are names, mapped to subdirs
// there) and conda_source entries. Versions 1-3 had conda-lock's shape (see condaLock).
func (p *parser) pixi(root *yaml.Node) error {
	v := str(root, "version")
	version, err := strconv.Atoi(v)
	if err != nil || version < 4 || version > 7 {
		return p.errorf(line(get(root, "version")), "", "is a pixi.lock of version %q; condachan reads versions 4, 5, 6 and 7: run pixi lock with a current pixi to rewrite it", v)
	}
	lock := &pixiLock{version: version, conda: map[string][]*yaml.Node{}, pypi: map[string]string{}, built: map[string]Package{}}
	for _, n := range items(get(root, "packages")) {
		switch kind, loc := pixiRecordKind(version, deref(n)); kind {
		case "conda":
			lock.conda[loc] = append(lock.conda[loc], deref(n))
		case "pypi":
			lock.pypi[loc] = strings.TrimSpace(str(n, "name") + " " + str(n, "version"))
		}
	}
	if version >= 7 {
		lock.subdirs = map[string]string{}
		for _, n := range items(get(root, "platforms")) {
			lock.subdirs[str(n, "name")] = cmp.Or(str(n, "subdir"), str(n, "name"))
		}
	}
	var envs, platforms nameSet
	for env, e := range pairs(get(root, "environments")) {
		envs.add(env)
		if !selected(p.opts.Environments, env) {
			continue
		}
		for platform, list := range pairs(get(e, "packages")) {
			if platforms.add(platform); !selected(p.opts.Platforms, platform) {
				continue
			}
			if err := p.pixiPlatform(lock, env, platform, list); err != nil {
				return err
			}
		}
	}
	if u := envs.missing(p.opts.Environments); len(u) > 0 {
		return p.selectionErrorf("has no environment %s; it has %s", list(u), list(envs.list))
	}
	if u := platforms.missing(p.opts.Platforms); len(u) > 0 {
		return p.selectionErrorf("has no platform %s in the environments read; they have %s", list(u), list(platforms.list))
	}
	return nil
}

// pixiRecordKind is a record's kind (conda, pypi, conda_source) and location.
func pixiRecordKind(version int, n *yaml.Node) (kind, loc string) {
	if version <= 5 {
		return str(n, "kind"), cmp.Or(str(n, "url"), str(n, "path"))
	}
	for _, k := range [...]string{"conda", "pypi", "conda_source"} {
		if loc := str(n, k); loc != "" {
			return k, loc
		}
	}
	return "", ""
}

// pixiPlatform reads the packages of one environment's platform.
func (p *parser) pixiPlatform(lock *pixiLock, env, platform string, list *yaml.Node) error {
	subdir := platform
	if lock.subdirs != nil {
		if subdir = lock.subdirs[platform]; subdir == "" {
			return p.errorf(line(list), "", "environment %s uses platform %s, which the lock's platforms list does not name; the lock is damaged: run pixi lock again", env, platform)
		}
	}
	for _, n := range items(list) {
		if err := p.pixiEntry(lock, deref(n), env, subdir); err != nil {
			return err
		}
	}
	return nil
}

// pixiEntry reads one package of an environment's platform.
func (p *parser) pixiEntry(lock *pixiLock, n *yaml.Node, env, subdir string) error {
	ln, loc := line(n), str(n, "conda")
	if pypi := str(n, "pypi"); pypi != "" {
		p.pypi.add(cmp.Or(lock.pypi[pypi], pypi))
		return nil
	}
	if src := str(n, "conda_source"); src != "" {
		// Version 7 names a source package "<name>[<hash>] @ <location>".
		name, _, _ := strings.Cut(src, "[")
		_, where, _ := strings.Cut(src, " @ ")
		return p.errorf(ln, strings.TrimSpace(name), sourcePackage, redact(cmp.Or(where, src)))
	}
	if loc == "" {
		return p.errorf(ln, "", "environment %s has an entry with neither conda nor pypi; the lock is damaged, or newer than condachan knows", env)
	}
	records := lock.conda[loc]
	if len(records) == 0 {
		return p.errorf(ln, cmp.Or(str(n, "name"), entryName(loc)), "environment %s lists %s, but the lock has no package record for it; the lock is damaged: run pixi lock again", env, redact(loc))
	}
	if msg := notMirrored(loc); msg != "" {
		return p.errorf(ln, cmp.Or(str(n, "name"), str(records[0], "name"), entryName(loc)), "%s", msg)
	}
	pkg, err := p.pixiBuild(lock, loc)
	if err != nil {
		return err
	}
	// Version 6 entries may repeat name/version/build/subdir to tell records apart.
	sel := claim{name: str(n, "name"), version: str(n, "version"), build: str(n, "build"), subdir: str(n, "subdir"), platform: subdir}
	if err := crossCheck(pkg, sel); err != nil {
		return p.errorf(ln, pkg.Name, "environment %s: %v", env, err)
	}
	return p.add(pkg)
}

// pixiBuild checks the records of a location once, however many environments use it.
// Records of one location are one file (versions 4 and 5 repeat noarch ones), merged.
func (p *parser) pixiBuild(lock *pixiLock, loc string) (Package, error) {
	if pkg, ok := lock.built[loc]; ok {
		return pkg, nil
	}
	var first Package
	for i, r := range lock.conda[loc] {
		c := claim{
			name: str(r, "name"), version: str(r, "version"), build: str(r, "build"), subdir: str(r, "subdir"),
			md5: str(r, "md5"), sha256: str(r, "sha256"), size: str(r, "size"), hint: pixiHint,
		}
		if lock.version <= 5 {
			// Versions 4 and 5 record a noarch package once per platform, with that
			// platform as its subdir.
			c.platform, c.subdir = c.subdir, ""
		}
		pkg, err := p.newPackage(line(r), loc, c)
		if err == nil && i > 0 {
			err = p.merge(&first, pkg)
		} else if i == 0 {
			first = pkg
		}
		if err != nil {
			return first, err
		}
	}
	lock.built[loc] = first
	return first, nil
}

// notMirrored says why a location cannot be mirrored, "" for a package file URL.
func notMirrored(loc string) string {
	u, err := url.Parse(loc)
	remote := err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	file := strings.HasSuffix(loc, ".conda") || strings.HasSuffix(loc, ".tar.bz2") ||
		err == nil && (strings.HasSuffix(u.Path, ".conda") || strings.HasSuffix(u.Path, ".tar.bz2"))
	switch {
	case remote && file:
		return ""
	case file:
		return "is a package file on the machine that wrote the lock (" + redact(loc) + ") and cannot be fetched from elsewhere; publish it to a channel and lock it from there"
	}
	return fmt.Sprintf(sourcePackage, redact(loc))
}

const sourcePackage = "is a source package, which pixi builds from %s; condachan mirrors package files only: build it, publish it to a channel and lock it from there"
