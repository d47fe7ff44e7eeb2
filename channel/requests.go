package channel

// RequestCounts are the requests a store sent, as plain numbers (JSON output): what a run
// cost, and proof that an incremental index run does not grow with the channel.
type RequestCounts struct {
	Total  int64 `json:"total"`
	List   int64 `json:"list"`
	Head   int64 `json:"head"`
	Get    int64 `json:"get"`
	Put    int64 `json:"put"`
	Delete int64 `json:"delete"`
	Post   int64 `json:"post"`
}

// Counts reads the counters now.
func (r *RequestStats) Counts() RequestCounts {
	return RequestCounts{Total: r.Total.Load(), List: r.List.Load(), Head: r.Head.Load(), Get: r.Get.Load(),
		Put: r.Put.Load(), Delete: r.Delete.Load(), Post: r.Post.Load()}
}

// Requests are the requests store sent so far, or nil for a store that does not count
// them (not a RequestCounter: a folder).
func Requests(store Store) *RequestCounts {
	s, ok := store.(RequestCounter)
	if !ok {
		return nil
	}
	c := s.Stats().Counts()
	return &c
}
