//go:build !unix

package fuzz

import "syscall"

// tiedSysProcAttr makes no process group outside Unix: the engines and
// agent commands, which need sh, are for Unix; this keeps the rest of
// qgafuzz building.
func tiedSysProcAttr() *syscall.SysProcAttr { return nil }
