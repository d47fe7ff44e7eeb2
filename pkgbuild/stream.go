package pkgbuild

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/condachan/condachan/pkgbuild/archive"
)

// The streaming pass: each source's entries are placed in the source tree, mapped into
// the prefix by build.files and written into the package as they stream. An archive
// inside a source (an installer's payload.tar.gz, the RPMs and package.zip of Maya's
// tarball) is opened where it streams when a build.files rule reaches into it: its
// entries appear beneath its own path in the source tree (installer/houdini.tar.gz/bin/x).

// location names where entries come from: a source, and the archives inside it that
// were opened to reach them (their entry names, outermost first).
type location struct {
	source int
	name   string   // the source's file name, for messages
	nested []string // entry names of the archives opened inside the source
}

func (l location) String() string {
	if len(l.nested) == 0 {
		return l.name
	}
	return l.name + ": " + strings.Join(l.nested, ": ")
}

func (l location) inside(entry string) location {
	return location{source: l.source, name: l.name, nested: append(append([]string{}, l.nested...), entry)}
}

// deferredLink is a hard link whose content streamed past before the link was seen.
type deferredLink struct {
	from    location
	target  string // the entry name (in from's archive) of the file it links to
	dest    string
	mode    os.FileMode
	modTime time.Time
}

func (b *builder) streamSources() error {
	var base int64
	for i, s := range b.sources {
		b.progress.Status(fmt.Sprintf("packing %s", s.name))
		if s.size == 0 { // a directory: measure it now so progress means something
			if s.path != "" {
				s.size = archive.DirSize(os.DirFS(s.path), ".")
			} else {
				s.size = archive.DirSize(s.fsys, s.fsName)
			}
			b.total += s.size
		}
		if err := b.streamSource(i, s, base); err != nil {
			return err
		}
		base += s.size
	}
	return nil
}

func (b *builder) streamSource(idx int, s resolvedSource, base int64) error {
	ar, err := b.open(s, base, true)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	defer ar.Close()
	tree := newSourceTree(s.name, s.Source)
	first := true
	return b.streamEntries(ar, location{source: idx, name: s.name}, func(name string, isDir bool) (string, error) {
		if first {
			first = false
			// Only tars and zips lose a single top folder by default; an RPM's files all
			// sit under usr/, an installer's under its own layout.
			if tree.strip < 0 && !ar.Format().IsTarOrZip() {
				tree.strip = 0
			}
		}
		return tree.place(name, isDir)
	})
}

// streamEntries packs the entries of one archive; place gives each its source-tree path.
func (b *builder) streamEntries(ar *archive.Reader, from location, place func(name string, isDir bool) (string, error)) error {
	content := &ctxReader{ctx: b.ctx, r: ar}
	for {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		en, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		treePath, err := place(en.Name, en.Kind == archive.KindDir)
		if err != nil {
			return err
		}
		if treePath == "" || (b.fromPrefix != nil && b.fromPrefix.excluded(treePath)) {
			continue
		}
		b.seen(treePath)
		if en.Kind == archive.KindFile && b.mapper.reachesInto(treePath) {
			if err := b.streamNested(content, en.Name, treePath, from); err != nil {
				return err
			}
			continue
		}
		if err := b.packEntry(en, treePath, content, from); err != nil {
			return err
		}
	}
}

// streamNested opens the archive that the entry at treePath holds and packs its entries
// beneath that path.
func (b *builder) streamNested(content io.Reader, entry, treePath string, from location) error {
	inner := archive.OpenStream(content, from.String()+": "+entry, archive.Options{Context: b.ctx, TempDir: b.tempDir})
	defer inner.Close()
	// The inner reader's errors and packEntry's name the source and the chain of archives.
	return b.streamEntries(inner, from.inside(entry), func(name string, isDir bool) (string, error) {
		return treePath + "/" + name, nil
	})
}

