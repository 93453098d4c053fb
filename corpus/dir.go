package corpus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file reads and writes corpus directories. Reading never gives up on
// one bad file: an unreadable or undecodable file is reported as a Problem
// and skipped, so that a corpus of thousands of files with one broken
// entry can still be minimized or merged. Writing is atomic per file
// (fuzz.WriteFileAtomic) and never overwrites an existing file with
// different content.

// Entry is one input read from disk.
type Entry struct {
	Path   string
	Name   string // base name
	Data   []byte // the decoded input
	Format Format
}

// Problem is a file that could not be used, or, with Warning set, a file
// or directory that was read but perhaps not as its owner meant (Err says
// how it was read and why that may be wrong).
type Problem struct {
	Path    string
	Err     error
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return fuzz.Printable(fmt.Sprintf("warning: %s: %v", p.Path, p.Err))
	}
	return fuzz.Printable(fmt.Sprintf("skipping %s: %v", p.Path, p.Err))
}

// Skipped counts the problems that are files left out, not warnings.
func Skipped(probs []Problem) int {
	n := 0
	for _, p := range probs {
		if !p.Warning {
			n++
		}
	}
	return n
}

// ReadDirs reads every input of the given directories (not recursively;
// the corpus/ directory of a go-fuzz workdir is used when given the
// workdir). A path that is a file is read as one input. Each file's
// format is told from its content, except that a file of a directory
// is native only when every file of the directory is: a directory that
// mixes native files with others is read as raw, headers included, and
// reported as a warning Problem. A directory that does not exist or
// cannot be listed is an error; a file that cannot be read or decoded,
// and a subdirectory, is a Problem.
func ReadDirs(paths ...string) ([]Entry, []Problem, error) {
	return readDirs("", paths)
}

// ReadDirsAs is ReadDirs for inputs known to be in format f: no file's
// format is guessed from its content, so a libFuzzer input that happens to
// start with Go's "go test fuzz v1" header stays as it is, and a file of a
// native corpus that is not a native file is a Problem.
func ReadDirsAs(f Format, paths ...string) ([]Entry, []Problem, error) {
	return readDirs(f, paths)
}

// readDirs reads paths as format as, or guessing each file's format when
// as is "".
func readDirs(as Format, paths []string) ([]Entry, []Problem, error) {
	var out []Entry
	probs, err := walkDirs(as, paths, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, probs, nil
}

// walkDirs reads the inputs of paths one at a time, as readDirs does, and
// hands each to fn, so that a caller that needs one input at a time holds
// one in memory, not the whole corpus. An error from fn stops the walk.
func walkDirs(as Format, paths []string, fn func(Entry) error) ([]Problem, error) {
	// A mistyped path fails the walk before fn sees any input, as when
	// the whole corpus was read first: export and import must not leave
	// a partial output behind for a typo in their last source.
	stats := make([]fs.FileInfo, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		stats[i] = st
	}
	var probs []Problem
	for i, p := range paths {
		if !stats[i].IsDir() {
			e, err := readEntry(p, as, true)
			if err == nil && isZip(p, e.Data) {
				// A seed corpus as OSS-Fuzz ships it, not an input.
				err = errors.New("a zip archive, not an input: unzip it and give the directory")
			}
			if err != nil {
				probs = append(probs, Problem{Path: p, Err: err})
				continue
			}
			if err := fn(e); err != nil {
				return probs, err
			}
			continue
		}
		dir := inputDir(p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return probs, fmt.Errorf("corpus: cannot list %s: %w", dir, err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		var files []string
		for _, de := range ents {
			if !skipFile(de.Name(), as) {
				files = append(files, filepath.Join(dir, de.Name()))
			}
		}
		// Guessing, a file is native only in a directory of native
		// files: a raw corpus may hold an input that merely starts like
		// one, and that input is raw (as in Layout). But a directory
		// where such files are many, or most, may well be a native
		// corpus with strays in it: say so, since its native files then
		// reach the target with their header.
		native := as != ""
		if !native {
			nat, other := countNative(files)
			native = nat > 0 && other == 0
			if nat > 0 && other > 0 {
				probs = append(probs, Problem{Path: dir, Warning: true, Err: fmt.Errorf(
					"%d of its %d files are Go native fuzz files (%q header) and the others are not: all are read as raw inputs, "+
						"headers included; if it is a native corpus, move the other files out (or convert it with "+
						"'qgafuzz corpus import --format native', which skips them)", nat, nat+other, strings.TrimSpace(nativeHeader))})
			}
		}
		for _, path := range files {
			// Subdirectories, sockets and dangling links are not
			// read, but reported (ReadFile says why).
			e, err := readEntry(path, as, native)
			if err != nil {
				probs = append(probs, Problem{Path: path, Err: err})
				continue
			}
			if err := fn(e); err != nil {
				return probs, err
			}
		}
	}
	return probs, nil
}

// isGoFuzzWorkdir reports whether dir is a go-fuzz workdir: it has a
// corpus/ subdirectory and no input files of its own.
func isGoFuzzWorkdir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "corpus"))
	if err != nil || !st.IsDir() {
		return false
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Type().IsRegular() && !skipName(e.Name()) {
			return false
		}
	}
	return true
}

// inputDir is the directory that holds the inputs of the corpus directory
// dir: the corpus/ subdirectory of a go-fuzz workdir, else dir itself.
func inputDir(dir string) string {
	if isGoFuzzWorkdir(dir) {
		return filepath.Join(dir, "corpus")
	}
	return dir
}

