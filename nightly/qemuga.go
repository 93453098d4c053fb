package nightly

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file is the qemu-ga share of a night run with --agent qemu-ga: the
// differential driver (fuzz.Differ) plays request streams, seeded with the
// differential target's corpus, against a live qemu-ga as the reference
// and the built-in agent as the agent under test. Each kind of divergence
// is one crash, stored with its stream (encoded as a fuzz input) and a
// repro command that plays it against a fresh qemu-ga. The stream is
// minimized first, replaying each candidate against the same live qemu-ga,
// within the share's triage time (triageContext, as for the fuzz targets),
// since every replay is a round trip to a process.

var digitsRE = regexp.MustCompile(`[0-9]+`)

// divergenceSignature classifies a divergence: by the kind of its first
// differing reply and that reply's request (fuzz.DivergenceClass), as the
// differential target does, so that two agent bugs are two crashes; a hang
// or a death of the agent by the first line of its detail with numbers and
// quoted text taken out.
func divergenceSignature(d *fuzz.Divergence) string {
	if !d.AgentDied && strings.HasPrefix(d.Detail, "reply line ") {
		if c := fuzz.DivergenceClass(d.Input, d.Reference, d.Agent); c != "" {
			return "qemu-ga/replies-match: " + c
		}
	}
	line := firstLine(d.Detail)
	if i := strings.IndexAny(line, `"`); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(strings.TrimRight(digitsRE.ReplaceAllString(line, "N"), ": "))
	return "qemu-ga/" + line
}

