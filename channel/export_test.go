package channel

// SetUploadsPage makes an S3 store list multipart uploads n at a time, so that tests
// reach the listing's pagination with a few uploads.
func SetUploadsPage(s *S3, n int32) { s.uploadsPage = n }
