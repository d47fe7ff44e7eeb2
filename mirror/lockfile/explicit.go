package lockfile

import (
	"bytes"
	"fmt"
	"strings"
)

// explicitMarker is the line conda requires before it reads a file as package URLs.
const explicitMarker = "@EXPLICIT"

const explicitHint = "write the file with `conda list --explicit --md5` (or --sha256), or with conda-lock"

func hasExplicitMarker(data []byte) bool {
	for line := range bytes.Lines(data) {
		if string(bytes.TrimSpace(line)) == explicitMarker {
			return true
		}
	}
	return false
}

// explicit reads a conda explicit file: an @EXPLICIT line, then one package URL per line,
// each with an optional #<hash> fragment. Comments are skipped except for the ones that
// say something about the packages: "# platform: <subdir>" (conda, conda-lock), "# pip
// <name> @ <url>" (conda-lock's PyPI packages, which conda ignores but conda-lock
// installs) and "# no URL for: <file>" (conda's note for a package it has no URL for).
func (p *parser) explicit(text string) error {
	if len(p.opts.Environments) > 0 {
		return p.selectionErrorf("is an explicit file, which has no environments; only pixi.lock files have them")
	}
	var platform string
	marker := false
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		switch {
		case t == "":
		case strings.HasPrefix(t, "#"):
			c := strings.TrimSpace(t[1:])
			if v, ok := strings.CutPrefix(c, "platform:"); ok {
				v = strings.TrimSpace(v)
				if platform != "" && platform != v {
					return p.errorf(n, "", "says platform %s, but an earlier line says %s", v, platform)
				}
				platform = v
			} else if v, ok := strings.CutPrefix(c, "pip "); ok && strings.Contains(v, " @ ") {
				p.pypi.add(pipName(v))
			} else if v, ok := strings.CutPrefix(c, "no URL for:"); ok {
				return p.errorf(n, strings.TrimSpace(v), "conda wrote no download URL for it (a local build, or a channel it no longer knows), so it cannot be mirrored; publish it to a channel, install it from there and write the file again")
			}
		case t == explicitMarker:
			marker = true
		case !marker:
			return p.errorf(n, "", "%q comes before the @EXPLICIT line; conda reads package URLs only after it", t)
		default:
			if err := p.explicitLine(n, t, platform); err != nil {
				return err
			}
		}
	}
	return p.explicitPlatforms(platform)
}

// explicitLine reads one URL line.
func (p *parser) explicitLine(n int, t, platform string) error {
	if !strings.Contains(t, "://") || strings.ContainsAny(t, " \t") {
		return p.errorf(n, "", "%q is not a package URL; an explicit file lists one conda package URL per line (pip and other lines do not belong in it)", t)
	}
	raw, frag, _ := strings.Cut(t, "#")
	c := claim{platform: platform, hint: explicitHint}
	if err := explicitHash(frag, &c); err != nil {
		return p.errorf(n, entryName(raw), "%v", err)
	}
	pkg, err := p.newPackage(n, raw, c)
	if err != nil {
		return err
	}
	if pkg.Subdir == "noarch" {
		return p.add(pkg)
	}
	if p.subdirs.add(pkg.Subdir); !selected(p.opts.Platforms, pkg.Subdir) {
		return nil
	}
	return p.add(pkg)
}

// explicitHash reads a URL fragment: what conda writes (32 hex digits: md5, 64: sha256),
// what conda also reads ("sha256:<hex>") and the key=value forms some tools write.
func explicitHash(frag string, c *claim) error {
	kind, hex, ok := strings.Cut(frag, "=")
	if !ok {
		kind, hex, ok = strings.Cut(frag, ":")
	}
	if !ok {
		switch len(frag) {
		case 0:
			return nil
		case 32:
			kind, hex = "md5", frag
		case 64:
			kind, hex = "sha256", frag
		}
	}
	switch strings.ToLower(kind) {
	case "md5":
		c.md5 = hex
	case "sha256":
		c.sha256 = hex
	default:
		return fmt.Errorf("hash #%s is neither md5 (32 hex digits) nor sha256 (64)", frag)
	}
	// An empty value would read as "no hash" and skip the check that follows.
	if hex == "" {
		return fmt.Errorf("hash #%s is empty", frag)
	}
	return nil
}

// explicitPlatforms refuses a platform filter naming a platform the file is not for.
func (p *parser) explicitPlatforms(platform string) error {
	have := &p.subdirs
	if platform != "" {
		have = &nameSet{}
		have.add(platform)
	} else if len(have.list) == 0 {
		return nil // only noarch packages, which every platform keeps
	}
	if u := have.missing(p.opts.Platforms); len(u) > 0 {
		return p.selectionErrorf("has no packages for platform %s; it has %s", list(u), list(have.list))
	}
	return nil
}

// pipName is the project name in a conda-lock "# pip <name> @ <url>" line.
func pipName(req string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(req), " ")
	return name
}
