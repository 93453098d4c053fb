package nightly

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// This file is the qemu-ga share of a night run with --agent qemu-ga: the
// differential driver (fuzz.Differ) plays request streams, seeded with the
// differential target's corpus, against a live qemu-ga as the reference
// and the built-in agent as the agent under test. Each kind of divergence
// is one crash, stored with its stream (encoded as a fuzz input) and a
// repro command that plays it against a fresh qemu-ga. Divergences are not
// minimized: every replay needs the live agent.

var digitsRE = regexp.MustCompile(`[0-9]+`)

// divergenceSignature classifies a divergence by the first line of its
// detail with numbers and quoted text taken out.
func divergenceSignature(d *fuzz.Divergence) string {
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
	defer func() {
		tr.Elapsed = Duration(time.Since(start))
		n.rep.Targets = append(n.rep.Targets, tr)
	}()
	g, err := qgatest.StartQemuGAProcess(ctx, "")
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
	st, err := fuzz.Differ(ctx, fuzz.DiffOptions{
		Reference: fuzz.NewSocketEndpoint("unix:"+g.Socket, fuzz.SocketOptions{}),
		Agent:     fuzz.InProcessEndpoint(qga.AgentConfig{Bug: n.bug}),
		Seeds:     seeds, Seed: uint64(start.UnixNano()), Duration: d,
		OnDivergence: func(dv *fuzz.Divergence) {
			sig := divergenceSignature(dv)
			if len(groups[sig]) < 16 {
				groups[sig] = append(groups[sig], dv)
			}
		},
		OnProgress: func(s fuzz.DiffStats) {
			n.board.update("streams", s.Streams, float64(s.Streams)/max(s.Elapsed.Seconds(), 0.001), len(seeds), 0)
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
			var rep bytes.Buffer
			fmt.Fprintf(&rep, "divergence from qemu-ga %s\nsignature: %s\n%d streams diverged this way (the smallest is stored; not minimized: replays need the live agent)\n\n%s",
				g.Version(), sig, len(dvs), dvs[0].Report())
			_, err := n.store.save(name, slug, map[string][]byte{FileMinimized: in, FileOriginal: in,
				FileFailure: rep.Bytes(), FileSignature: []byte(sig + "\n"), FileRepro: []byte(c.Repro + "\n")})
			if err != nil {
				n.rep.Errors = append(n.rep.Errors, "qemu-ga: storing "+sig+": "+err.Error())
				continue
			}
		}
		n.addCrash(c)
	}
}
