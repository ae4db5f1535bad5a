// Package slab hands out short-lived values from arrays that are reused from one call to the
// next, for hot paths where the garbage of many small allocations, not their cost, is what
// hurts: every collection they bring on slows the calls it overlaps.
package slab

// Take returns an empty slice with room for exactly n values from buf and marks them in use.
// Values taken earlier stay where they are: when buf lacks room it moves to a new array, and the
// old one lives on for as long as something points into it.
func Take[T any](buf *[]T, n int) []T {
	if cap(*buf)-len(*buf) < n {
		*buf = make([]T, 0, max(n, 2*cap(*buf)))
	}
	from := len(*buf)
	*buf = (*buf)[:from+n]
	return (*buf)[from : from : from+n]
}

// Release zeroes the values in use, so nothing they point to outlives its use, and makes their
// room free again. An array of more than keep values is dropped instead, so that one large call
// does not pin its memory for good.
func Release[T any](buf *[]T, keep int) {
	if cap(*buf) > keep {
		*buf = nil
		return
	}
	clear(*buf)
	*buf = (*buf)[:0]
}
