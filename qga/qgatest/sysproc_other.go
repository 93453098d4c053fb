//go:build !linux

package qgatest

import "syscall"

// childSysProcAttr has nothing to add outside Linux.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
