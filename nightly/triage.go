package nightly

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// This file turns what the engines found into unique, minimized, stored
// crashes: each crasher is replayed through the coverage server (a
// separate process, so an input that kills or hangs the process cannot
// take the night with it) to get its signature; crashers are grouped by
// signature; the first of each group is minimized while its signature
// stays the same; and the group is stored once.

// engineGrace is how long the engine may overrun its time (it stops about
// a second past it by itself) before it is interrupted, and then killed
// as long again later (fuzz.NativeOptions.Grace): an engine that hangs,
// or minimizes a slow crasher, cannot take the night.
var engineGrace = 3 * time.Second

// fuzzTarget runs the engine on one target for d (restarting it after
// each crash while time is left) and triages its crashers.
func (n *night) fuzzTarget(ctx context.Context, t fuzz.Target, d time.Duration) {
	tr := Target{Name: t.Name, Kind: "fuzz", Budget: Duration(d), Crashes: []string{}}
	start := time.Now()
	deadline := start.Add(d)
	n.board.begin(t.Name, d)
	corpusDir := filepath.Join(n.o.Corpus, t.Name)
	cache := filepath.Join(n.work, "cache", t.FuncName())
	before, probs, err := fillCache(corpusDir, cache)
	if err != nil {
		tr.Error = fmt.Sprintf("reading the corpus %s: %v", corpusDir, err)
	}
	for _, p := range probs {
		msg := fmt.Sprintf("%s: corpus file %s", t.Name, p)
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
	tr.CorpusBefore, tr.CorpusAfter = before, before
	// Crashes stored by earlier nights are replayed first: one that still
	// fails is reported again (known, but not fixed), without depending
	// on the engine finding it again.
	crashers, unreadable := n.storedCrashers(ctx, t)
	// So are the crashers the last night had no time to triage.
	untriaged := n.untriaged(t.Name)
	for _, u := range untriaged {
		crashers = append(crashers, u.data)
	}
	var execs int64
	pruned := false
	for first := true; err == nil && ctx.Err() == nil; first = false {
		// The first run always happens (at least a second), even when
		// building took the target's share; restarts need two seconds.
		left := time.Until(deadline)
		if !first && left < 2*time.Second {
			break
		}
		left = max(left, time.Second)
		r := n.engine.Run(ctx, t, fuzz.NativeOptions{Time: left, Grace: engineGrace, CacheDir: filepath.Dir(cache), Coverage: true, Env: n.engineEnv(),
			OnStatus: func(st fuzz.NativeStatus) {
				n.board.update(st.Phase, execs+st.Execs, st.ExecsPerSec, st.Corpus, max(st.Coverage, tr.Coverage))
			}})
		execs += r.Status.Execs
		tr.Coverage = max(tr.Coverage, r.Status.Coverage)
		for _, c := range r.Crashers {
			crashers = append(crashers, c.Data)
		}
		if r.HardStopped {
			msg := fmt.Sprintf("%s: the fuzzing engine was still running %v past its time (hung: in a target's setup before fuzzing, say) and was stopped; what it wrote is kept (%d crashers, and its corpus)",
				t.Name, engineGrace, len(r.Crashers))
			n.rep.Notes = append(n.rep.Notes, msg)
			n.board.printf("nightly: %s", msg)
		}
		if len(r.Crashers) == 0 {
			if r.Err != nil && ctx.Err() == nil && !r.HardStopped {
				// The engine failed without writing a crasher: a seed
				// failed (the engine stops before fuzzing), or the
				// engine itself broke.
				sctx, cancel := context.WithDeadline(ctx, n.triageDeadline(ctx))
				seeds := n.failingSeeds(sctx, t, corpusDir)
				cancel()
				if len(seeds) == 0 {
					tr.Error = fmt.Sprintf("the fuzzing engine failed: %v\n%s", r.Err, tailOf(r.Output, 30))
				}
				crashers = append(crashers, seeds...)
			}
			break
		}
		tr.Restarts++
		if tr.Restarts >= 3 {
			break
		}
		if !pruned {
			// Go's engine replays its cache before it fuzzes and stops at
			// an input there that fails: one from the persistent corpus (a
			// regression, or a known crash, suppressed or not) would end
			// every run, and every night, before any fuzzing. Such inputs
			// are triaged and left out of the cache; the corpus keeps them.
			pruned = true
			// Within the target's share: a large corpus must not
			// overrun it (what is not measured by then stays).
			dctx, cancel := context.WithDeadline(ctx, deadline)
			crashers = append(crashers, n.dropFailing(dctx, t, cache)...)
			cancel()
		}
	}
	n.saveCorpus(&tr, cache, corpusDir)
	tr.Elapsed = Duration(time.Since(start))
	tr.Execs = execs
	if s := time.Duration(tr.Elapsed).Seconds(); s > 0 {
		tr.ExecsPerSec = float64(execs) / s
	}
	tr.Crashes = append(tr.Crashes, n.triageAll(ctx, t, crashers, untriaged)...)
	if len(unreadable) > 0 {
		// Each is a known crash that tonight did not check: an error of
		// the target, or it would drop out of the report unnoticed.
		tr.addError(unreadable...)
	}
	n.rep.Targets = append(n.rep.Targets, tr)
	n.board.printf("nightly: %s done: %s, %d execs (%.0f/s), coverage %d bits, corpus %d -> %d, %d unique crashes",
		t.Name, tr.Elapsed, tr.Execs, tr.ExecsPerSec, tr.Coverage, tr.CorpusBefore, tr.CorpusAfter, len(tr.Crashes))
	if execs == 0 && tr.Error == "" && ctx.Err() == nil {
		msg := t.Name + " " + noInputReason(tr)
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
}

// saveCorpus carries what the engine found in its cache back into the
// persistent corpus and sets tr's corpus size after to what it holds.
func (n *night) saveCorpus(tr *Target, cache, corpusDir string) {
	after, added, probs, err := harvestCache(cache, corpusDir)
	for i, p := range probs {
		if i == 3 {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: saving the corpus: %d more files skipped", tr.Name, len(probs)-i))
			break
		}
		n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: saving the corpus: %s", tr.Name, p))
	}
	if err != nil {
		tr.addError("saving the corpus: " + err.Error())
	}
	// A harvest that failed partway (a full disk) still stored the files
	// it wrote before, and counted them with the corpus it read first; one
	// that failed before writing anything left the corpus as it was.
	if err == nil || added > 0 {
		tr.CorpusAfter = after
	}
}

// dropFailing removes the inputs of the engine's cache that fail (they
// came from the persistent corpus, which keeps them) and returns them.
func (n *night) dropFailing(ctx context.Context, t fuzz.Target, cache string) [][]byte {
	es, _, err := corpus.ReadDirsAs(corpus.Native, cache)
	if err != nil || len(es) == 0 {
		return nil
	}
	inputs := make([][]byte, len(es))
	for i, e := range es {
		inputs[i] = e.Data
	}
	res, err := n.server.MeasureData(ctx, t.Name, inputs, nil)
	if err != nil {
		return nil
	}
	var out [][]byte
	for i, r := range res {
		if r.Fail == "" || os.Remove(es[i].Path) != nil {
			continue
		}
		out = append(out, inputs[i])
		msg := fmt.Sprintf("%s: a corpus input (%d bytes, %s) fails, which stops the engine before it fuzzes; left out of tonight's fuzzing, kept in the corpus", t.Name, len(inputs[i]), fuzz.InputName(inputs[i]))
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
	return out
}

// storedCrashers returns the minimized inputs of the crashes stored for t
// by earlier runs; those that no longer fail are noted as fixed. It
// returns the ones it could not read too, as messages. The replays stop
// at the triage deadline (those left are noted as not checked).
func (n *night) storedCrashers(ctx context.Context, t fuzz.Target) (inputs [][]byte, unreadable []string) {
	dirs, _ := filepath.Glob(filepath.Join(n.store.dir, t.Name, "*", FileMinimized))
	ctx, cancel := context.WithDeadline(ctx, n.triageDeadline(ctx))
	defer cancel()
	for i, p := range dirs {
		if ctx.Err() != nil {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: %d crashes stored by earlier nights not replayed tonight: the budget ran out (or the night was interrupted)", t.Name, len(dirs)-i))
			break
		}
		if strings.Contains(p, ".incomplete-") || strings.Contains(p, "/.tmp-") {
			continue
		}
		data, err := corpus.ReadFile(p)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("cannot replay the stored crash %s (not checked tonight; repair or move the directory): %v", p, err))
			continue
		}
		r, err := n.replay(ctx, t.Name, data)
		if ctx.Err() != nil {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: %d crashes stored by earlier nights not replayed tonight: the budget ran out (or the night was interrupted)", t.Name, len(dirs)-i))
			break
		}
		if err == nil && r.Fail == "" {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: the crash stored in %s no longer reproduces (fixed?)", t.Name, filepath.Dir(p)))
			continue
		}
		inputs = append(inputs, data)
	}
	return inputs, unreadable
}

// failingSeeds replays the checked-in seeds of t (fuzz.SeedDir: planted
// starts from the parser's) and its persistent corpus, and returns the
// inputs that fail.
func (n *night) failingSeeds(ctx context.Context, t fuzz.Target, corpusDir string) [][]byte {
	var out [][]byte
	for _, dir := range []string{fuzz.SeedDir(n.o.Root, t.Name), corpusDir} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		_, inputs, err := fuzz.ReadCorpus(dir)
		if err != nil {
			continue
		}
		res, err := n.server.MeasureData(ctx, t.Name, inputs, nil)
		if err != nil {
			continue
		}
		for i, r := range res {
			if r.Fail != "" {
				out = append(out, inputs[i])
			}
		}
	}
	return out
}

