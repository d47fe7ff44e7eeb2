package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/pyjson"
)

// Patches are a subdir's repodata patch instructions, in the patch_instructions.json form
// conda-index and conda-forge's repodata patches use:
//
//	{"patch_instructions_version": 1,
//	 "packages":       {"x-1-0.tar.bz2": {"depends": ["y >=2"]}},
//	 "packages.conda": {"x-1-0.conda":   {"license": "MIT"}},
//	 "remove": ["bad-1-0.conda"],
//	 "revoke": ["old-1-0.conda"]}
//
// A field override replaces the field (null deletes it, a map merges into a map field);
// one given for a .tar.bz2 file applies to the .conda file of the same name too, before
// the .conda file's own. A removed file leaves the records and
// is listed under "removed"; a revoked one stays, marked revoked, with a dependency on
// package_has_been_revoked that nothing provides, so solvers never pick it.
type Patches struct {
	Version       int                       `json:"patch_instructions_version"`
	Packages      map[string]map[string]any `json:"packages,omitempty"`
	PackagesConda map[string]map[string]any `json:"packages.conda,omitempty"`
	Remove        []string                  `json:"remove,omitempty"`
	Revoke        []string                  `json:"revoke,omitempty"`
}

// PatchesVersion is the patch_instructions_version this index applies.
const PatchesVersion = 1

// revokedDependency is what a revoked record depends on: a package no channel has.
const revokedDependency = "package_has_been_revoked"

// PatchError is a patch_instructions.json that cannot be applied as it is: one given to
// be stored, or (Stored) the one a subdir holds, which stops its index runs until fixed
// instructions replace it or it is removed.
type PatchError struct {
	File   string
	Err    error
	Stored bool
}

