//go:build !unix

package fuzz

import (
	"os"
	"syscall"
)

// Without process groups (Windows) a command runs as any child does, and
// stopping it kills that process only: the engines and agent commands,
// which need sh, are for Unix; this keeps the rest of qgafuzz building.

func groupSysProcAttr() *syscall.SysProcAttr { return nil }

func tiedSysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills p whatever sig is.
func signalGroup(p *os.Process, _ syscall.Signal) error { return p.Kill() }
