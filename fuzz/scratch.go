package fuzz

import "sync"

// scratch keeps buffers of one run of a target for the next: growing them
// anew, run after run, was much of what some targets allocated.
//
// Reusing memory must not change the code a run executes, or the coverage
// an input gets would depend on the runs before it (and on when the
// garbage collector emptied the pool): engines would keep inputs for
// features they do not reproduce, and the corpus tools, which measure each
// input twice, would see features vary. So get has no branch (an empty
// pool gives the zero T, whose nil slices append allocates), buffers are
// only ever appended to, and whether a run's buffers are kept depends
// only on what that run put in them (see the callers). Nothing may refer
// to the buffers once the run has returned.
type scratch[T any] struct{ pool sync.Pool }

// get returns the buffers of an earlier run, or the zero T.
func (s *scratch[T]) get() T {
	v, _ := s.pool.Get().(T)
	return v
}

// put keeps v for a later run.
func (s *scratch[T]) put(v T) { s.pool.Put(v) }

// scratchKept bounds what a run may have put in its buffers for them to be
// kept: a decision on lengths, which the input alone determines.
const scratchKept = 1 << 20