// packEntry writes one entry into the package where build.files maps it.
func (b *builder) packEntry(en *archive.Entry, treePath string, content io.Reader, from location) error {
	origin := fmt.Sprintf("%s: entry %s", from, en.Name)
	var capture *strings.Builder
	if b.licenseWant[treePath] && en.Kind == archive.KindFile {
		if en.Size > 16<<20 {
			return fmt.Errorf("%s: license file is %d bytes; that is not a license", origin, en.Size)
		}
		capture = &strings.Builder{}
	}
	dest, packaged, executable := b.mapper.dest(treePath)
	if executable {
		en.Mode |= 0o755
	}
	if packaged && en.Kind != archive.KindDir && !b.selection.keep(dest) {
		packaged = false
	}
	if !packaged {
		if capture != nil {
			if _, err := io.Copy(capture, content); err != nil {
				return fmt.Errorf("%s: %w", origin, err)
			}
			b.licenses[treePath] = []byte(capture.String())
		}
		return nil
	}
	if err := checkDest(dest); err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	switch en.Kind {
	case archive.KindDir:
		b.dirEntry[dest] = true
	case archive.KindFile:
		if err := b.reserve(dest, origin, false); err != nil {
			return err
		}
		var src io.Reader = content
		if capture != nil {
			src = io.TeeReader(content, capture)
		}
		scan := b.scanner(dest)
		fr, err := b.pkg.WriteFile(dest, en.Mode, en.Size, en.ModTime, scannedReader(src, scan))
		if err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
		if capture != nil {
			b.licenses[treePath] = []byte(capture.String())
		}
		rec := PathRecord{Path: dest, SHA256: fr.SHA256, Size: fr.Size, NoLink: b.selection.noLinkFor(dest)}
		placeholder, mode, err := scan.Result()
		if err != nil {
			return fmt.Errorf("%s: %w", origin, err)
		}
		rec.PrefixPlaceholder, rec.FileMode = placeholder, string(mode)
		b.addRecord(rec)
		b.contentBytes += fr.Size
	case archive.KindSymlink:
		target := en.Link
		if b.fromPrefix != nil {
			var err error
			if target, err = b.fromPrefix.linkTarget(treePath, target); err != nil {
				return err
			}
		}
		if err := b.addSymlink(dest, target, en.ModTime, origin); err != nil {
			return err
		}
	case archive.KindHardlink:
		// The reader has checked that en.Link is a file earlier in this archive.
		if err := b.reserve(dest, origin, false); err != nil {
			return err
		}
		b.deferred = append(b.deferred, deferredLink{from: from, target: en.Link, dest: dest, mode: en.Mode, modTime: en.ModTime})
	}
	return nil
}

// maxHeldHardlink is how large a hard-linked file may be to be held in memory while its
// links are written; larger ones are read again from the archive for each extra link.
var maxHeldHardlink int64 = 64 << 20

// writeDeferredHardlinks writes hard links as regular files. Their content streamed past
// before the link was seen, so each archive holding links is read once more (reopening
// the archives inside a source that lead to it). A file that several links share is held
// in memory for the others when it is small, and read once more per extra link when it
// is not.
func (b *builder) writeDeferredHardlinks() error {
	for len(b.deferred) > 0 {
		b.progress.Status(fmt.Sprintf("copying %d hard-linked files", len(b.deferred)))
		byArchive := map[string]map[string][]int{} // location -> target -> deferred indexes
		var order []string
		where := map[string]location{}
		for i, d := range b.deferred {
			key := fmt.Sprintf("%d\x00%s", d.from.source, strings.Join(d.from.nested, "\x00"))
			if byArchive[key] == nil {
				byArchive[key] = map[string][]int{}
				order = append(order, key)
				where[key] = d.from
			}
			byArchive[key][d.target] = append(byArchive[key][d.target], i)
		}
		var remaining []deferredLink
		for _, key := range order {
			want := byArchive[key]
			done, err := b.copyHardlinks(where[key], want)
			if err != nil {
				return err
			}
			for _, idxs := range want {
				for _, i := range idxs {
					if !done[i] {
						remaining = append(remaining, b.deferred[i])
					}
				}
			}
		}
		if len(remaining) >= len(b.deferred) {
			return fmt.Errorf("hard link %s: its target %s was not found on the second read", remaining[0].dest, remaining[0].target)
		}
		b.deferred = remaining
	}
	return nil
}