// againstQemuGA runs the differential driver against a live qemu-ga for d.
func (n *night) againstQemuGA(ctx context.Context, d time.Duration) {
	const name = "qemu-ga"
	tr := Target{Name: name, Kind: "qemu-ga", Budget: Duration(d), Crashes: []string{}}
	start := time.Now()
	n.board.begin(name, d)
	var unchecked []string // stored divergences that could not be replayed
	defer func() {
		tr.Elapsed = Duration(time.Since(start))
		if len(unchecked) > 0 {
			tr.addError(unchecked...)
		}
		n.rep.Targets = append(n.rep.Targets, tr)
		if tr.Error != "" {
			n.board.printf("nightly: %s failed: %s", name, tr.Error)
			return
		}
		n.board.printf("nightly: %s done: %s, %d streams (%.0f/s) compared with qemu-ga, %d unique divergences",
			name, tr.Elapsed, tr.Execs, tr.ExecsPerSec, len(tr.Crashes))
	}()
	// Ctrl-C ends the share through ctx, between two streams: qemu-ga,
	// in a process group of its own, is not killed by it (with ctx, or
	// by the terminal's SIGINT) while a stream is in flight, which would
	// fail the share and make an interrupted night exit 2.
	g, err := qgatest.StartQemuGAProcess(context.WithoutCancel(ctx), "")
	if err != nil {
		tr.Error = "cannot start qemu-ga: " + err.Error()
		return
	}
	defer g.Close()
	var seeds [][]byte
	for _, dir := range []string{fuzz.CorpusDir(n.o.Root, "differential"), filepath.Join(n.o.Corpus, "differential")} {
		if _, in, err := fuzz.ReadCorpus(dir); err == nil {
			seeds = append(seeds, in...)
		}
	}
	tr.CorpusBefore, tr.CorpusAfter = len(seeds), len(seeds)
	groups := map[string][]*fuzz.Divergence{}
	ref := fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{Oracle: true})
	defer ref.Close()
	agent := fuzz.InProcessEndpoint(qga.AgentConfig{Bug: n.bug})
	// The divergences stored by earlier nights are replayed first, as the
	// fuzz targets' crashes are: one that still diverges is reported again
	// (known_before) without depending on the driver finding it again,
	// and one that no longer does is noted as fixed.
	stored, _ := filepath.Glob(filepath.Join(n.store.dir, name, "*", FileMinimized))
	for i, p := range stored {
		if ctx.Err() != nil {
			break // Ctrl-C: the night ends with what it has
		}
		if time.Now().After(n.deadln.Add(-wrapUp)) {
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: %d divergences stored by earlier nights not replayed tonight: the budget ran out", name, len(stored)-i))
			break
		}
		if strings.Contains(p, ".incomplete-") || strings.Contains(p, "/.tmp-") {
			continue
		}
		// One that cannot be replayed is a known divergence not checked
		// tonight: an error of the share, or it would drop out unnoticed.
		data, err := corpus.ReadFile(p)
		if err != nil {
			unchecked = append(unchecked, fmt.Sprintf("cannot replay the stored divergence %s (not checked tonight; repair or move the directory): %v", p, err))
			continue
		}
		switch d, err := fuzz.Replay(ref, agent, withFence(fuzz.Chunks(data))); {
		case err != nil:
			unchecked = append(unchecked, fmt.Sprintf("cannot replay the stored divergence %s (not checked tonight): %v", p, err))
		case d == nil:
			n.rep.Notes = append(n.rep.Notes, fmt.Sprintf("%s: the divergence stored in %s no longer reproduces (fixed?)", name, filepath.Dir(p)))
		default:
			sig := divergenceSignature(d)
			groups[sig] = append(groups[sig], d)
		}
	}
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{
		Reference: ref,
		Agent:     agent,
		Seeds:     seeds, Seed: uint64(start.UnixNano()), Duration: d,
		OnDivergence: func(dv *fuzz.Divergence) {
			sig := divergenceSignature(dv)
			if len(groups[sig]) < 16 {
				groups[sig] = append(groups[sig], dv)
			}
		},
		OnProgress: func(s fuzz.DiffStats) {
			n.board.update(qemuGAPhase, s.Streams, float64(s.Streams)/max(s.Elapsed.Seconds(), 0.001), len(seeds), 0)
		},
	})
	if err != nil {
		tr.Error = err.Error()
	}
	tr.Execs = st.Streams
	if s := time.Since(start).Seconds(); s > 0 {
		tr.ExecsPerSec = float64(st.Streams) / s
	}
	var sigs []string
	for s := range groups {
		sigs = append(sigs, s)
	}
	sort.Strings(sigs)
	// Minimizing is the share's triage: it ends as the fuzz targets'
	// does (triageContext), by the budget, within a minute, and shortly
	// after a Ctrl-C rather than at once, so that what was found is
	// minimized if there is time.
	tctx, tcancel, stopped := n.triageContext(ctx, "triage")
	defer tcancel()
	dl, _ := tctx.Deadline()
	if ctx.Err() != nil && len(sigs) > 0 {
		// Differ cut the reference's streams short at the Ctrl-C, and
		// every later one too: triage replays on a fresh connection to
		// the same qemu-ga (which the Ctrl-C does not reach), its parser
		// flushed with the fence. If that fails, so do the replays, and
		// the divergences are stored as found.
		ref.Close()
		ref = fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{Oracle: true})
		defer ref.Close()
		_ = ref.Reset()
	}
	cut := 0
	for _, sig := range sigs {
		dvs := groups[sig]
		sort.Slice(dvs, func(i, j int) bool { return len(fuzz.Encode(dvs[i].Input)) < len(fuzz.Encode(dvs[j].Input)) })
		in := fuzz.Encode(dvs[0].Input)
		slug := Slug(name, sig)
		dir := filepath.Join(n.store.dir, name, slug)
		c := Crash{Target: name, Signature: sig, Summary: firstLine(dvs[0].Detail), Dir: dir, Hits: len(dvs),
			OriginalSize: len(in), MinimizedSize: len(in), Suppressed: n.supp.Match(name, sig),
			Repro: n.reproLine(name, filepath.Join(dir, FileMinimized))}
		c.New = !c.Suppressed
		tr.Crashes = append(tr.Crashes, sig)
		c.KnownBefore = n.store.exists(name, slug)
		if !c.KnownBefore {
			m := minimizeDivergence(tctx, ref, agent, dvs[0], sig, dl, n.o.MinimizeBudget)
			if m.cut {
				cut++
			}
			c.MinimizedSize = len(m.input)
			var rep bytes.Buffer
			fmt.Fprintf(&rep, "divergence from qemu-ga %s\nsignature: %s\n%d streams diverged this way; the smallest, %s\n\n%s",
				g.Version(), sig, len(dvs), m.how, m.report)
			_, err := n.store.save(name, slug, map[string][]byte{FileMinimized: m.input, FileOriginal: in,
				FileFailure: rep.Bytes(), FileSignature: []byte(sig + "\n"), FileRepro: []byte(c.Repro + "\n")})
			if err != nil {
				n.rep.Errors = append(n.rep.Errors, "qemu-ga: storing "+sig+": "+err.Error())
				continue
			}
		}
		n.addCrash(c)
	}
	if cut > 0 {
		msg := fmt.Sprintf("%s: %s: %d divergences not minimized (or not fully), stored as found", name, stopped(), cut)
		if ctx.Err() == nil {
			msg += "; raise --budget or lower --minimize-budget"
		}
		n.rep.Notes = append(n.rep.Notes, msg)
		n.board.printf("nightly: %s", msg)
	}
}

