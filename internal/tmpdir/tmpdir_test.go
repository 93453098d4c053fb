//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tmpdir

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/flock"
)

// When TMPDIR_TEST_CHILD is set, the test binary makes a directory in it,
// prints its path and waits to be killed (or for its standard input to
// close). It must not wait in "select {}": with no other goroutine the
// runtime ends such a process at once ("all goroutines are asleep"), and
// its directory would be abandoned while the test takes its owner for
// alive.
func TestMain(m *testing.M) {
	if parent := os.Getenv("TMPDIR_TEST_CHILD"); parent != "" {
		d, err := makeIn(parent, "run-")
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(d.Path + "\n")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A directory whose process was killed with SIGKILL is removed by the next
// sweep; the directories of live owners, of other prefixes, and without a
// lock file stay.
func TestSweepRemovesOnlyAbandoned(t *testing.T) {
	parent := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "TMPDIR_TEST_CHILD="+parent)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := child.StdinPipe() // never written: the child waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		child.Process.Kill()
		t.Fatalf("child: %v", err)
	}
	dead := line[:len(line)-1]
	// A child that did not wait would be gone by now.
	time.Sleep(100 * time.Millisecond)
	if got := Sweep(parent, "run-"); len(got) != 0 {
		t.Errorf("swept %v while its owner ran", got)
	}
	child.Process.Kill()
	child.Wait()

	live, err := makeIn(parent, "run-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	bare := filepath.Join(parent, "run-bare") // no lock file: being made
	other := filepath.Join(parent, "other-1")
	for _, d := range []string{bare, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(other, ownerName), nil, 0o600)

	if got := Sweep(parent, "run-"); !slices.Equal(got, []string{dead}) {
		t.Errorf("swept %v, want only the killed process's %s", got, dead)
	}
	for _, d := range []string{live.Path, bare, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s is gone: %v", d, err)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", dead, err)
	}
}

// Make's directory is locked from its start, holds only the lock file, and
// Remove takes it away, once or twice.
func TestMakeAndRemove(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	d, err := Make("qgafuzz-test-")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(d.Path)
	if len(ents) != 1 || ents[0].Name() != ownerName {
		t.Errorf("a new directory holds %v, want only %s", ents, ownerName)
	}
	if got := Sweep(os.TempDir(), "qgafuzz-test-"); len(got) != 0 {
		t.Errorf("swept its own live directory: %v", got)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", d.Path, err)
	}
}

// Where the file system has no locks (flock fails with ENOLCK on an NFS
// mount without a lock manager), Make still makes a directory, as
// os.MkdirTemp did, without a lock file, so that no sweep removes it;
// it failed, and every command that needs one failed with it.
func TestMakeWithoutLocks(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	tryLock = func(*os.File) error { return syscall.ENOLCK }
	t.Cleanup(func() { tryLock = flock.TryLock })
	d, err := Make("qgafuzz-test-")
	if err != nil {
		t.Fatalf("Make on a file system without locks: %v", err)
	}
	if ents, _ := os.ReadDir(d.Path); len(ents) != 0 {
		t.Errorf("a directory without a lock holds %v, want nothing", ents)
	}
	tryLock = flock.TryLock // a sweeper where locks work
	if got := Sweep(os.TempDir(), "qgafuzz-test-"); len(got) != 0 {
		t.Errorf("swept the live directory that has no lock: %v", got)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", d.Path, err)
	}
}

// A FIFO in place of the lock file (anyone may make one in a shared
// temporary directory) is passed over: opening it to read would have
// blocked every later start.
func TestSweepPassesOverFIFO(t *testing.T) {
	parent := t.TempDir()
	d := filepath.Join(parent, "run-fifo")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(d, ownerName), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() { done <- Sweep(parent, "run-") }()
	select {
	case got := <-done:
		if len(got) != 0 {
			t.Errorf("swept %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Sweep blocked on a FIFO")
	}
}
