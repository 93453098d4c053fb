// Package flock takes the kernel's advisory file locks (flock(2)), which
// die with the process that held them, however it ended: the nightly job
// keeps two nights out of one output directory with one, and package
// tmpdir tells abandoned temporary directories by them.
//
//	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
//	...
//	if err := flock.TryLock(f); errors.Is(err, flock.ErrLocked) {
//		// another process holds it
//	}
package flock

import "errors"

// ErrLocked says that another open file holds the lock.
var ErrLocked = errors.New("locked by another process")
