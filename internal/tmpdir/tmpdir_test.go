//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tmpdir

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// When TMPDIR_TEST_CHILD is set, the test binary makes a directory in it,
// prints its path and waits to be killed.
func TestMain(m *testing.M) {
	if parent := os.Getenv("TMPDIR_TEST_CHILD"); parent != "" {
		d, err := makeIn(parent, "run-")
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(d.Path + "\n")
		select {}
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
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		child.Process.Kill()
		t.Fatalf("child: %v", err)
	}
	dead := line[:len(line)-1]
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
