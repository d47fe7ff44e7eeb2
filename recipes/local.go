package recipes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// FindDir finds the recipe folder arg names on disk: a folder holding recipe.yaml, the
// recipe.yaml itself, a folder whose recipe/ subfolder holds it (the sample catalogue's
// layout, with deadline-cloud.yaml beside recipe/), or those under ./recipes (a
// checkout of this repository) for a bare name.
func FindDir(arg string) (string, bool) {
	candidates := []string{arg}
	if filepath.Base(arg) == recipe.FileName {
		candidates = []string{filepath.Dir(arg)}
	}
	if !strings.ContainsAny(arg, `/\`) {
		candidates = append(candidates, filepath.Join("recipes", arg))
	}
	has := func(dir string) bool {
		st, err := os.Stat(filepath.Join(dir, recipe.FileName))
		return err == nil && !st.IsDir()
	}
	for _, dir := range candidates {
		if has(dir) {
			return dir, true
		}
		if inner := filepath.Join(dir, "recipe"); has(inner) {
			return inner, true
		}
	}
	return "", false
}

// Label names a recipe folder: its own name, or for the catalogue's <name>/recipe/ the
// name of the folder around it.
func Label(dir string) string {
	dir = filepath.Clean(dir)
	if filepath.Base(dir) == "recipe" {
		return filepath.Base(filepath.Dir(dir))
	}
	return filepath.Base(dir)
}

// NotShippedError is a name that is not a shipped recipe.
type NotShippedError struct{ Name string }

func (e *NotShippedError) Error() string {
	return fmt.Sprintf("%q is not a shipped recipe (shipped: %s)", e.Name, strings.Join(Names(), ", "))
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*NotShippedError) Is(target error) bool { return target == input.ErrInvalid }

// ErrNotEmpty is a TargetError's Err for a folder that holds files already.
var ErrNotEmpty = errors.New("is not empty: export into a new folder")

// TargetError is a folder a recipe cannot be exported into: Err is ErrNotEmpty, or the
// error reading it.
type TargetError struct {
	Dir string
	Err error
}

func (e *TargetError) Error() string {
	if errors.Is(e.Err, ErrNotEmpty) {
		return fmt.Sprintf("%s %v", e.Dir, e.Err)
	}
	return e.Err.Error()
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*TargetError) Is(target error) bool { return target == input.ErrInvalid }

func (e *TargetError) Unwrap() error { return e.Err }

// Export copies the shipped recipe name into dir, which must not exist or be empty (a
// NotShippedError or a TargetError otherwise), and returns the number of files written.
// It writes into a temporary folder beside dir first, renamed into place at the end, so
// a failure leaves nothing.
func Export(name, dir string) (int, error) {
	if !Has(name) {
		return 0, &NotShippedError{Name: name}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, &TargetError{Dir: dir, Err: ErrNotEmpty}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, &TargetError{Dir: dir, Err: err}
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".export-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	n := 0
	err = fs.WalkDir(FS, name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, name), "/")
		target := filepath.Join(tmp, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(FS, p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if path.Ext(p) == ".sh" {
			mode = 0o755
		}
		n++
		return os.WriteFile(target, data, mode)
	})
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		return 0, err
	}
	os.Remove(dir) // an empty folder given as the target
	if err := os.Rename(tmp, dir); err != nil {
		return 0, fmt.Errorf("export %s: %w", name, err)
	}
	return n, nil
}

// NotFoundError is a recipe named neither by a folder on disk nor by a shipped recipe.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("recipe %q not found: not a folder with %s, and not a shipped recipe (%s)", e.Name, recipe.FileName, strings.Join(Names(), ", "))
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*NotFoundError) Is(target error) bool { return target == input.ErrInvalid }

// Load renders the recipe arg names for the target platform: a folder (or its
// recipe.yaml) on disk, recipes/NAME in the current folder (a checkout of this
// repository), or a shipped recipe. A name that is none of these is a *NotFoundError.
func Load(arg, target string) (*recipe.Recipe, error) {
	if dir, ok := FindDir(arg); ok {
		return recipe.LoadDir(dir, target)
	}
	if Has(arg) {
		return recipe.LoadFS(FS, arg, target)
	}
	return nil, &NotFoundError{Name: arg}
}
