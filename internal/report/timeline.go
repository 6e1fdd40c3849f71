package report

import (
	"slices"
	"time"
)

// maxBuckets is how many columns the timeline has at most: enough to see
// when a capability was checked, few enough that 41 rows of them stay small.
const maxBuckets = 60

// timeline counts granted and denied checks per capability and second.
type timeline struct {
	perCap map[int]map[int64]*[2]uint64 // cap -> unix second -> granted, denied
	// untimed counts checks whose record had no time.
	untimed uint64
}

func newTimeline() *timeline {
	return &timeline{perCap: map[int]map[int64]*[2]uint64{}}
}

func (tl *timeline) add(capID int, at time.Time, denied bool, n uint64) {
	if at.IsZero() {
		tl.untimed += n
		return
	}
	secs := tl.perCap[capID]
	if secs == nil {
		secs = map[int64]*[2]uint64{}
		tl.perCap[capID] = secs
	}
	c := secs[at.Unix()]
	if c == nil {
		c = new([2]uint64)
		secs[at.Unix()] = c
	}
	if denied {
		c[1] += n
	} else {
		c[0] += n
	}
}

// timelineData is the timeline as the page draws it: equal buckets from
// Start, one row per capability checked, ascending by number.
type timelineData struct {
	Start         string        `json:"start"` // RFC 3339; "" when no check had a time
	BucketSeconds int64         `json:"bucket_seconds"`
	Buckets       int           `json:"buckets"`
	Rows          []timelineRow `json:"rows"`
	Untimed       uint64        `json:"untimed"`
}

type timelineRow struct {
	Name    string   `json:"name"` // Kubernetes name
	Granted []uint64 `json:"granted"`
	Denied  []uint64 `json:"denied"`
}

// data buckets the counts over the window the checks span.
func (tl *timeline) data(capName func(int) string) timelineData {
	d := timelineData{Rows: []timelineRow{}, Untimed: tl.untimed}
	first, last, seen := int64(0), int64(0), false
	for _, secs := range tl.perCap {
		for s := range secs {
			if !seen || s < first {
				first = s
			}
			if !seen || s > last {
				last = s
			}
			seen = true
		}
	}
	if !seen {
		return d
	}
	span := last - first + 1
	d.BucketSeconds = (span + maxBuckets - 1) / maxBuckets
	d.Buckets = int((span + d.BucketSeconds - 1) / d.BucketSeconds)
	d.Start = time.Unix(first, 0).UTC().Format(time.RFC3339)
	ids := make([]int, 0, len(tl.perCap))
	for id := range tl.perCap {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		row := timelineRow{Name: capName(id), Granted: make([]uint64, d.Buckets), Denied: make([]uint64, d.Buckets)}
		for s, c := range tl.perCap[id] {
			i := (s - first) / d.BucketSeconds
			row.Granted[i] += c[0]
			row.Denied[i] += c[1]
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}
