package testkit

import (
	"path/filepath"
	"testing"
)

// CatalogueRecipe writes a recipe folder in the Deadline Cloud sample catalogue's layout:
// <root>/studioapp/deadline-cloud.yaml (dcYAML), <root>/studioapp/recipe/recipe.yaml with
// build.sh and build.bat running a vendor installer, and a Linux tarball and a Windows zip
// in <root>/archive_files. It returns the studioapp folder and the archives by name.
func CatalogueRecipe(t testing.TB, dcYAML string) (string, map[string][]byte) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "conda_recipes")
	archives := map[string][]byte{
		"StudioApp_2025_Linux_64bit.tgz": []byte("the vendor's Linux tarball"),
		"StudioApp_2025_Windows.zip":     []byte("the vendor's Windows zip"),
	}
	for name, data := range archives {
		WriteFile(t, filepath.Join(root, "archive_files"), name, data)
	}
	dir := filepath.Join(root, "studioapp")
	WriteFile(t, dir, "deadline-cloud.yaml", []byte(dcYAML))
	WriteFile(t, filepath.Join(dir, "recipe"), "build.sh", []byte("./install.sh --prefix \"$PREFIX\"\n"))
	WriteFile(t, filepath.Join(dir, "recipe"), "build.bat", []byte("setup.exe /S /D=%PREFIX%\r\n"))
	WriteFile(t, filepath.Join(dir, "recipe"), "recipe.yaml", []byte(`package:
  name: studioapp
  version: "2025.1"
source:
  - if: linux
    then:
      url: https://vendor.example.com/StudioApp_2025_Linux_64bit.tgz
      sha256: `+SHA256(archives["StudioApp_2025_Linux_64bit.tgz"])+`
  - if: win
    then:
      url: https://vendor.example.com/StudioApp_2025_Windows.zip
      sha256: `+SHA256(archives["StudioApp_2025_Windows.zip"])+`
requirements:
  build:
    - patchelf >=0.17
about:
  license: LicenseRef-StudioApp
  summary: StudioApp
`))
	return dir, archives
}

// SampleDeadlineYAML is a deadline-cloud.yaml in the form of the sample catalogue's
// files, for CatalogueRecipe: two default platforms with archives, download
// instructions and host requirements, a variant entry, and a job parameter.
const SampleDeadlineYAML = `condaPlatforms:
  - platform: linux-64
    defaultSubmit: true
    sourceArchiveFilename:
    - StudioApp_2025_Linux_64bit.tgz
    sourceDownloadInstructions: 'Download StudioApp_2025_Linux_64bit.tgz from the vendor portal.'
    additionalHostRequirements:
      amounts:
        - name: amount.worker.gpu
          min: 1
        - name: amount.worker.vcpu
          min: 8
      attributes:
        - name: attr.custom.renderlicense
          anyOf: [studioapp]
    buildTool: rattler-build
  - platform: win-64
    defaultSubmit: true
    sourceArchiveFilename: StudioApp_2025_Windows.zip
    sourceDownloadInstructions: 'Follow the README to make the zip.'
    buildTool: rattler-build
  - platform: linux-64
    variant: py311
    defaultSubmit: false
    variantConfig:
      python: ["3.11"]
    buildTool: rattler-build
jobParameters:
  - name: CondaChannels
    value: conda-forge
`
