package nightly

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file drives Go's native fuzzing engine: one instrumented test
// binary of package fuzz (go test -c -fuzz=.), run once per target with
// -test.fuzz, in a scratch copy of the package directory so that crashers
// (which the engine writes to testdata/fuzz/FuzzX/) never land in the
// source tree, and with -test.fuzzcachedir pointing at a directory filled
// from the persistent corpus, so that what the engine finds is carried to
// the next night. The engine stops at its first crash; the driver collects
// the crasher and starts it again for the rest of the target's time.

// native is the built engine.
type native struct {
	bin  string // the test binary
	tree string // scratch tree: tree/fuzz is the working directory
	work string
	env  []string
}

// buildNative builds the fuzz test binary and the scratch tree.
func buildNative(ctx context.Context, root, work string, env []string) (*native, error) {
	n := &native{bin: filepath.Join(work, "fuzz.test"), tree: filepath.Join(work, "tree"), work: work, env: env}
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-fuzz=.", "-o", n.bin, "./fuzz")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the fuzz engine (go test -c -fuzz=. ./fuzz in %s): %v\n%s", root, err, out)
	}
	if err := os.MkdirAll(filepath.Join(n.tree, "fuzz"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(fuzz.CorpusDir(root, ""), filepath.Join(n.tree, "corpus")); err != nil && !os.IsExist(err) {
		return nil, err
	}
	return n, nil
}

// engineRun is the outcome of one engine process.
type engineRun struct {
	status   fuzz.NativeStatus
	crashers [][]byte // crasher inputs, decoded
	output   string   // the output without the debug lines (tail)
	exitErr  error
}

// run fuzzes one target for d with the given cache directory (the
// engine's cache holds one directory per fuzz function, so cache is
// <dir>/FuzzX). onStatus is called on every progress line.
func (n *native) run(ctx context.Context, t fuzz.Target, d time.Duration, cache string, onStatus func(fuzz.NativeStatus)) engineRun {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-test.run=^$", "-test.fuzz=^" + t.FuncName() + "$",
		fmt.Sprintf("-test.fuzztime=%ds", secs), "-test.fuzzcachedir=" + filepath.Dir(cache),
		"-test.fuzzminimizetime=5s", fmt.Sprintf("-test.parallel=%d", runtime.GOMAXPROCS(0))}
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = filepath.Join(n.tree, "fuzz")
	cmd.Env = append(append(os.Environ(), "GODEBUG=fuzzdebug=1"), n.env...)
	var res engineRun
	var out tailLines
	res.exitErr = fuzz.RunLines(ctx, cmd, nil, func(line string) {
		if !strings.Contains(line, " DEBUG ") {
			out.add(line)
		}
		if _, progress := res.status.Parse(line); progress && onStatus != nil {
			onStatus(res.status)
		}
	})
	res.output = out.String()
	// The engine names the crasher relative to its working directory;
	// collect whatever is in testdata/fuzz/FuzzX, named or not, and move
	// it out so that the next run does not stop on it at once.
	dir := filepath.Join(n.tree, "fuzz", "testdata", "fuzz", t.FuncName())
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		data, _, err := corpus.ReadInput(p)
		if err == nil {
			res.crashers = append(res.crashers, data)
		}
		os.Rename(p, filepath.Join(n.work, "crasher-"+t.Name+"-"+e.Name()))
	}
	return res
}

// fillCache writes the persistent corpus of a target into the engine's
// cache directory (native format), and returns the number of inputs and
// the files that could not be read (skipped, left as they are).
func fillCache(corpusDir, cache string) (int, []corpus.Problem, error) {
	es, probs, err := corpus.ReadDirs(corpusDir)
	if err != nil {
		if os.IsNotExist(unwrapAll(err)) {
			return 0, nil, os.MkdirAll(cache, 0o755)
		}
		return 0, nil, err
	}
	if _, err := corpus.Write(cache, corpus.Native, es); err != nil {
		return 0, probs, err
	}
	return len(es), probs, nil
}

// harvestCache copies the inputs of the engine's cache that the persistent
// corpus lacks into it (raw, content-addressed names). It returns the
// corpus size after.
func harvestCache(cache, corpusDir string) (int, error) {
	es, _, err := corpus.ReadDirs(cache)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		return 0, err
	}
	have, _, err := corpus.ReadDirs(corpusDir)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, e := range have {
		seen[string(e.Data)] = true
	}
	var add []corpus.Entry
	for _, e := range es {
		if !seen[string(e.Data)] {
			seen[string(e.Data)] = true
			e.Name = fuzz.InputName(e.Data)
			add = append(add, e)
		}
	}
	if _, err := corpus.Write(corpusDir, corpus.Raw, add); err != nil {
		return len(have), err
	}
	return len(have) + len(add), nil
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// tailLines keeps the last 200 lines.
type tailLines struct{ lines []string }

func (t *tailLines) add(l string) {
	t.lines = append(t.lines, l)
	if len(t.lines) > 400 {
		t.lines = append(t.lines[:0], t.lines[200:]...)
	}
}

func (t *tailLines) String() string {
	l := t.lines
	if len(l) > 200 {
		l = l[len(l)-200:]
	}
	return strings.Join(l, "\n")
}
