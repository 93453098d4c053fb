//go:build !unix

package corpus

import (
	"os"
	"syscall"
)

// ownGroup has no process group to make outside Unix.
func ownGroup() *syscall.SysProcAttr { return nil }

// killGroup kills p alone: there is no process group to kill outside Unix.
func killGroup(p *os.Process) error { return p.Kill() }