// minimized is a divergence's stored input and how it came about.
type minimized struct {
	input  []byte // the stream to store, ending with the fence
	how    string // what minimization did, for the failure report
	report string // the divergence of input
	cut    bool   // the deadline or ctx ended the minimization
}

// withFence returns st ending with the fence, adding it unless st already
// ends with it (as every stored divergence does; a hand-made one may not),
// so that a replay leaves qemu-ga's parser in its start state for the next.
func withFence(st qgatest.Stream) qgatest.Stream {
	if endsWithFence(st) {
		return st
	}
	st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
	return st
}

func endsWithFence(st qgatest.Stream) bool {
	k := len(st.Ops)
	return k > 0 && !st.Ops[k-1].Reconnect && bytes.Equal(st.Ops[k-1].Data, qgatest.Fence)
}

// minimizeDivergence shrinks the stream of dv while it still diverges with
// signature sig, replaying every candidate against ref (the live qemu-ga)
// and agent until the deadline, ctx's end (the triage context) or after
// budget candidates. Candidates are the stream without its final fence,
// which every replay appends, so that each starts from the state the last
// one's fence left. If the stream does not diverge again, or the minimized
// one stops diverging, the original is kept.
func minimizeDivergence(ctx context.Context, ref, agent fuzz.Endpoint, dv *fuzz.Divergence, sig string, deadline time.Time, budget int) minimized {
	orig := fuzz.Encode(dv.Input)
	body := dv.Input
	if endsWithFence(body) {
		body.Ops = body.Ops[:len(body.Ops)-1]
	}
	fenced := func(in []byte) qgatest.Stream {
		st := fuzz.Chunks(in)
		st.Ops = append(st.Ops, qgatest.Op{Data: qgatest.Fence})
		return st
	}
	// lastIn diverged as lastD when it was replayed: the divergence
	// stored when triage ends before the minimized stream is replayed
	// again.
	var lastIn []byte
	var lastD *fuzz.Divergence
	replay := func(in []byte) *fuzz.Divergence {
		if ctx.Err() != nil {
			return nil
		}
		d, err := fuzz.Replay(ref, agent, fenced(in))
		if err != nil || d == nil || divergenceSignature(d) != sig {
			return nil
		}
		lastIn, lastD = in, d
		return d
	}
	start := time.Now()
	first := fuzz.Encode(body)
	if ctx.Err() != nil || !start.Before(deadline) {
		return minimized{orig, "not minimized: triage stopped at the budget (or the night was interrupted)", dv.Report(), true}
	}
	if replay(first) == nil {
		return minimized{orig, "not minimized: replayed against qemu-ga, it did not diverge the same way again", dv.Report(), false}
	}
	// Past the deadline every candidate is rejected (taken as no longer
	// diverging), which ends the search with the smallest found so far.
	small, tries := fuzz.MinimizeInput(first, func(cand []byte) bool {
		return time.Now().Before(deadline) && replay(cand) != nil
	}, budget)
	cut := ctx.Err() != nil || !time.Now().Before(deadline)
	// Triage over, every stream the minimization kept diverged this way
	// when it was replayed: small is stored without a replay.
	d := replay(small)
	if d == nil && ctx.Err() != nil && bytes.Equal(small, lastIn) {
		d = lastD
	}
	switch {
	case d == nil && ctx.Err() != nil:
		return minimized{orig, "not minimized: triage stopped before the minimized stream could be replayed again", dv.Report(), cut}
	case d == nil:
		return minimized{orig, "not minimized: the minimized stream stopped diverging", dv.Report(), cut}
	}
	out := fuzz.Encode(fenced(small))
	how := fmt.Sprintf("minimized from %d to %d bytes in %d replays against qemu-ga (%v)",
		len(orig), len(out), tries+2, time.Since(start).Round(time.Millisecond))
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The triage context is cancelled only after a Ctrl-C.
		how = "minimization stopped after the interruption: " + how
	case cut:
		how = "minimization stopped at the budget: " + how
	}
	return minimized{out, how, d.Report(), cut}
}

// qemuGAPhase is the progress board's phase of the qemu-ga share, whose
// line counts streams, not execs, and has no coverage to show.
const qemuGAPhase = "streams"