// group is the crashers of one signature.
type group struct {
	sig    string
	first  []byte
	report string
	hits   int
}

// replay runs one input through the coverage server, within ctx (an input
// that is still running when ctx ends is abandoned, and the server
// restarted for the next).
func (n *night) replay(ctx context.Context, target string, data []byte) (corpus.Result, error) {
	rs, err := n.server.MeasureData(ctx, target, [][]byte{data}, nil)
	if err != nil {
		return corpus.Result{}, err
	}
	return rs[0], nil
}

// triage replays, groups, minimizes and stores the crashers of t; it
// returns the signatures found. It ends by the triage deadline (see
// triageDeadline): the crashes it has replayed by then are stored (those
// not yet minimized as they are), the crashers it has not are kept in
// Out/untriaged, and the report says so.
func (n *night) triage(ctx context.Context, t fuzz.Target, crashers [][]byte) []string {
	tctx, cancel, stoppedWhy := n.triageContext(ctx, "triage")
	defer cancel()
	groups := map[string]*group{}
	for i, data := range crashers {
		r, err := n.replay(tctx, t.Name, data)
		if tctx.Err() != nil {
			n.keepUntriaged(t.Name, crashers[i:], stoppedWhy(), ctx.Err() != nil)
			break
		}
		switch {
		case err != nil:
			// Kept, not lost: its crash is not known.
			n.keepUntriaged(t.Name, [][]byte{data}, fmt.Sprintf("replaying a crasher: %v", err), false)
			continue
		case r.Fail == "":
			p := filepath.Join(n.o.Out, "unreproducible", t.Name, fuzz.InputName(data))
			os.MkdirAll(filepath.Dir(p), 0o755)
			fuzz.WriteFileAtomic(p, data)
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: a crasher of the engine did not fail when replayed (flaky?); kept in %s", t.Name, p))
			continue
		}
		g := groups[r.Fail]
		if g == nil {
			g = &group{sig: r.Fail, first: data, report: r.Report}
			groups[r.Fail] = g
		}
		g.hits++
		if len(data) < len(g.first) {
			g.first, g.report = data, r.Report
		}
	}
	var sigs []string
	for s := range groups {
		sigs = append(sigs, s)
	}
	sort.Strings(sigs)
	cut := 0
	for _, s := range sigs {
		c, whole, err := n.storeCrash(tctx, t, groups[s])
		if !whole {
			cut++
		}
		if err != nil {
			n.storeFailures++
			n.rep.Errors = append(n.rep.Errors, fmt.Sprintf("%s: storing crash %s: %v", t.Name, s, err))
		} else {
			n.addCrash(c)
		}
	}
	if cut > 0 {
		msg := fmt.Sprintf("%s: %s: %d crashes not minimized (or not fully), stored as found", t.Name, stoppedWhy(), cut)
		if ctx.Err() == nil {
			msg += "; raise --budget or lower --minimize-budget"
		}
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
	return sigs
}

// triageTime is how long triage may take: a minute, or ten seconds
// (triageAfterInterrupt) after an interruption.
func triageTime(ctx context.Context) time.Duration {
	if ctx.Err() != nil {
		return triageAfterInterrupt
	}
	return time.Minute
}

// triageAfterInterrupt is what triage gets after Ctrl-C (a variable for
// tests).
var triageAfterInterrupt = 10 * time.Second

// storeCrash minimizes a group's input and stores its directory. whole is
// false when ctx ended before the minimization did: what it found by then
// (or the original) is stored.
func (n *night) storeCrash(ctx context.Context, t fuzz.Target, g *group) (c Crash, whole bool, err error) {
	slug := Slug(t.Name, g.sig)
	dir := filepath.Join(n.store.dir, t.Name, slug)
	c = Crash{Target: t.Name, Signature: g.sig, Summary: firstLine(g.report), Dir: dir, Hits: g.hits,
		OriginalSize: len(g.first), Suppressed: n.supp.Match(t.Name, g.sig)}
	c.New = !c.Suppressed
	c.Repro = n.reproLine(t.Name, filepath.Join(dir, FileMinimized))
	if n.store.exists(t.Name, slug) {
		c.KnownBefore = true
		if b, err := os.ReadFile(filepath.Join(dir, FileMinimized)); err == nil {
			c.MinimizedSize = len(b)
		}
		return c, true, nil
	}
	min, tries := fuzz.MinimizeInput(g.first, func(cand []byte) bool {
		if ctx.Err() != nil {
			return false
		}
		r, err := n.replay(ctx, t.Name, cand)
		return err == nil && ctx.Err() == nil && r.Fail == g.sig
	}, n.o.MinimizeBudget)
	how := fmt.Sprintf("minimized from %d to %d bytes in %d replays", len(g.first), len(min), tries)
	var rmin corpus.Result
	if whole = ctx.Err() == nil; whole {
		rmin, err = n.replay(ctx, t.Name, min)
		if err != nil || rmin.Fail != g.sig {
			// Keep the original: it is what fails; and say so, not
			// the minimization thrown away.
			why := "did not fail the same way when replayed again"
			if ctx.Err() != nil {
				why = "could not be replayed again before triage stopped"
			}
			how = fmt.Sprintf("not minimized: the input minimized to %d bytes in %d replays %s; the original is kept", len(min), tries, why)
			min, rmin.Report = g.first, g.report
		}
	} else {
		// Every input the minimization kept failed with this signature
		// when it was replayed; no time is left to replay it again.
		rmin.Report = "(the report of the original input, below: triage stopped at the budget)"
		how = fmt.Sprintf("minimization stopped at the budget: reduced from %d to %d bytes in %d replays", len(g.first), len(min), tries)
	}
	c.MinimizedSize = len(min)
	failure := fmt.Sprintf("deduplication signature: %s\n\n%s\n\n%s; %d crashing inputs had this signature this run\n\nfailure of the original input:\n%s",
		g.sig, rmin.Report, how, g.hits, g.report)
	_, err = n.store.save(t.Name, slug, map[string][]byte{
		FileMinimized: min,
		FileOriginal:  g.first,
		FileFailure:   []byte(failure),
		FileSignature: []byte(g.sig + "\n"),
		FileRepro:     []byte(c.Repro + "\n"),
	})
	return c, whole, err
}

// addCrash records a crash in the report and on the board.
func (n *night) addCrash(c Crash) {
	n.rep.Crashes = append(n.rep.Crashes, c)
	n.board.setCrashes(len(n.rep.Crashes))
	what := "NEW CRASH"
	switch {
	case c.Suppressed:
		what = "suppressed crash"
	case c.KnownBefore:
		what = "KNOWN CRASH (stored by an earlier night, still failing)"
	}
	n.board.printf("nightly: %s in %s: %s\n  stored in %s\n  reproduce: %s", what, c.Target, c.Signature, c.Dir, c.Repro)
}

// reproLine is the command that reproduces a stored crash.
func (n *night) reproLine(target, path string) string {
	var env []string
	if target == fuzz.PlantedTarget {
		env = append(env, fuzz.PlantCrashEnv+"=1")
	}
	if n.bug != qga.NoBug && target != "sim" {
		env = append(env, fuzz.PlantBugEnv+"="+n.bug.String())
	}
	line := strings.Join(append(env, n.o.Repro, "repro"), " ")
	switch target {
	case "sim":
	case "qemu-ga":
		line += " --agent qemu-ga"
	default:
		line += " --target " + target
	}
	return line + " " + sim.ShellQuote(path)
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
