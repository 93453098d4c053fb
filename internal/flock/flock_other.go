//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package flock

import (
	"errors"
	"os"
)

// TryLock returns errors.ErrUnsupported where flock is missing.
func TryLock(f *os.File) error { return errors.ErrUnsupported }
