package condapkg

// Hooks for the tests, which are in package condapkg_test: they use internal/testkit, and
// testkit imports this package.

// SetZip64Threshold lowers the size/offset from which the zip writer switches to zip64
// and returns a function restoring the production value.
func SetZip64Threshold(v int64) (restore func()) {
	old := zip64Threshold
	zip64Threshold = v
	return func() { zip64Threshold = old }
}

// Zip64Threshold is the current zip64 threshold.
func Zip64Threshold() int64 { return zip64Threshold }

// SetMaxInfoTar changes the cap on the decompressed info member.
func SetMaxInfoTar(v int64) (restore func()) {
	old := maxInfoTar
	maxInfoTar = v
	return func() { maxInfoTar = old }
}

const MaxInfoFile = maxInfoFile

var (
	MsdosTimeDate = msdosTimeDate
	NeedsZip64    = needsZip64
	Field32       = field32
)
