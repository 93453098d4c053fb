package nightly

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file keeps the crashers that triage had no time to replay (the
// budget ran out, or the night was interrupted) or could not replay, in
// OUT/untriaged/<target>/, so that nothing the engine found is lost; the
// next night triages them first.

// untriagedInput is a crasher an earlier night kept untriaged.
type untriagedInput struct {
	path string
	data []byte
}

// untriaged returns the crashers kept in Out/untriaged/<target>/ by an
// earlier night that had no time to triage them.
func (n *night) untriaged(target string) []untriagedInput {
	paths, _ := filepath.Glob(filepath.Join(n.o.Out, "untriaged", target, "*"))
	var out []untriagedInput
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".tmp-") {
			continue
		}
		if data, err := corpus.ReadFile(p); err == nil {
			out = append(out, untriagedInput{p, data})
		}
	}
	return out
}

// triageAll triages crashers, the last of which are the untriaged ones
// kept by an earlier night (us), and then removes those files, unless a
// crash could not be stored: one of them may hold it, so they stay for
// the next night.
func (n *night) triageAll(ctx context.Context, t fuzz.Target, crashers [][]byte, us []untriagedInput) []string {
	failures := n.storeFailures
	sigs := n.triage(ctx, t, crashers)
	if n.storeFailures == failures {
		n.dropUntriaged(us)
	}
	return sigs
}

// dropUntriaged removes the files of us that tonight's triage replayed:
// those it had no time for again are still there, written anew.
func (n *night) dropUntriaged(us []untriagedInput) {
	for _, u := range us {
		if !n.keptUntriaged[u.path] {
			os.Remove(u.path)
		}
	}
}

// keepUntriaged stores crashers whose crash triage could not learn (it had
// no time to replay them, or the replay failed; why says which) in
// Out/untriaged/<target>/ (content-addressed names, written atomically),
// as an error of the night: they failed the engine, but their crash is not
// known. The next night triages them first. After Ctrl-C (interrupted) it
// is a note: the user stopped the night, which then exits 0 unless a new
// crash was found, and nothing is lost.
func (n *night) keepUntriaged(target string, crashers [][]byte, why string, interrupted bool) {
	dir := filepath.Join(n.o.Out, "untriaged", target)
	var kept []string
	for _, data := range crashers {
		p := filepath.Join(dir, fuzz.InputName(data))
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = fuzz.WriteFileAtomic(p, data)
		}
		if err != nil {
			n.rep.Errors = append(n.rep.Errors, fmt.Sprintf("%s: keeping an untriaged crasher: %v", target, err))
			if !errors.Is(err, fuzz.ErrNotDurable) {
				continue
			}
			// In place: it must be marked kept, or dropUntriaged
			// removes the file an earlier night kept at this path.
		}
		kept = append(kept, p)
		if n.keptUntriaged == nil {
			n.keptUntriaged = map[string]bool{}
		}
		n.keptUntriaged[p] = true
	}
	if len(kept) == 0 {
		return
	}
	msg := fmt.Sprintf("%s: %s: %d crashers not triaged, kept in %s (the next night triages them); reproduce: %s", target, why, len(kept), dir, n.reproLine(target, kept[0]))
	if len(kept) > 1 {
		msg += fmt.Sprintf(" (and the %d others)", len(kept)-1)
	}
	if interrupted {
		n.rep.Notes = append(n.rep.Notes, msg)
	} else {
		n.rep.Errors = append(n.rep.Errors, msg)
	}
	n.board.printf("nightly: %s", msg)
}
