package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

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

// Problem is a file that could not be used.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) String() string { return fmt.Sprintf("skipping %s: %v", p.Path, p.Err) }

// ReadDirs reads every input of the given directories (not recursively;
// the corpus/ directory of a go-fuzz workdir is used when given the
// workdir). A path that is a file is read as one input. A directory that
// does not exist or cannot be listed is an error; a file that cannot be
// read or decoded is a Problem.
func ReadDirs(paths ...string) ([]Entry, []Problem, error) {
	var out []Entry
	var probs []Problem
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("corpus: %w", err)
		}
		if !st.IsDir() {
			e, err := readEntry(p)
			if err != nil {
				probs = append(probs, Problem{p, err})
				continue
			}
			out = append(out, e)
			continue
		}
		dir := p
		if sub := filepath.Join(p, "corpus"); isGoFuzzWorkdir(p) {
			dir = sub
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("corpus: cannot list %s: %w", dir, err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		for _, de := range ents {
			if skipName(de.Name()) || de.IsDir() {
				continue
			}
			path := filepath.Join(dir, de.Name())
			if !de.Type().IsRegular() {
				if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
					continue // sockets, dangling links, ...
				}
			}
			e, err := readEntry(path)
			if err != nil {
				probs = append(probs, Problem{path, err})
				continue
			}
			out = append(out, e)
		}
	}
	return out, probs, nil
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

func readEntry(path string) (Entry, error) {
	data, f, err := ReadInput(path)
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

// Dedup returns the entries with distinct content (the first of each) and
// the number of duplicates dropped.
func Dedup(es []Entry) ([]Entry, int) {
	seen := map[string]bool{}
	var out []Entry
	for _, e := range es {
		k := string(e.Data)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out, len(es) - len(out)
}

// WriteResult says what Write did.
type WriteResult struct {
	Written, Existing int
	Bytes             int64
}

// Write stores the entries in dir in format f, one file each, atomically.
// Raw and native files keep their names when these are free; go-fuzz and
// libFuzzer files are named by their SHA-1, as the engines name them. A
// file already holding the same input is left alone; a name taken by
// another input gets the content-addressed name instead. dir is created.
func Write(dir string, f Format, es []Entry) (WriteResult, error) {
	var res WriteResult
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("corpus: %w", err)
	}
	for _, e := range es {
		content := Encode(f, e.Data)
		name := e.Name
		if f == GoFuzz || f == LibFuzzer || name == "" || skipName(name) {
			name = FileName(f, e.Data)
		}
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil {
			if bytes.Equal(old, content) {
				res.Existing++
				continue
			}
			path = filepath.Join(dir, FileName(f, e.Data))
			if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
				res.Existing++
				continue
			}
		}
		if err := fuzz.WriteFileAtomic(path, content); err != nil {
			return res, fmt.Errorf("corpus: %w (%d files written before the failure are complete)", err, res.Written)
		}
		res.Written++
		res.Bytes += int64(len(e.Data))
	}
	return res, nil
}

// Size returns the total bytes of the entries' inputs.
func Size(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += int64(len(e.Data))
	}
	return n
}