// isZip reports whether the file at path, holding b, is a zip archive.
func isZip(path string, b []byte) bool {
	return strings.EqualFold(filepath.Ext(path), ".zip") && (bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06")))
}

// countNative counts the files at paths that are native files and those
// that are not (the ones that cannot be read do not count).
func countNative(paths []string) (native, other int) {
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue // a FIFO would block
		}
		switch isNat, err := hasNativeHeader(p); {
		case err != nil:
			continue
		case isNat:
			native++
		default:
			other++
		}
	}
	return native, other
}

// readEntry reads one input file as readInput does.
func readEntry(path string, as Format, native bool) (Entry, error) {
	data, f, err := readInput(path, as, native)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return Entry{}, pe.Err
		}
		return Entry{}, err
	}
	if f == SimTrace {
		return Entry{}, errors.New("a simulation schedule, not a fuzz input")
	}
	return Entry{Path: path, Name: filepath.Base(path), Data: data, Format: f}, nil
}

// seenSet holds the SHA-256 of the inputs met so far, to find duplicates
// without keeping a second copy of every input.
type seenSet map[[sha256.Size]byte]bool

// add records data and reports whether it was new.
func (s seenSet) add(data []byte) bool {
	k := sha256.Sum256(data)
	if s[k] {
		return false
	}
	s[k] = true
	return true
}

// addDir records the inputs of dir, read as format as, and returns how
// many it read. Files that cannot be read are left out; a directory that
// cannot be listed is the error.
func (s seenSet) addDir(as Format, dir string) (int, error) {
	n := 0
	_, err := walkDirs(as, []string{dir}, func(e Entry) error {
		n++
		s.add(e.Data)
		return nil
	})
	return n, err
}

// Dedup returns the entries with distinct content (the first of each) and
// the number of duplicates dropped.
func Dedup(es []Entry) ([]Entry, int) {
	seen := seenSet{}
	var out []Entry
	for _, e := range es {
		if seen.add(e.Data) {
			out = append(out, e)
		}
	}
	return out, len(es) - len(out)
}

// WriteResult says what Write did.
type WriteResult struct {
	Dir               string // where the files are
	Written, Existing int
	Bytes             int64
	// Duplicates counts the inputs given more than once (Convert): each
	// is written once.
	Duplicates int
}

// Write stores the entries in dir in format f, one file each, atomically.
// Raw and native files keep their names when these are free; go-fuzz and
// libFuzzer files are named by their SHA-1, as the engines name them. A
// file already holding the same input is left alone; a name taken by
// another input gets the content-addressed name instead. dir is created
// when there is something to write.
func Write(dir string, f Format, es []Entry) (WriteResult, error) {
	res := WriteResult{Dir: dir}
	for _, e := range es {
		if err := res.add(f, e); err != nil {
			return res, err
		}
	}
	return res, nil
}

// add writes one entry into res.Dir as Write does, and counts it.
func (res *WriteResult) add(f Format, e Entry) error {
	if res.Written+res.Existing == 0 {
		// The directory is made for the first input, and not for
		// nothing.
		if err := os.MkdirAll(res.Dir, 0o755); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
	}
	content := Encode(f, e.Data)
	name := e.Name
	if f == GoFuzz || f == LibFuzzer || name == "" || skipName(name) {
		name = FileName(f, e.Data)
	}
	path := filepath.Join(res.Dir, name)
	same, taken := holds(path, content)
	if taken && !same {
		path = filepath.Join(res.Dir, FileName(f, e.Data))
		if same, taken = holds(path, content); taken && !same {
			return fmt.Errorf("corpus: %s holds another input; not overwriting it (%d files written before are complete)", path, res.Written)
		}
	}
	if same {
		res.Existing++
		return nil
	}
	if err := fuzz.WriteFileAtomic(path, content); err != nil {
		return fmt.Errorf("corpus: %w (%d files written before the failure are complete)", err, res.Written)
	}
	res.Written++
	res.Bytes += int64(len(e.Data))
	return nil
}

// holds reports whether path holds exactly content, and whether anything
// is at path at all (a file that cannot be read counts as other content).
func holds(path string, content []byte) (same, taken bool) {
	if _, err := os.Lstat(path); err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	old, err := ReadFile(path)
	return err == nil && bytes.Equal(old, content), true
}

// Size returns the total bytes of the entries' inputs.
func Size(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += int64(len(e.Data))
	}
	return n
}

// HarvestResult says what Harvest did.
type HarvestResult struct {
	Added int // inputs new to the corpus, now written into it
	Total int // the corpus's inputs after
	// Problems are the files of src that could not be read (left where
	// they are). Those of the corpus itself are not: whoever reads the
	// corpus reports them.
	Problems []Problem
}

// Harvest copies the inputs of src (read as format from, so nothing is
// guessed from content) into the raw corpus directory into, under
// content-addressed names, except those that into or one of the known
// directories already holds. It is how what an engine found in its own
// directory (native fuzzing's cache, go-fuzz's workdir) comes back into a
// working corpus that every tool reads.
func Harvest(into, src string, from Format, known ...string) (HarvestResult, error) {
	var res HarvestResult
	if _, err := os.Stat(src); err != nil {
		return res, fmt.Errorf("corpus: %w", err)
	}
	// One input at a time, as everywhere a corpus is only copied.
	seen := seenSet{}
	if _, err := os.Stat(into); err == nil {
		if res.Total, err = seen.addDir(Raw, into); err != nil {
			return res, err
		}
	}
	for _, dir := range known {
		seen.addDir("", dir) // an absent seed directory knows nothing
	}
	w := WriteResult{Dir: into}
	probs, err := walkDirs(from, []string{src}, func(e Entry) error {
		if !seen.add(e.Data) {
			return nil
		}
		e.Name = fuzz.InputName(e.Data)
		return w.add(Raw, e)
	})
	res.Problems = append(res.Problems, probs...)
	res.Added = w.Written
	res.Total += w.Written
	return res, err
}
