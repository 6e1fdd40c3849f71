package caps

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Set is a bit mask of capabilities, bit n = capability n (the kernel's kernel_cap_t layout, 64 bits).
type Set uint64

// allKnown holds every capability 0..Last.
const allKnown = Set(1)<<(Last+1) - 1

// Has reports whether id is in s. Numbers outside 0..63 are never in a Set.
func (s Set) Has(id int) bool {
	if id < 0 || id > maxID {
		return false
	}
	return s&(1<<id) != 0
}

// With returns s plus id. A number outside 0..63 cannot be represented and
// leaves s unchanged rather than panicking, because ids often come straight
// from kernel events.
func (s Set) With(id int) Set {
	if id < 0 || id > maxID {
		return s
	}
	return s | 1<<id
}

// IDs returns the capability numbers in s in ascending order.
func (s Set) IDs() []int {
	if s == 0 {
		return nil
	}
	ids := make([]int, 0, bits.OnesCount64(uint64(s)))
	for rest := uint64(s); rest != 0; rest &= rest - 1 {
		ids = append(ids, bits.TrailingZeros64(rest))
	}
	return ids
}

// Names returns the "CAP_..." names of s, ascending by number.
func (s Set) Names() []string {
	ids := s.IDs()
	if ids == nil {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = Name(id)
	}
	return out
}

// String returns the names joined by ","; "" for an empty Set. ParseSet
// accepts the result.
func (s Set) String() string {
	return strings.Join(s.Names(), ",")
}

// ParseSet parses a comma-separated list ("CAP_SYSLOG,sys_admin,21"), ignoring spaces and empty items; "all" means every known capability 0..Last.
//
// Empty items are allowed so that lists built by joining or trimming config
// values ("a,,b", "a,") do not need cleaning first.
func ParseSet(s string) (Set, error) {
	var set Set
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case equalFoldASCII(item, "all"):
			set |= allKnown
		default:
			id, err := Parse(item)
			if err != nil {
				return 0, fmt.Errorf("parse capability set: %w", err)
			}
			set = set.With(id)
		}
	}
	return set, nil
}

// UnmarshalText decodes a setting that lists the capabilities to keep, as
// ParseSet does; a list that names none ("", " ,") is an error: a filter
// that keeps nothing is a mistake, and "keep all" is written "all" or by
// leaving the setting out.
func (s *Set) UnmarshalText(text []byte) error {
	set, err := ParseSet(string(text))
	if err != nil {
		return err
	}
	if set == 0 {
		return errors.New("the list names no capability")
	}
	*s = set
	return nil
}

// MarshalText is String.
func (s Set) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
