package index

import (
	"encoding/json"
	"strconv"
	"time"
)

// IndexedTimestampField is the record field of CEP 47: when the channel first indexed the
// package, in milliseconds since the epoch like `timestamp`. conda's --exclude-newer and
// pixi's cooldowns read it: unlike `timestamp`, which the build machine sets, it says
// when the package became installable from this channel.
const IndexedTimestampField = "indexed_timestamp"

// futureSlack is how far ahead of the index's clock a package's timestamp may be before
// it is reported: clocks of build machines drift.
const futureSlack = 10 * time.Minute

func indexedTimestamp(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.UnixMilli(), 10))
}

// validIndexedTimestamp reports whether v is an indexed_timestamp this index could have
// written: a positive integer.
func validIndexedTimestamp(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	i, err := n.Int64()
	return err == nil && i > 0
}

// lacksIndexedTimestamps reports whether a package the state remembers has no
// indexed_timestamp (written by a condachan before CEP 47).
func (st *SubdirState) lacksIndexedTimestamps() bool {
	for _, e := range st.Packages {
		if !validIndexedTimestamp(e.Record[IndexedTimestampField]) {
			return true
		}
	}
	return false
}

// stampIndexed gives every package its indexed_timestamp. It is set once, when a package
// is first indexed, and kept from then on: across incremental and --full runs (which read
// the package again) from the state, and, when the state is lost, from the repodata.json
// the channel still has. A file replaced by other bytes is a new package and gets a new
// one. It is never derived from file times, which a copy or a restore changes.
func (r *subdirRun) stampIndexed() {
	now := indexedTimestamp(r.now)
	for base, e := range r.next.Packages {
		if validIndexedTimestamp(e.Record[IndexedTimestampField]) {
			continue
		}
		ts := now
		if old, ok := earlierStamp(e.Record, r.prev.Packages[base].Record, r.recovered[base]); ok {
			ts = old
		}
		rec := make(Record, len(e.Record)+1)
		for k, v := range e.Record {
			rec[k] = v
		}
		rec[IndexedTimestampField] = ts
		e.Record = rec
		r.next.Packages[base] = e
	}
}

// earlierStamp finds the indexed_timestamp of the same bytes (same sha256) in earlier
// records of the file.
func earlierStamp(rec Record, earlier ...Record) (json.Number, bool) {
	sha := str(rec["sha256"])
	for _, e := range earlier {
		if e == nil || sha == "" || str(e["sha256"]) != sha {
			continue
		}
		if v := e[IndexedTimestampField]; validIndexedTimestamp(v) {
			return v.(json.Number), true
		}
	}
	return "", false
}