func (e *PatchError) Error() string {
	if e.Stored {
		return e.StoredMessage("store fixed instructions", "remove them")
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// StoredMessage is Error of a Stored one with the ways out called store and remove.
func (e *PatchError) StoredMessage(store, remove string) string {
	return fmt.Sprintf("%s: %v; %s, or %s, to index this subdir again", e.File, e.Err, store, remove)
}
func (e *PatchError) Unwrap() error { return e.Err }

// ParsePatches reads patch instructions; file names the document in errors.
func ParsePatches(data []byte, file string) (*Patches, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p Patches
	if err := dec.Decode(&p); err != nil {
		return nil, &PatchError{File: file, Err: fmt.Errorf("not patch instructions: %w (known keys: patch_instructions_version, packages, packages.conda, remove, revoke)", err)}
	}
	if dec.More() {
		return nil, &PatchError{File: file, Err: fmt.Errorf("more than one JSON document")}
	}
	if p.Version != PatchesVersion {
		return nil, &PatchError{File: file, Err: fmt.Errorf("patch_instructions_version is %d; condachan applies version %d", p.Version, PatchesVersion)}
	}
	for _, group := range []struct {
		key   string
		files map[string]map[string]any
	}{{"packages", p.Packages}, {"packages.conda", p.PackagesConda}} {
		for fn, fields := range group.files {
			if !IsPackage(fn) || strings.Contains(fn, "/") {
				return nil, &PatchError{File: file, Err: fmt.Errorf("%s: %q is not a package file name (name-version-build.conda or .tar.bz2)", group.key, fn)}
			}
			if group.key == "packages.conda" && !strings.HasSuffix(fn, ".conda") || group.key == "packages" && !strings.HasSuffix(fn, ".tar.bz2") {
				return nil, &PatchError{File: file, Err: fmt.Errorf("%s: %s belongs under %s", group.key, fn, map[bool]string{true: "packages.conda", false: "packages"}[strings.HasSuffix(fn, ".conda")])}
			}
			for field := range fields {
				if protectedField[field] {
					return nil, &PatchError{File: file, Err: fmt.Errorf("%s: %s: %q describes the file itself and cannot be patched", group.key, fn, field)}
				}
			}
		}
	}
	for key, list := range map[string][]string{"remove": p.Remove, "revoke": p.Revoke} {
		for _, fn := range list {
			if !IsPackage(fn) || strings.Contains(fn, "/") {
				return nil, &PatchError{File: file, Err: fmt.Errorf("%s: %q is not a package file name", key, fn)}
			}
		}
	}
	return &p, nil
}

// protectedField are record fields that describe the package file or name it: a patch
// changing them would make clients reject the download, or file the record under another
// package than the one the file name says. indexed_timestamp is the channel's, not the
// package's (CEP 47: patches do not change it).
var protectedField = map[string]bool{
	"sha256": true, "md5": true, "size": true, "fn": true, "url": true, IndexedTimestampField: true,
	"name": true, "version": true, "build": true, "subdir": true,
}

// Marshal renders the instructions as patch_instructions.json.
func (p *Patches) Marshal() []byte {
	return append(pyjson.MustMarshal(p, pyjson.Indent2), '\n')
}

// digest identifies the instructions the shards were rendered with ("" for none).
func (p *Patches) digest() string {
	if p == nil {
		return ""
	}
	sum := sha256.Sum256(p.Marshal())
	return hex.EncodeToString(sum[:])
}

// condaTwin is the .conda file name of a .tar.bz2 one.
func condaTwin(fn string) (string, bool) {
	stem, ok := strings.CutSuffix(fn, ".tar.bz2")
	return stem + ".conda", ok
}

// apply patches rd in place. Records are copied before they change: the state's
// records stay as the packages say.
func (p *Patches) apply(rd *Repodata) {
	if p == nil {
		return
	}
	override := func(recs map[string]Record, fn string, fields map[string]any) {
		rec, ok := recs[fn]
		if !ok {
			return
		}
		recs[fn] = Record(mergeFields(rec, fields))
	}
	for _, fn := range sortedFileKeys(p.Packages) {
		override(rd.Packages, fn, p.Packages[fn])
		if twin, ok := condaTwin(fn); ok {
			override(rd.PackagesConda, twin, p.Packages[fn])
		}
	}
	for _, fn := range sortedFileKeys(p.PackagesConda) {
		override(rd.PackagesConda, fn, p.PackagesConda[fn])
	}
	forBoth := func(fn string, do func(recs map[string]Record, fn string)) {
		do(rd.Packages, fn)
		do(rd.PackagesConda, fn)
		if twin, ok := condaTwin(fn); ok {
			do(rd.PackagesConda, twin)
		}
	}
	for _, fn := range p.Revoke {
		forBoth(fn, func(recs map[string]Record, fn string) {
			rec, ok := recs[fn]
			if !ok {
				return
			}
			rec = cloneRecord(rec)
			rec["revoked"] = true
			deps, _ := rec["depends"].([]any)
			rec["depends"] = append(append([]any{}, deps...), revokedDependency)
			recs[fn] = rec
		})
	}
	removed := map[string]bool{}
	for _, fn := range p.Remove {
		forBoth(fn, func(recs map[string]Record, fn string) {
			if _, ok := recs[fn]; ok {
				delete(recs, fn)
				removed[fn] = true
			}
		})
	}
	rd.Removed = sortedKeys(removed)
}

// warnings name the instructions that match no package: a typo, or a package since
// deleted.
func (p *Patches) warnings(unpatched *Repodata) []string {
	if p == nil {
		return nil
	}
	has := func(fn string) bool {
		_, a := unpatched.Packages[fn]
		_, b := unpatched.PackagesConda[fn]
		twin, ok := condaTwin(fn)
		_, c := unpatched.PackagesConda[twin]
		return a || b || ok && c
	}
	var w []string
	for _, group := range []struct {
		key   string
		files []string
	}{{"packages", sortedFileKeys(p.Packages)}, {"packages.conda", sortedFileKeys(p.PackagesConda)}, {"remove", p.Remove}, {"revoke", p.Revoke}} {
		for _, fn := range group.files {
			if !has(fn) {
				w = append(w, fmt.Sprintf("%s: %s names %s, which is not in %s", PatchInstructions, group.key, fn, unpatched.Subdir))
			}
		}
	}
	return w
}

// mergeFields returns base with fields applied as conda-index applies a record patch: a
// value replaces the field (lists included), null deletes it, and a map merges into a map
// field the same way.
func mergeFields(base, fields map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(fields))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range fields {
		switch v := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if cur, ok := out[k].(map[string]any); ok {
				out[k] = mergeFields(cur, v)
			} else {
				out[k] = mergeFields(nil, v)
			}
		default:
			out[k] = v
		}
	}
	return out
}

func sortedFileKeys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func cloneRecord(r Record) Record {
	out := make(Record, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

// loadPatches reads the subdir's patch_instructions.json when the listing shows it
// changed since the state read it.
func (r *subdirRun) loadPatches(ctx context.Context) error {
	if r.patchObj.Key == "" {
		return nil
	}
	if r.prev.Patches != nil && r.prev.PatchETag == r.patchObj.ETag && !r.opts.Full {
		r.next.Patches, r.next.PatchETag = r.prev.Patches, r.prev.PatchETag
		return nil
	}
	data, obj, err := channel.ReadAll(ctx, r.store, r.patchObj.Key)
	if err != nil {
		return fmt.Errorf("read %s: %w", r.patchObj.Key, err)
	}
	p, err := ParsePatches(data, r.patchObj.Key)
	var pe *PatchError
	if errors.As(err, &pe) {
		pe.Stored = true
	}
	if err != nil {
		return err
	}
	r.next.Patches, r.next.PatchETag = p, obj.ETag
	return nil
}

// patches are the instructions render applies.
func (r *subdirRun) patches() (*Patches, error) { return r.next.Patches, nil }
