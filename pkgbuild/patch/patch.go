// Package patch applies unified diffs (GNU diff -u and git format-patch output) to a
// source folder, the way rattler-build applies a recipe's source.patches: the strip level
// (-p) is guessed from which paths exist, hunks are found near their stated line with an
// offset, then with up to two lines of context dropped (fuzz) and with whitespace
// ignored, and a hunk that is already applied is skipped with a note.
package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// File is the change to one file.
type File struct {
	Old, New string // paths as written, with a/ b/ prefixes; "/dev/null" for none
	Hunks    []Hunk
	// Rename is a git rename without content changes (rename from / rename to).
	Rename bool
}

// Hunk is one @@ block.
type Hunk struct {
	Line             int // where it starts in the patch file, for messages
	OldStart, OldLen int
	NewStart, NewLen int
	Lines            []Line
}

// Line is one line of a hunk: ' ' context, '-' removed, '+' added.
type Line struct {
	Op   byte
	Text string // without its line break
	// NoEOL marks the last line of a side that has no line break at the end of file.
	NoEOL bool
}

// ParseError is a patch that cannot be read.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

const devNull = "/dev/null"

// Parse reads a patch file. Text outside file headers (a mail header, a commit message)
// is skipped, as patch(1) does.
func Parse(data []byte) ([]File, error) {
	lines := splitLines(data)
	var files []File
	var cur *File
	var gitOld, gitNew string
	var gitRename bool
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r\n")
		switch {
		case strings.HasPrefix(l, "diff --git "):
			gitOld, gitNew, gitRename = "", "", false
			if a, b, ok := splitGitNames(strings.TrimPrefix(l, "diff --git ")); ok {
				gitOld, gitNew = a, b
			}
			cur = nil
		case strings.HasPrefix(l, "rename from "):
			gitRename = true
		case strings.HasPrefix(l, "GIT binary patch") || strings.HasPrefix(l, "Binary files "):
			return nil, &ParseError{i + 1, "binary patches are not supported; ship the binary file in the recipe folder and copy it in the build script"}
		case strings.HasPrefix(l, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ "):
			files = append(files, File{Old: headerName(l[4:]), New: headerName(strings.TrimRight(lines[i+1], "\r\n")[4:])})
			cur = &files[len(files)-1]
			i++
		case strings.HasPrefix(l, "@@ "):
			if cur == nil {
				return nil, &ParseError{i + 1, "hunk without a --- / +++ file header"}
			}
			h, next, err := parseHunk(lines, i)
			if err != nil {
				return nil, err
			}
			cur.Hunks = append(cur.Hunks, h)
			i = next - 1
		default:
			// A git rename (or mode change) without content has no ---/+++ lines: the
			// next "diff --git" or the end closes it.
			if gitRename && gitOld != "" && (i+1 == len(lines) || strings.HasPrefix(lines[i+1], "diff --git ")) && (cur == nil || cur.Old != gitOld) {
				files = append(files, File{Old: gitOld, New: gitNew, Rename: true})
				gitRename = false
			}
		}
	}
	if len(files) == 0 {
		return nil, &ParseError{1, "no file changes found (not a unified diff?)"}
	}
	return files, nil
}

func splitLines(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i+1]))
		data = data[i+1:]
	}
	return out
}

// headerName takes the path of a ---/+++ line, dropping a tab-separated timestamp.
func headerName(s string) string {
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
	}
	return s
}

// splitGitNames splits "a/x b/x" (names without spaces, or quoted).
func splitGitNames(s string) (string, string, bool) {
	if i := strings.Index(s, " b/"); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return "", "", false
}

