package lockfile

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

const condaLockHint = "conda-lock records an md5 for every conda package, so write the lock again with conda-lock"

// condaLock reads conda-lock's unified lock file (version 1, the one conda-lock writes):
// metadata, and a package list of {name, version, manager, platform, url, hash: {md5,
// sha256}, ...}. A package is listed once per platform and per category, and a noarch
// one carries the platform it was locked for. Early pixi wrote this shape too, as
// versions 1 to 3.
func (p *parser) condaLock(root *yaml.Node) error {
	if len(p.opts.Environments) > 0 {
		return p.selectionErrorf("is a conda-lock file, which holds one environment; only pixi.lock files have several")
	}
	if v := str(root, "version"); v != "1" {
		return p.errorf(line(get(root, "version")), "", "is a conda-lock file of version %q; condachan reads version 1, the one conda-lock writes (if it is an old pixi.lock, run pixi lock with a current pixi to rewrite it)", v)
	}
	var have nameSet
	for _, n := range items(get(get(root, "metadata"), "platforms")) {
		if n = deref(n); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
			have.add(n.Value)
		}
	}
	for _, n := range items(get(root, "package")) {
		platform := str(n, "platform")
		if platform != "" {
			have.add(platform)
		}
		if !selected(p.opts.Platforms, platform) {
			continue
		}
		if err := p.condaLockPackage(deref(n), platform); err != nil {
			return err
		}
	}
	if u := have.missing(p.opts.Platforms); len(u) > 0 {
		return p.selectionErrorf("has no platform %s; it has %s", list(u), list(have.list))
	}
	return nil
}

func (p *parser) condaLockPackage(n *yaml.Node, platform string) error {
	name, version := str(n, "name"), str(n, "version")
	switch m := str(n, "manager"); {
	case m == "pip":
		p.pypi.add(strings.TrimSpace(name + " " + version))
		return nil
	case m != "conda":
		return p.errorf(line(n), name, "has manager %q; conda-lock writes conda or pip", m)
	case platform == "":
		return p.errorf(line(n), name, "has no platform")
	}
	hash := get(n, "hash")
	pkg, err := p.newPackage(line(n), str(n, "url"), claim{
		name: name, version: version, build: str(n, "build"), platform: platform,
		md5: str(hash, "md5"), sha256: str(hash, "sha256"), hint: condaLockHint,
	})
	if err != nil {
		return err
	}
	return p.add(pkg)
}
