package serve

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// metrics are the server's counters, written in the Prometheus text exposition format
// (version 0.0.4) by hand: the format is a few lines, and a client library would be the
// binary's largest dependency.
type metrics struct {
	start time.Time

	requests [6]atomic.Int64 // by status class: index 1..5 = 1xx..5xx, 0 = other
	bytes    atomic.Int64
	inFlight atomic.Int64

	cacheHits         atomic.Int64 // served from memory without asking the store
	cacheRevalidated  atomic.Int64 // the store confirmed the ETag
	cacheMisses       atomic.Int64 // fetched from the store
	cacheStale        atomic.Int64 // served stale because the store failed
	cacheEvictions    atomic.Int64
	cacheBytes        atomic.Int64
	zeroCopyBytes     atomic.Int64 // bytes sent with sendfile or splice
	upstreamFallbacks atomic.Int64 // package GETs the direct path sent the SDK's way

	redirects   atomic.Int64
	authFailed  atomic.Int64
	storeErrors atomic.Int64

	durations histogram
}

// durationBuckets are the request duration histogram's upper bounds, in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type histogram struct {
	counts [17]atomic.Int64 // one per bucket, the last for +Inf
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(durationBuckets) && s > durationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func newMetrics() *metrics { return &metrics{start: time.Now()} }

func (m *metrics) observe(status int, bytes int64, d time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	m.requests[class].Add(1)
	m.bytes.Add(bytes)
	m.durations.observe(d)
}

// write renders every metric.
func (m *metrics) write(w io.Writer) error {
	var b []byte
	counter := func(name, help string, v int64) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v float64) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, formatFloat(v))
	}
	const req = "condachan_serve_requests_total"
	b = fmt.Appendf(b, "# HELP %s HTTP requests answered, by status class.\n# TYPE %s counter\n", req, req)
	for i, class := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		b = fmt.Appendf(b, "%s{code=%q} %d\n", req, class, m.requests[i].Load())
	}
	counter("condachan_serve_response_bytes_total", "Response body bytes sent.", m.bytes.Load())
	gauge("condachan_serve_requests_in_flight", "Requests being answered.", float64(m.inFlight.Load()))
	counter("condachan_serve_cache_hits_total", "Index files served from memory without asking the store.", m.cacheHits.Load())
	counter("condachan_serve_cache_revalidations_total", "Index files served from memory after the store confirmed their ETag.", m.cacheRevalidated.Load())
	counter("condachan_serve_cache_misses_total", "Index files fetched from the store.", m.cacheMisses.Load())
	counter("condachan_serve_cache_stale_total", "Index files served from memory because the store could not be asked.", m.cacheStale.Load())
	counter("condachan_serve_cache_evictions_total", "Index files dropped from memory to stay within the budget.", m.cacheEvictions.Load())
	gauge("condachan_serve_cache_bytes", "Bytes of index files held in memory.", float64(m.cacheBytes.Load()))
	counter("condachan_serve_zero_copy_bytes_total", "Bytes sent without a copy through the process: cached index files with sendfile, packages from a plain-HTTP S3 endpoint with splice.", m.zeroCopyBytes.Load())
	counter("condachan_serve_s3_direct_fallbacks_total", "Package requests the direct path to a plain-HTTP S3 endpoint left to the SDK (errors, dead connections).", m.upstreamFallbacks.Load())
	counter("condachan_serve_redirects_total", "Package requests redirected to a presigned S3 URL.", m.redirects.Load())
	counter("condachan_serve_auth_failures_total", "Requests refused for missing or wrong credentials.", m.authFailed.Load())
	counter("condachan_serve_store_errors_total", "Requests that failed because the channel store failed.", m.storeErrors.Load())

	const dur = "condachan_serve_request_duration_seconds"
	b = fmt.Appendf(b, "# HELP %s Time to answer a request, body included.\n# TYPE %s histogram\n", dur, dur)
	var cum int64
	for i, le := range durationBuckets {
		cum += m.durations.counts[i].Load()
		b = fmt.Appendf(b, "%s_bucket{le=%q} %d\n", dur, formatFloat(le), cum)
	}
	cum += m.durations.counts[len(durationBuckets)].Load()
	b = fmt.Appendf(b, "%s_bucket{le=\"+Inf\"} %d\n", dur, cum)
	b = fmt.Appendf(b, "%s_sum %s\n%s_count %d\n", dur, formatFloat(time.Duration(m.durations.sumNs.Load()).Seconds()), dur, cum)
	gauge("condachan_serve_start_time_seconds", "When the server started, in Unix seconds.", float64(m.start.UnixNano())/1e9)
	_, err := w.Write(b)
	return err
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