// parseHunk reads the hunk starting at lines[i]; it returns the index after it.
func parseHunk(lines []string, i int) (Hunk, int, error) {
	head := strings.TrimRight(lines[i], "\r\n")
	h := Hunk{Line: i + 1}
	end := strings.Index(head[3:], " @@")
	if end < 0 {
		return h, 0, &ParseError{i + 1, fmt.Sprintf("bad hunk header %q", head)}
	}
	ranges := strings.Fields(head[3 : 3+end])
	if len(ranges) != 2 || ranges[0][0] != '-' || ranges[1][0] != '+' {
		return h, 0, &ParseError{i + 1, fmt.Sprintf("bad hunk header %q", head)}
	}
	var err error
	if h.OldStart, h.OldLen, err = parseRange(ranges[0][1:]); err != nil {
		return h, 0, &ParseError{i + 1, fmt.Sprintf("bad hunk header %q: %v", head, err)}
	}
	if h.NewStart, h.NewLen, err = parseRange(ranges[1][1:]); err != nil {
		return h, 0, &ParseError{i + 1, fmt.Sprintf("bad hunk header %q: %v", head, err)}
	}
	oldLeft, newLeft := h.OldLen, h.NewLen
	j := i + 1
	for ; j < len(lines) && (oldLeft > 0 || newLeft > 0); j++ {
		raw := lines[j]
		text := strings.TrimRight(raw, "\n")
		text = strings.TrimSuffix(text, "\r")
		if text == "" && raw != "" {
			// an empty context line whose leading space was lost (some mailers do it)
			text = " "
		}
		if strings.HasPrefix(text, `\`) {
			markNoEOL(&h)
			continue
		}
		op := text[0]
		switch op {
		case ' ':
			oldLeft--
			newLeft--
		case '-':
			oldLeft--
		case '+':
			newLeft--
		default:
			return h, 0, &ParseError{j + 1, fmt.Sprintf("hunk line starts with %q; expected ' ', '-' or '+' (the hunk header says %d old and %d new lines)", op, h.OldLen, h.NewLen)}
		}
		if oldLeft < 0 || newLeft < 0 {
			return h, 0, &ParseError{j + 1, "the hunk has more lines than its header says"}
		}
		h.Lines = append(h.Lines, Line{Op: op, Text: text[1:]})
	}
	if oldLeft > 0 || newLeft > 0 {
		return h, 0, &ParseError{j, "the patch ends inside a hunk (truncated?)"}
	}
	if j < len(lines) && strings.HasPrefix(lines[j], `\`) {
		markNoEOL(&h)
		j++
	}
	return h, j, nil
}

func markNoEOL(h *Hunk) {
	if n := len(h.Lines); n > 0 {
		h.Lines[n-1].NoEOL = true
	}
}

func parseRange(s string) (int, int, error) {
	start, count, found := strings.Cut(s, ",")
	a, err := strconv.Atoi(start)
	if err != nil || a < 0 {
		return 0, 0, fmt.Errorf("bad line number %q", start)
	}
	n := 1
	if found {
		if n, err = strconv.Atoi(count); err != nil || n < 0 {
			return 0, 0, fmt.Errorf("bad line count %q", count)
		}
	}
	return a, n, nil
}

// Result tells what applying a patch did.
type Result struct {
	Strip   int      // the -p level used
	Files   []string // files changed, relative to the folder
	Skipped []string // hunks found already applied ("file: hunk N")
}

// Apply applies the patch data (named name in messages) to the files under dir.
func Apply(dir, name string, data []byte) (*Result, error) {
	files, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("patch %s: %w", name, err)
	}
	strip := guessStrip(dir, files)
	res := &Result{Strip: strip}
	// Everything is computed before anything is written, so a patch that fails halfway
	// leaves the folder as it was.
	type write struct {
		path   string
		data   []byte
		mode   fs.FileMode
		remove bool
	}
	var writes []write
	pending := map[string][]byte{}
	for _, f := range files {
		oldPath, err := stripPath(f.Old, strip)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", name, err)
		}
		newPath, err := stripPath(f.New, strip)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", name, err)
		}
		target := newPath
		if target == "" {
			target = oldPath
		}
		var current []byte
		mode := fs.FileMode(0o644)
		if oldPath != "" {
			if b, ok := pending[oldPath]; ok {
				current = b
			} else {
				full := filepath.Join(dir, filepath.FromSlash(oldPath))
				st, err := os.Stat(full)
				if err != nil {
					return nil, fmt.Errorf("patch %s: %s: %w (strip level -p%d)", name, oldPath, errors.Unwrap(err), strip)
				}
				mode = st.Mode().Perm()
				if current, err = os.ReadFile(full); err != nil {
					return nil, fmt.Errorf("patch %s: %w", name, err)
				}
			}
		}
		out, skipped, err := applyFile(current, f.Hunks)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %s: %w", name, target, err)
		}
		for _, s := range skipped {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: hunk #%d", target, s))
		}
		if newPath == "" {
			writes = append(writes, write{path: oldPath, remove: true})
			delete(pending, oldPath)
		} else {
			writes = append(writes, write{path: newPath, data: out, mode: mode})
			pending[newPath] = out
			if oldPath != "" && oldPath != newPath {
				writes = append(writes, write{path: oldPath, remove: true})
				delete(pending, oldPath)
			}
		}
		res.Files = append(res.Files, target)
	}
	for _, w := range writes {
		full := filepath.Join(dir, filepath.FromSlash(w.path))
		if w.remove {
			if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("patch %s: %w", name, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, w.data, w.mode|0o200); err != nil {
			return nil, fmt.Errorf("patch %s: %w", name, err)
		}
	}
	return res, nil
}

// stripPath removes strip leading components; "" for /dev/null. A ".." anywhere is
// refused: a patch may only touch the source folder.
func stripPath(p string, strip int) (string, error) {
	if p == devNull || p == "" {
		return "", nil
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("%s: the path leaves the source folder", p)
		default:
			parts = append(parts, c)
		}
	}
	if strip >= len(parts) {
		return "", fmt.Errorf("%s has fewer than %d leading folders to strip", p, strip+1)
	}
	rel := path.Join(parts[strip:]...)
	if !fs.ValidPath(rel) || strings.HasPrefix(p, "/") && strip == 0 {
		return "", fmt.Errorf("%s: the path leaves the source folder", p)
	}
	return rel, nil
}

// guessStrip picks the first strip level at which a file the patch changes or deletes
// exists under dir; failing that 1 when the paths start with a/ or b/, else 0.
func guessStrip(dir string, files []File) int {
	maxParts := 0
	var names []string
	for _, f := range files {
		if f.Old != devNull && f.Old != "" {
			names = append(names, f.Old)
			maxParts = max(maxParts, strings.Count(f.Old, "/")+1)
		}
	}
	for strip := 0; strip < maxParts; strip++ {
		for _, n := range names {
			if p, err := stripPath(n, strip); err == nil && p != "" {
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
					return strip
				}
			}
		}
	}
	for _, f := range files {
		for _, n := range []string{f.Old, f.New} {
			if strings.HasPrefix(n, "a/") || strings.HasPrefix(n, "b/") {
				return 1
			}
		}
	}
	return 0
}

// fileLine is a line of a file being patched, with its own line break.
type fileLine struct {
	text string
	eol  string // "\n", "\r\n" or "" for a last line without one
}

func splitFile(data []byte) []fileLine {
	var out []fileLine
	for _, l := range splitLines(data) {
		switch {
		case strings.HasSuffix(l, "\r\n"):
			out = append(out, fileLine{l[:len(l)-2], "\r\n"})
		case strings.HasSuffix(l, "\n"):
			out = append(out, fileLine{l[:len(l)-1], "\n"})
		default:
			out = append(out, fileLine{l, ""})
		}
	}
	return out
}

// applyFile applies hunks in order; it returns the new content and the (1-based) hunks
// that were found already applied.
func applyFile(data []byte, hunks []Hunk) ([]byte, []int, error) {
	lines := splitFile(data)
	eol := "\n"
	if len(lines) > 0 && lines[0].eol == "\r\n" {
		eol = "\r\n"
	}
	var skipped []int
	offset := 0 // how far the file has moved from the line numbers of the hunks
	for hi, h := range hunks {
		var old, new []Line
		for _, l := range h.Lines {
			if l.Op != '+' {
				old = append(old, l)
			}
			if l.Op != '-' {
				new = append(new, l)
			}
		}
		expected := h.OldStart - 1
		if h.OldLen == 0 {
			expected = h.OldStart // an insertion goes after line OldStart
		}
		pos, fuzz, found := locate(lines, old, expected+offset)
		if !found {
			if _, _, applied := locate(lines, new, h.NewStart-1); applied && len(new) > 0 {
				skipped = append(skipped, hi+1)
				continue
			}
			return nil, nil, fmt.Errorf("hunk #%d (patch line %d) does not apply: its lines are not near line %d, even with 2 lines of fuzz", hi+1, h.Line, h.OldStart)
		}
		lead, trail := fuzzTrim(h.Lines, fuzz)
		var repl []fileLine
		at := pos
		for _, l := range h.Lines[lead : len(h.Lines)-trail] {
			switch l.Op {
			case ' ': // the file's own line: whitespace may differ from the patch's
				repl = append(repl, lines[at])
				at++
			case '-':
				at++
			case '+':
				e := eol
				if l.NoEOL {
					e = ""
				}
				repl = append(repl, fileLine{l.Text, e})
			}
		}
		lines = append(append(append([]fileLine{}, lines[:pos]...), repl...), lines[at:]...)
		offset = (pos - lead) - expected + len(new) - len(old)
	}
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l.text)
		e := l.eol
		if e == "" && i < len(lines)-1 {
			e = eol
		}
		b.WriteString(e)
	}
	return []byte(b.String()), skipped, nil
}

// fuzzTrim tells how many hunk lines fuzz drops at each end: up to fuzz leading and
// trailing context lines.
func fuzzTrim(ls []Line, fuzz int) (lead, trail int) {
	for lead < fuzz && lead < len(ls) && ls[lead].Op == ' ' {
		lead++
	}
	for trail < fuzz && trail < len(ls)-lead && ls[len(ls)-1-trail].Op == ' ' {
		trail++
	}
	return lead, trail
}

// locate finds the old-side lines in the file, nearest to want first, trying exact
// matches, then whitespace-insensitive ones, then with 1 and 2 lines of context dropped
// at each end. It returns where the (trimmed) lines start.
func locate(lines []fileLine, old []Line, want int) (pos, fuzz int, found bool) {
	for fuzz = 0; fuzz <= 2; fuzz++ {
		lead, trail := 0, 0
		for lead < fuzz && lead < len(old) && old[lead].Op == ' ' {
			lead++
		}
		for trail < fuzz && trail < len(old)-lead && old[len(old)-1-trail].Op == ' ' {
			trail++
		}
		if fuzz > 0 && lead == 0 && trail == 0 {
			break // no context to drop: more fuzz changes nothing
		}
		core := old[lead : len(old)-trail]
		for _, loose := range []bool{false, true} {
			if p, ok := search(lines, core, want+lead, loose); ok {
				return p, fuzz, true
			}
		}
	}
	return 0, 0, false
}

// search looks for core at want, then at want±1, want±2, ...
func search(lines []fileLine, core []Line, want int, loose bool) (int, bool) {
	if len(core) == 0 {
		if want >= 0 && want <= len(lines) {
			return want, true
		}
		return 0, false
	}
	// A hunk header may name any line: start from the nearest one the file has.
	want = min(max(want, 0), len(lines))
	for d := 0; d <= len(lines); d++ {
		candidates := []int{want - d, want + d}
		if d == 0 {
			candidates = candidates[:1]
		}
		for _, p := range candidates {
			if p >= 0 && p+len(core) <= len(lines) && matchAt(lines, core, p, loose) {
				return p, true
			}
		}
	}
	return 0, false
}

func matchAt(lines []fileLine, core []Line, p int, loose bool) bool {
	for i, l := range core {
		a, b := lines[p+i].text, l.Text
		if loose {
			a, b = strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " ")
		}
		if a != b {
			return false
		}
	}
	return true
}
