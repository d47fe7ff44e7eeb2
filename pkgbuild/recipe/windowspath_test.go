package recipe_test

import (
	"strings"
	"testing"

	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Recipes are written on Windows too. Every path a recipe names is a "/"-separated path
// relative to its root (the recipe folder, the source tree or the prefix): a Windows
// path, with a drive letter, a backslash or a UNC share, is refused with the field it is
// in, whatever system parses the recipe.
func TestRecipeRefusesWindowsPaths(t *testing.T) {
	const head = "package: {name: winapp, version: \"1.0\"}\n"
	const sum = "ab2ea3fe991601a5e6bd2cda786ecaa919c0b39e0550e59978b5d40270c260d3"
	cases := []struct {
		name, body, field string
	}{
		{"source path with a drive", "source:\n  path: 'C:\\src\\winapp'\n", "source[0].path"},
		{"source path drive-relative", "source:\n  path: 'C:winapp'\n", "source[0].path"},
		{"source path with backslashes", "source:\n  path: 'src\\winapp'\n", "source[0].path"},
		{"source path up with backslashes", "source:\n  path: '..\\winapp'\n", "source[0].path"},
		{"source path UNC", "source:\n  path: '\\\\server\\share\\winapp'\n", "source[0].path"},
		{"source path drive with slashes", "source:\n  path: 'C:/src'\n", "source[0].path"},
		{"target_directory with a drive", "source:\n  path: p\n  target_directory: 'C:\\winapp'\n", "source[0].target_directory"},
		{"target_directory with backslashes", "source:\n  path: p\n  target_directory: 'opt\\winapp'\n", "source[0].target_directory"},
		{"file_name with a backslash", "source:\n  url: https://example.invalid/winapp.zip\n  sha256: " + sum + "\n  file_name: 'dl\\winapp.zip'\n", "source[0].file_name"},
		{"files from with a drive", "source:\n  path: p\nbuild:\n  files:\n    - from: 'C:\\Program Files\\WinApp'\n", "build.files[0].from"},
		{"files from drive-relative", "source:\n  path: p\nbuild:\n  files:\n    - from: 'c:winapp'\n", "build.files[0].from"},
		{"files to with backslashes", "source:\n  path: p\nbuild:\n  files:\n    - to: 'Library\\bin'\n", "build.files[0].to"},
		{"files to UNC", "source:\n  path: p\nbuild:\n  files:\n    - to: '\\\\server\\share'\n", "build.files[0].to"},
		{"link path with backslashes", "source:\n  path: p\nbuild:\n  links:\n    - path: 'bin\\winapp'\n      target: ../opt/winapp\n", "build.links[0].path"},
		{"link path with a drive", "source:\n  path: p\nbuild:\n  links:\n    - path: 'C:/bin/winapp'\n      target: ../opt/winapp\n", "build.links[0].path"},
		{"link target with a drive", "source:\n  path: p\nbuild:\n  links:\n    - path: bin/winapp\n      target: 'C:\\opt\\winapp.exe'\n", "build.links[0].target"},
		{"license_file with a drive", "source:\n  path: p\nabout:\n  license_file: 'C:\\LICENSE.txt'\n", "about.license_file"},
		{"license_file with backslashes", "source:\n  path: p\nabout:\n  license_file: 'docs\\LICENSE.txt'\n", "about.license_file"},
		{"path_prepend with backslashes", "source:\n  path: p\nbuild:\n  activation:\n    path_prepend:\n      - 'opt\\winapp'\n", "build.activation.path_prepend[0]"},
		{"path_prepend with a drive", "source:\n  path: p\nbuild:\n  activation:\n    path_prepend:\n      - 'C:/winapp/bin'\n", "build.activation.path_prepend[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := recipe.Parse("recipe.yaml", []byte(head+c.body), nil, "win-64")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.body)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("the error does not name %s: %v", c.field, err)
			}
		})
	}
}

// The same recipe with "/" paths is fine for win-64: Windows packages use "/" inside the
// package, and the activation scripts turn path_prepend into backslashes themselves.
func TestRecipeSlashPathsForWindowsPackages(t *testing.T) {
	src := "package: {name: winapp, version: \"1.0\"}\n" +
		"source:\n  path: src/winapp\n  target_directory: WinApp\n" +
		"build:\n  files:\n    - from: WinApp\n      to: Library/winapp\n  activation:\n    path_prepend:\n      - Library/winapp/bin\n" +
		"about:\n  license_file: docs/LICENSE.txt\n"
	r, err := recipe.Parse("recipe.yaml", []byte(src), nil, "win-64")
	if err != nil {
		t.Fatal(err)
	}
	if r.Sources[0].Path != "src/winapp" || r.Sources[0].TargetDirectory != "WinApp" || r.Build.Activation.PathPrepend[0] != "Library/winapp/bin" || r.About.LicenseFile[0] != "docs/LICENSE.txt" {
		t.Errorf("recipe %+v", r)
	}
}
