package fuzz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// TestDifferentialSignaturePerBug: the differential target's signature
// tells planted bugs apart (each bug's commonest signature is its own),
// and is one signature for a bug however many inputs hit it, for the bugs
// whose divergence does not depend on what the parser makes of the rest
// of the stream (silent-flush, depth-off-by-one and split-utf8 change the
// parser's state, so what follows may differ in more than one way).
func TestDifferentialSignaturePerBug(t *testing.T) {
	seeds := differentialSeeds(t)
	owner := map[string]string{}
	for _, name := range []string{"duplicate-reply", "dropped-newline", "no-delimiter-large-id", "silent-flush"} {
		bug, _ := qga.ParseBug(name)
		sigs := map[string]int{}
		_, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{Agent: fuzz.InProcessEndpoint(qga.AgentConfig{Bug: bug}),
			Seeds: seeds, Seed: 1, Duration: 20 * time.Second, StopAfter: 40,
			OnDivergence: func(d *fuzz.Divergence) {
				if f := fuzz.Run(fuzz.DifferentialTarget(bug), fuzz.Encode(d.Input)); f != nil {
					sigs[f.Signature()]++
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		top, hits, total := "", 0, 0
		for s, k := range sigs {
			total += k
			if k > hits {
				top, hits = s, k
			}
		}
		t.Logf("%s: %d inputs, signatures %v", name, total, sigs)
		if total < 10 || (name != "silent-flush" && len(sigs) != 1) || !strings.HasPrefix(top, "differential/replies-match") {
			t.Errorf("%s: %d failing inputs with signatures %v, want one signature", name, total, sigs)
		}
		if other, ok := owner[top]; ok {
			t.Errorf("%s and %s share the signature %q", other, name, top)
		}
		owner[top] = name
	}
}

// TestDivergenceClass covers each kind of difference, and checks that the
// class depends on neither ids nor numbers nor strings.
func TestDivergenceClass(t *testing.T) {
	in := qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping","id":1}` + "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}\x01\n{\"execute\":\"nope\"}")}}}
	ping, sync, perr, nf := "{\"return\": {}, \"id\": 1}\n", "\xff{\"return\": 7}\n", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\n", "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}}\n"
	ref := ping + sync + perr + nf
	for _, c := range []struct{ got, want string }{
		{ref, ""},
		{ping + sync + nf, "missing-reply parse-error"},
		{ping + sync + perr, "missing-reply unknown-command"},
		{ping + ping + sync + perr + nf, "extra-reply after guest-ping"},
		{ref + ping, "extra-reply after unknown-command"},
		{ping + "{\"return\": 7}\n" + perr + nf, "formatting guest-sync-delimited"},
		{ping + "\xff{\"return\":7}\n" + perr + nf, "formatting guest-sync-delimited"},
		{ping + "\xff{\"return\": 8}\n" + perr + nf, "return-value guest-sync-delimited"},
		{ping + "\xff{\"return\": \"7\"}\n" + perr + nf, "return-shape guest-sync-delimited"},
		{ping + "\xff{\"return\": 7, \"id\": 2}\n" + perr + nf, "return-shape guest-sync-delimited"},
		{ping + sync + perr + "{\"error\": {\"class\": \"GenericError\", \"desc\": \"The command nope has not been found\"}}\n", "error-class unknown-command"},
		{ping + sync + perr + "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"y\"}}\n", "error-desc unknown-command"},
		{"{\"error\": {\"class\": \"GenericError\", \"desc\": \"z\"}}\n" + sync + perr + nf, "error-vs-return guest-ping"},
		{ping + sync + perr + nf[:len(nf)-1], "formatting unknown-command"},
	} {
		if got := fuzz.DivergenceClass(in, []byte(ref), []byte(c.got)); got != c.want {
			t.Errorf("agent %q: class %q, want %q", c.got, got, c.want)
		}
	}
}