// reopen opens a location's archive again: the source, then each archive inside it.
func (b *builder) reopen(at location) (*archive.Reader, func(), error) {
	s := b.sources[at.source]
	var base int64
	for _, o := range b.sources[:at.source] {
		base += o.size
	}
	ar, err := b.open(s, base, false)
	if err != nil {
		return nil, nil, err
	}
	readers := []*archive.Reader{ar}
	closeAll := func() {
		for i := len(readers) - 1; i >= 0; i-- {
			readers[i].Close()
		}
	}
	for _, entry := range at.nested {
		cur := readers[len(readers)-1]
		found := false
		for {
			en, err := cur.Next()
			if err != nil {
				closeAll()
				if err == io.EOF {
					return nil, nil, fmt.Errorf("%s: %s is gone on the second read", at.name, entry)
				}
				return nil, nil, err
			}
			if en.Name == entry && en.Kind == archive.KindFile {
				found = true
				break
			}
		}
		if !found {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %s not found", at.name, entry)
		}
		inner := archive.OpenStream(&ctxReader{ctx: b.ctx, r: cur}, at.String(), archive.Options{Context: b.ctx, TempDir: b.tempDir})
		readers = append(readers, inner)
	}
	return readers[len(readers)-1], closeAll, nil
}

// copyHardlinks reads one archive again and writes the links waiting for its files. It
// returns which deferred links it wrote.
func (b *builder) copyHardlinks(at location, want map[string][]int) (map[int]bool, error) {
	ar, closeAll, err := b.reopen(at)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	done := map[int]bool{}
	for {
		if err := b.ctx.Err(); err != nil {
			return nil, err
		}
		en, err := ar.Next()
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return nil, err
		}
		idxs := want[en.Name]
		if en.Kind != archive.KindFile || len(idxs) == 0 {
			continue
		}
		var held *bytes.Buffer
		var src io.Reader = &ctxReader{ctx: b.ctx, r: ar}
		if len(idxs) > 1 && en.Size <= maxHeldHardlink {
			held = &bytes.Buffer{}
			src = io.TeeReader(src, held)
		}
		for n, i := range idxs {
			d := b.deferred[i]
			if n > 0 {
				if held == nil {
					break // too large to hold: the next pass writes the rest
				}
				src = bytes.NewReader(held.Bytes())
			}
			fr, err := b.pkg.WriteFile(d.dest, d.mode, en.Size, d.modTime, src)
			if err != nil {
				return nil, fmt.Errorf("%s: hard link %s: %w", at, d.dest, err)
			}
			b.addRecord(PathRecord{Path: d.dest, SHA256: fr.SHA256, Size: fr.Size, NoLink: b.selection.noLinkFor(d.dest)})
			b.contentBytes += fr.Size
			done[i] = true
		}
		delete(want, en.Name)
		for _, i := range idxs {
			if !done[i] {
				want[en.Name] = append(want[en.Name], i)
			}
		}
	}
}

// seen notes the top-level names of the source tree, for messages about rules that map
// nothing.
func (b *builder) seen(treePath string) {
	top, _, _ := strings.Cut(treePath, "/")
	if b.topLevel == nil {
		b.topLevel = map[string]bool{}
	}
	if len(b.topLevel) < 20 {
		b.topLevel[top] = true
	}
}

// checkStreamed warns about build.files rules that mapped nothing and refuses a package
// that nothing of the sources went into: a from: that names no folder is the likely
// cause, and an empty package would install nothing without a word.
func (b *builder) checkStreamed() error {
	var tops []string
	for t := range b.topLevel {
		tops = append(tops, t)
	}
	sort.Strings(tops)
	for _, r := range b.mapper.unused() {
		b.warnf("%s:%d: build.files rule (from %s) mapped no file (the source tree starts with: %s)", b.r.File, r.Line, r.From, strings.Join(tops, ", "))
	}
	if len(b.records) > 0 || len(b.sources) == 0 {
		return nil
	}
	if b.fromPrefix != nil {
		return fmt.Errorf("the build script left nothing in $PREFIX that goes into the package (check build.files and what the script installs)")
	}
	if len(b.r.Build.Files) > 0 {
		return fmt.Errorf("%s: no file of the sources was packaged: no build.files rule maps anything (the source tree starts with: %s)", b.r.File, strings.Join(tops, ", "))
	}
	return fmt.Errorf("%s: the sources hold no file to package", b.r.File)
}
