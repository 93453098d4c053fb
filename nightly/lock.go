package nightly

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/internal/flock"
)

// This file keeps two nights out of one output directory, and cleans up
// after a night that was killed.

// lockName is the lock file in the output directory. It stays after the
// night (removing it would race with the next night's open); the lock is
// the kernel's, and dies with the process that held it.
const lockName = ".lock"

// BusyError says another night holds the output directory.
type BusyError struct {
	Dir string
	PID int // the holder's pid as it wrote it, 0 if unknown
}

func (e *BusyError) Error() string {
	holder := "another nightly run"
	if e.PID > 0 {
		holder = fmt.Sprintf("another nightly run (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is using %s: two nights in one --out would mix their corpus cache, crashers and reports; wait for it or choose another --out", holder, e.Dir)
}

// lockOut creates dir and takes its lock for this process. release lets
// it go. The lock is advisory: it keeps out other nights, nothing else.
// Where flock is missing (Windows), two nights in one --out are not
// detected.
func lockOut(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the output directory: %w", err)
	}
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create the lock file of the output directory: %w", err)
	}
	if err := flock.TryLock(f); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		defer f.Close()
		if errors.Is(err, flock.ErrLocked) {
			b := make([]byte, 32)
			k, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:k])))
			return nil, &BusyError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("cannot lock %s: %w", name, err)
	}
	// The pid is only for the message above; the lock is what counts.
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// removeStaleWork removes the work directories (built binaries, the
// engine's cache) of nights that were killed before they could: with the
// lock held, no other night is using one. It returns one message per
// directory removed.
func removeStaleWork(dir string) []string {
	var msgs []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".work-") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err == nil {
			msgs = append(msgs, "removed the work directory of a night that was killed: "+p)
		}
	}
	return msgs
}

// removeStaleTemp removes the temporary files and directories (.tmp-*, see
// fuzz.TempPattern) that a night killed mid-write left anywhere under dir:
// the corpus (when it is DIR/corpus), the crash store, the reports. With
// the lock held, no night is writing them; those younger than
// staleTempAge are left, as another command (qgafuzz fuzz, corpus merge)
// may be writing into DIR/corpus without the lock. The crash store's half-written
// directories are crashStore.recover's, which runs first; a .work-*
// directory is removeStaleWork's. It returns one message for all of them.
func removeStaleTemp(dir string) []string {
	var removed []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil || p == dir:
			return nil
		case e.IsDir() && filepath.Dir(p) == dir && strings.HasPrefix(e.Name(), ".work-"):
			return filepath.SkipDir
		case !strings.HasPrefix(e.Name(), ".tmp-"):
			return nil
		case !staleTemp(e):
			// Recent: perhaps another process (qgafuzz fuzz or corpus
			// merge into DIR/corpus) writing it now, outside the lock.
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if os.RemoveAll(p) == nil {
			removed = append(removed, p)
		}
		if e.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if len(removed) == 0 {
		return nil
	}
	// A night killed during every harvest could leave many: the count and
	// the first few are enough to tell what happened.
	shown := removed[:min(len(removed), 3)]
	more := ""
	if len(removed) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(removed)-len(shown))
	}
	return []string{fmt.Sprintf("removed %d temporary file(s) (.tmp-*) that a night killed mid-write left: %s%s",
		len(removed), strings.Join(shown, ", "), more)}
}

// staleTempAge is how old a temporary file under the night's directory
// must be to be taken for a dead writer's: one being written is touched
// as it grows (a directory, as files are added to it).
const staleTempAge = 10 * time.Minute

func staleTemp(e fs.DirEntry) bool {
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > staleTempAge
}
