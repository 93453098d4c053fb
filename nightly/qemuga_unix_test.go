//go:build unix

package nightly

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestQemuGAInterrupted: Ctrl-C ends the qemu-ga share between two
// streams, without killing qemu-ga under a stream in flight (by the
// night's context, or by the terminal's SIGINT to the foreground process
// group), which failed the share: no error, and an interrupted night
// without a new crash exits 0.
func TestQemuGAInterrupted(t *testing.T) {
	if _, err := qgatest.FindQemuGA(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", qgatest.MissingQemuGAMessage, err)
		}
		t.Skipf("%s (%v)", qgatest.MissingQemuGAMessage, err)
	}
	out := t.TempDir()
	n := &night{o: Options{Out: out, Corpus: filepath.Join(out, "corpus"), Root: t.TempDir(), Repro: "qgafuzz"},
		rep: &Report{Start: time.Now(), Budget: Duration(time.Minute)}, board: newBoard(io.Discard, false, time.Minute),
		store: crashStore{dir: filepath.Join(out, "crashers")}, deadln: time.Now().Add(time.Minute)}
	ctx, cancel := context.WithCancel(context.Background())
	// Interrupted as the share starts qemu-ga, and again while it runs.
	cancel()
	n.againstQemuGA(ctx, 10*time.Second)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	n.againstQemuGA(ctx, 10*time.Second)
	if len(n.rep.Targets) != 2 || n.rep.Targets[0].Error != "" || n.rep.Targets[1].Error != "" {
		t.Fatalf("interrupted qemu-ga shares: %+v", n.rep.Targets)
	}
	if rep := n.finish(ctx); rep.ExitCode != 0 || !rep.Interrupted {
		t.Errorf("interrupted night: exit %d (interrupted %v), want 0; errors %q", rep.ExitCode, rep.Interrupted, rep.Problems())
	}
	if runtime.GOOS == "linux" {
		g, err := qgatest.StartQemuGAProcess(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if pg, err := syscall.Getpgid(g.Cmd.Process.Pid); err != nil || pg == syscall.Getpgrp() {
			t.Errorf("qemu-ga is in qgafuzz's process group (%d, %v): a Ctrl-C on the terminal kills it too", pg, err)
		}
	}
}
