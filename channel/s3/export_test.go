package s3store

// SetUploadsPage makes a store list multipart uploads n at a time, so that tests reach
// the listing's pagination with a few uploads.
func SetUploadsPage(s *Store, n int32) { s.uploadsPage = n }
