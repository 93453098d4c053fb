package nightly

import (
	"os"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// This file keeps the nightly job's persistent corpus in step with the
// native engine (fuzz.NativeEngine): the engine's cache is filled from the
// corpus before a target's run, and what the engine found is carried back
// after it, so that each night starts where the last one stopped. Each
// side is read as its format (raw, native) without guessing from content,
// so an input the engine found that looks like a native file or a
// simulation schedule comes back unchanged.

// fillCache writes the persistent corpus of a target into the engine's
// cache directory (native format), and returns the number of inputs and
// the files that could not be read (skipped, left as they are).
func fillCache(corpusDir, cache string) (int, []corpus.Problem, error) {
	es, probs, err := corpus.ReadDirsAs(corpus.Raw, corpusDir)
	if err != nil {
		if os.IsNotExist(unwrapAll(err)) {
			return 0, nil, os.MkdirAll(cache, 0o755)
		}
		return 0, nil, err
	}
	if _, err := corpus.Write(cache, corpus.Native, es); err != nil {
		return 0, probs, err
	}
	// Write makes no directory for no inputs; the engine may add none
	// either, and harvestCache needs the directory.
	return len(es), probs, os.MkdirAll(cache, 0o755)
}

// harvestCache copies the inputs of the engine's cache that the persistent
// corpus lacks into it (raw, content-addressed names). It returns the
// corpus size after, the inputs added (also when it fails partway), and
// the files it could not read.
func harvestCache(cache, corpusDir string) (total, added int, probs []corpus.Problem, err error) {
	r, err := corpus.Harvest(corpusDir, cache, corpus.Native)
	return r.Total, r.Added, r.Problems, err
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
