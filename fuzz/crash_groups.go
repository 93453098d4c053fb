package fuzz

import (
	"cmp"
	"slices"
	"strings"

	"github.com/qgafuzz/qgafuzz/qga"
)

// This file tells an engine run's crashers apart by bug: each crasher is
// re-run in process when it is stored, which gives it the same
// engine-independent signature (Failure.Signature) the nightly job files
// crashes under, and the run's crashers are then grouped by signature, so
// that the fourteen inputs go-fuzz writes for one bug read as one bug.
// Nothing is dropped: a group lists every input, smallest first.
//
// A crasher whose signature cannot be known (the engine ran with settings
// this process does not have, or the input does not fail when re-run) is
// a group of its own: two unknowns may be two bugs, and merging them could
// hide one.

// signatureOf re-runs data in process, as the engine ran it. It returns
// the failure (nil when there is none to show), its signature, and why
// the signature is unknown when it is "".
func (o EngineOptions) signatureOf(data []byte) (f *Failure, sig, unknown string) {
	t, ok := o.inProcessTarget()
	if !ok {
		return nil, "", "not re-run in process: the engine ran with " + strings.Join(o.Env, " ") + ", which this process does not have"
	}
	if f = Run(t, data); f == nil {
		return nil, "", "it does not fail when re-run in process: it depends on the engine's state or timing"
	}
	return f, f.Signature(), ""
}

// inProcessTarget is o.Target as the engine's settings (o.Env) make it
// behave: the differential target with a planted bug ($QGAFUZZ_PLANT_BUG)
// is DifferentialTarget of that bug. ok is false for settings this
// process cannot reproduce.
func (o EngineOptions) inProcessTarget() (t Target, ok bool) {
	switch {
	case len(o.Env) == 0:
		return o.Target, true
	case len(o.Env) == 1 && o.Target.Name == "differential":
		if name, found := strings.CutPrefix(o.Env[0], PlantBugEnv+"="); found {
			if bug, known := qga.ParseBug(name); known {
				return DifferentialTarget(bug), true
			}
		}
	}
	return Target{}, false
}

// signatureLine is the report's line that gives a crasher's signature,
// or says why it is unknown.
func signatureLine(sig, unknown string) string {
	if sig == "" {
		return "signature: unknown (" + unknown + ")\n"
	}
	return "signature: " + sig + "\n"
}

// CrashGroup is the crashers of a run that share a signature: one bug, as
// far as the signature tells. A crasher of unknown signature is a group
// of its own.
type CrashGroup struct {
	// Signature is the crashers' signature, "" when unknown.
	Signature string
	// Crashers, the smallest input first (then by path): the first is the
	// one to reproduce and debug.
	Crashers []Crasher
}

// Smallest is the group's smallest input.
func (g CrashGroup) Smallest() Crasher { return g.Crashers[0] }

// New counts the group's inputs that this run stored for the first time.
func (g CrashGroup) New() int {
	n := 0
	for _, c := range g.Crashers {
		if c.New {
			n++
		}
	}
	return n
}

// GroupCrashers groups crashers by signature. The groups with a known
// signature come first, ordered by signature, then one group per crasher
// of unknown signature, smallest first: the same crashers give the same
// groups in the same order whatever order the engine wrote them in.
func GroupCrashers(crashers []Crasher) []CrashGroup {
	bySig := map[string]int{}
	var known, unknown []CrashGroup
	for _, c := range crashers {
		if c.Signature == "" {
			unknown = append(unknown, CrashGroup{Crashers: []Crasher{c}})
			continue
		}
		i, ok := bySig[c.Signature]
		if !ok {
			i = len(known)
			bySig[c.Signature] = i
			known = append(known, CrashGroup{Signature: c.Signature})
		}
		known[i].Crashers = append(known[i].Crashers, c)
	}
	for i := range known {
		slices.SortFunc(known[i].Crashers, smallerCrasher)
	}
	slices.SortFunc(known, func(a, b CrashGroup) int { return strings.Compare(a.Signature, b.Signature) })
	slices.SortFunc(unknown, func(a, b CrashGroup) int { return smallerCrasher(a.Smallest(), b.Smallest()) })
	return append(known, unknown...)
}

// smallerCrasher orders crashers by input size, then by path.
func smallerCrasher(a, b Crasher) int {
	return cmp.Or(cmp.Compare(a.Size, b.Size), strings.Compare(a.Path, b.Path))
}

// DistinctSignatures counts the groups whose signature is known.
func DistinctSignatures(groups []CrashGroup) int {
	n := 0
	for _, g := range groups {
		if g.Signature != "" {
			n++
		}
	}
	return n
}
