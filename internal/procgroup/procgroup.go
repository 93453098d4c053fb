// Package procgroup runs commands in process groups of their own, so that
// a terminal's Ctrl-C reaches qgafuzz alone (which still needs them to
// finish its work) and stopping a command stops the children it started.
// Outside Unix there are no process groups: commands run as any child
// does, and stopping one kills that process only.
package procgroup

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// GoBuild returns the command "go args..." run in root, which ctx kills
// with every compiler it started, and whose work directory is under tmp
// (GOTMPDIR): a killed go command cannot remove its own, and the caller
// removes tmp.
func GoBuild(ctx context.Context, root, tmp string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTMPDIR="+tmp)
	cmd.SysProcAttr = Attr()
	cmd.Cancel = func() error { return Signal(cmd.Process, syscall.SIGKILL) }
	return cmd
}
