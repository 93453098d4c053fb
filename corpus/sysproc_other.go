//go:build !unix

package corpus

import "syscall"

// ownGroup has no process group to make outside Unix.
func ownGroup() *syscall.SysProcAttr { return nil }
