package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/corpus"
	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/internal/tmpdir"
)

func init() {
	register(&command{name: "corpus", summary: "minimize, merge, convert and describe fuzzing corpora", run: runCorpus})
}

const corpusHelp = `
Usage: qgafuzz corpus minimize --target T DIR... --out DIR [--json]
       qgafuzz corpus merge --target T --into DIR DIR... [--json]
       qgafuzz corpus import --format native|gofuzz|libfuzzer SRC... --out DIR [--json]
       qgafuzz corpus export --format native|gofuzz|libfuzzer DIR... --out DIR [--json]
       qgafuzz corpus stats [--target T] DIR... [--json]

minimize keeps a small subset of the inputs that has the coverage of the whole
set (per-input coverage from Go's fuzzing instrumentation: the coverage
server is built with go test -c -fuzz=., so run it in the source tree);
merge adds to --into only the inputs that add coverage, in the format --into
already holds (native files in testdata/fuzz/FuzzX, SHA-1-named files in a
go-fuzz workdir's corpus/ or a libFuzzer corpus, else raw); import converts
another engine's corpus into raw files, export converts raw files into an
engine's format (native: "go test fuzz v1" files for testdata/fuzz/FuzzX or
the fuzz cache; gofuzz: a go-fuzz workdir's corpus/; libfuzzer: SHA-1-named
files); stats counts files, bytes, duplicates and, with --target, coverage.
Unreadable files, subdirectories, and files that are not regular or hold an
input over 128 MiB, are reported and skipped; a directory that mixes
native files with others is read as raw, with a warning; hidden files and reports
(*.txt, *.json, *.md, go-fuzz's .quoted and .output) are passed over, except
that import --format libfuzzer|gofuzz takes *.txt, *.json and *.md files too;
nothing in the input directories is changed. Measuring coverage prints its
progress on stderr, and so does reading a corpus (files read of all, time
elapsed) once it takes over 2s. minimize and merge write their output at
the end: Ctrl-C before then writes nothing and exits 130 (Ctrl-C while
minimize measures the corpus it has written exits 130 too, and says it was
written); import and export stop between two files (each file written is
whole: run again for the rest), and stats stops; they exit 130 too.

--json prints one JSON object on standard output at the end (any run past
its flags, failed ones too), and the summary and progress on standard
error. Fields left out are ones the subcommand did not measure:
  subcommand       minimize, merge, import, export or stats
  target           as given (minimize, merge, stats)
  inputs           the directories read (DIR... or SRC...)
  output           where files were written (--out; merge: --into, or its
                   corpus/ for a go-fuzz workdir; export --format gofuzz:
                   the workdir's corpus/)
  format           the format written (minimize: raw; merge, import, export)
  seconds          wall-clock time, building the coverage server included
  exit_code        the exit status; error: why the run failed (exit 2)
  interrupted      true when Ctrl-C ended the run (exit 130)
  skipped          files left out (unreadable, undecodable, not regular,
                   too large); problems[]: path, message, warning (true for
                   a warning, not a skipped file)
 minimize: files_before, files_after, bytes_before, bytes_after,
  coverage_before, coverage_after (coverage features), duplicates, failing
  (inputs that fail the target), per_input_seconds, exec_per_input_seconds
  (measuring time per input, and the target's own time per run)
 merge: files_before (--into's), candidates (usable inputs of DIR...),
  added, bytes_added, coverage_before, coverage_after
 import, export: written, bytes_written, existing (inputs already there),
   duplicates (inputs given more than once, written once)
 stats: files, bytes, largest, largest_bytes, duplicates; with --target:
  coverage, failing, per_input_seconds, exec_per_input_seconds

Exit status: 0 done, 2 usage or a corpus that cannot be read or written,
130 interrupted.

Examples:
  qgafuzz corpus minimize --target parser out/corpus/parser --out /tmp/parser-min
  qgafuzz corpus merge --target parser --into corpus/parser out/corpus/parser
  qgafuzz corpus export --format native corpus/agent --out fuzz/testdata/fuzz/FuzzAgent
  qgafuzz corpus import --format libfuzzer /tmp/libfuzzer-corpus --out out/corpus/parser
  qgafuzz corpus stats --target agent out/corpus/agent
  qgafuzz corpus stats out/corpus/agent --json > stats.json`

func runCorpus(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.stderr
		if len(args) > 0 {
			w = e.stdout
		}
		fmt.Fprintln(w, strings.TrimSpace(corpusHelp))
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "corpus "+sub, corpusHelp)
	target := fs.String("target", "", "fuzz target (one of "+targetNames()+")")
	out := fs.String("out", "", "output directory")
	into := fs.String("into", "", "corpus to merge into")
	format := fs.String("format", "", "native, gofuzz or libfuzzer")
	jsonOut := fs.Bool("json", false, jsonUsage)
	pos, code, ok := parseInterleaved(fs, e, args)
	if !ok {
		return code
	}
	// With --json, standard output carries the JSON object alone: begin,
	// called once the flags are checked, sends the text to standard
	// error; done prints the object (usage errors print none).
	j := &corpusJSON{Subcommand: sub, Target: *target, Inputs: pos}
	if j.Inputs == nil {
		j.Inputs = []string{}
	}
	stdout, start := e.stdout, time.Now()
	begin := func(output string) {
		j.Output = output
		if *jsonOut {
			e = e.textOnStderr()
		}
		start = time.Now()
	}
	done := func(code int) int {
		if *jsonOut {
			return j.emit(stdout, e.stderr, code, time.Since(start))
		}
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "qgafuzz corpus %s: "+format+"\n", append([]any{sub}, a...)...)
		return exitUsage
	}
	needTarget := func() bool {
		if *target == "" {
			fail("--target is required (one of %s)", targetNames())
			return false
		}
		if _, ok := fuzz.Lookup(*target); !ok {
			fail("no target %q (one of %s)", *target, targetNames())
			return false
		}
		return true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch sub {
	case "minimize":
		if len(pos) == 0 || *out == "" {
			return fail("want DIR... and --out DIR")
		}
		if !needTarget() {
			return exitUsage
		}
		// A usage error, found before the coverage server is built.
		if err := corpus.CheckMinimizeOut(*out, pos); err != nil {
			return fail("%s", errText(err))
		}
		begin(*out)
		j.Format = corpus.Raw
		return done(withTool(ctx, e, sub, j, func(t *corpus.Tool) (int, error) {
			r, err := t.Minimize(ctx, *target, pos, *out)
			if err != nil {
				if ctx.Err() != nil && hasEntries(*out) {
					// Ctrl-C while the minimized corpus, already in
					// place, was measured again: it was written, so
					// "nothing was written" would be false.
					fmt.Fprintf(e.stderr, "qgafuzz corpus %s: interrupted after the minimized corpus was written to %s; its coverage was not measured\n", sub, *out)
					return exitInterrupted, nil
				}
				return 0, err
			}
			j.setMinimize(r)
			same := "unchanged"
			if r.FeaturesAfter != r.FeaturesBefore {
				same = fmt.Sprintf("CHANGED by %+d (features that vary between runs)", r.FeaturesAfter-r.FeaturesBefore)
			}
			fmt.Fprintf(e.stdout, "corpus minimize: %s: %d files, %s -> %d files, %s in %s\n", r.Target,
				r.FilesBefore, byteSize(r.BytesBefore), r.FilesAfter, byteSize(r.BytesAfter), *out)
			fmt.Fprintf(e.stdout, "coverage: %d features before, %d after (%s)\n", r.FeaturesBefore, r.FeaturesAfter, same)
			fmt.Fprintf(e.stdout, "dropped: %d duplicates, %d failing inputs, %d unreadable files\n", r.Duplicates, r.Failing, r.Skipped)
			fmt.Fprintf(e.stdout, "time: %v per input measured (of which %v running the target once; each input runs twice), %v in all\n",
				r.PerInput.Round(1000), r.ExecPerInput.Round(1000), r.Elapsed.Round(1e6))
			return exitOK, nil
		}))
	case "merge":
		if len(pos) == 0 || *into == "" {
			return fail("want --into DIR and DIR...")
		}
		if !needTarget() {
			return exitUsage
		}
		begin(*into)
		return done(withTool(ctx, e, sub, j, func(t *corpus.Tool) (int, error) {
			r, err := t.Merge(ctx, *target, *into, pos)
			if err != nil {
				return 0, err
			}
			j.setMerge(r)
			fmt.Fprintf(e.stdout, "corpus merge: %s: %d files in %s; %d candidates, %d added (%s, as %s files in %s) for new coverage\n",
				r.Target, r.FilesBefore, *into, r.Candidates, r.Added, byteSize(r.BytesAdded), r.Format, r.Dir)
			fmt.Fprintf(e.stdout, "coverage: %d features before, %d after\n", r.FeaturesBefore, r.FeaturesAfter)
			return exitOK, nil
		}))
	case "import", "export":
		if len(pos) == 0 || *out == "" {
			return fail("want SRC... and --out DIR")
		}
		f, err := corpus.ParseFormat(*format)
		if err != nil || f == corpus.Raw {
			return fail("--format must be native, gofuzz or libfuzzer")
		}
		from, dst := corpus.Format(""), f // export: sources are qgafuzz's raw corpora (any format is recognized)
		if sub == "import" {
			from, dst = f, corpus.Raw // the sources are what --format says, whatever their content looks like
		}
		begin(*out)
		j.Target, j.Format = "", dst // --target plays no part in a conversion
		have := *out
		if dst == corpus.GoFuzz {
			have = filepath.Join(have, "corpus")
		}
		res, probs, err := corpus.ConvertProgress(ctx, from, dst, *out, readProgressSince(e.stderr, sub, "files", progressEvery, start),
			readProgressSince(e.stderr, sub, "files already in "+have, progressEvery, start), pos...)
		for _, p := range probs {
			fmt.Fprintf(e.stderr, "qgafuzz corpus %s: %s\n", sub, p)
		}
		if res.StaleTemp > 0 {
			fmt.Fprintf(e.stderr, "qgafuzz corpus %s: removed %d temporary files (.tmp-*, over 10 minutes old) that a killed run left in %s\n",
				sub, res.StaleTemp, res.Dir)
		}
		j.setProblems(probs)
		if ctx.Err() != nil {
			j.Written, j.BytesWritten, j.Existing = ptr(res.Written), ptr(res.Bytes), ptr(res.Existing)
			fmt.Fprintf(e.stderr, "qgafuzz corpus %s: interrupted after writing %d files into %s (each whole; run it again to write the rest)\n",
				sub, res.Written, res.Dir)
			return done(exitInterrupted)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "qgafuzz corpus %s: %v\n", sub, errText(err))
			j.setError(err)
			return done(exitUsage)
		}
		if res.Dir != "" {
			j.Output = res.Dir
		}
		j.Written, j.BytesWritten, j.Existing, j.Duplicates = ptr(res.Written), ptr(res.Bytes), ptr(res.Existing), ptr(res.Duplicates)
		fmt.Fprintf(e.stdout, "corpus %s: %d files written (%s) as %s into %s, %d already there, %d duplicates, %d skipped\n",
			sub, res.Written, byteSize(res.Bytes), dst, res.Dir, res.Existing, res.Duplicates, corpus.Skipped(probs))
		return done(exitOK)
	case "stats":
		if len(pos) == 0 {
			return fail("want DIR...")
		}
		name := *target
		if name != "" && !needTarget() {
			return exitUsage
		}
		begin("")
		print := func(st *corpus.Stats) {
			j.setStats(st)
			for _, p := range st.Problems {
				fmt.Fprintf(e.stderr, "qgafuzz corpus stats: %s\n", p)
			}
			fmt.Fprintf(e.stdout, "files: %d\nbytes: %s (%d)\nlargest: %s (%s)\nduplicates: %d\nunreadable: %d\n",
				st.Files, byteSize(st.Bytes), st.Bytes, st.Largest.Path, byteSize(int64(len(st.Largest.Data))), st.Duplicates, corpus.Skipped(st.Problems))
			if st.Target != "" {
				fmt.Fprintf(e.stdout, "coverage (%s): %d features\nfailing inputs: %d\ntime per input: %v (running the target once: %v)\n",
					st.Target, st.Features, st.Failing, st.PerInput.Round(1000), st.ExecPerInput.Round(1000))
			}
		}
		if name == "" {
			st, err := corpus.ReadStatsProgress(ctx, nil, "", readProgress(e.stderr, sub, "files", progressEvery), pos...)
			if ctx.Err() != nil {
				fmt.Fprintln(e.stderr, "qgafuzz corpus stats: interrupted")
				return done(exitInterrupted)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "qgafuzz corpus stats: %v\n", errText(err))
				j.setError(err)
				return done(exitUsage)
			}
			print(st)
			fmt.Fprintf(e.stdout, "coverage: not measured (give --target)\n")
			return done(exitOK)
		}
		return done(withTool(ctx, e, sub, j, func(t *corpus.Tool) (int, error) {
			st, err := corpus.ReadStats(ctx, t, name, pos...)
			if err != nil {
				return 0, err
			}
			print(st)
			return exitOK, nil
		}))
	}
	return fail("unknown subcommand (want minimize, merge, import, export or stats)")
}

// withTool builds and starts the coverage server, runs fn, and stops it.
// What went wrong goes into j's error too.
func withTool(ctx context.Context, e *env, sub string, j *corpusJSON, fn func(*corpus.Tool) (int, error)) int {
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		err = fmt.Errorf("measuring coverage needs the source tree: %v", err)
		fmt.Fprintf(e.stderr, "qgafuzz corpus %s: %v\n", sub, errText(err))
		j.setError(err)
		return exitUsage
	}
	tmp, err := tmpdir.Make("qgafuzz-cover-")
	if err != nil {
		fmt.Fprintf(e.stderr, "qgafuzz corpus %s: %v\n", sub, errText(err))
		j.setError(err)
		return exitUsage
	}
	defer tmp.Remove()
	fmt.Fprintf(e.stderr, "qgafuzz corpus %s: building the coverage server\n", sub)
	bin, err := corpus.Build(ctx, root, tmp.Path)
	if err != nil {
		return toolFailed(ctx, e, sub, j, err)
	}
	srv := &corpus.Server{Bin: bin}
	defer srv.Close()
	t := &corpus.Tool{Server: srv, Log: e.stderr, Progress: measureProgress(e.stderr, sub, progressEvery),
		ReadProgress: readProgress(e.stderr, sub, "files", progressEvery)}
	code, err := fn(t)
	if err != nil {
		return toolFailed(ctx, e, sub, j, err)
	}
	return code
}

// hasEntries reports whether dir exists and holds anything.
func hasEntries(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// exitInterrupted is the exit code of a corpus command stopped by Ctrl-C
// before it wrote anything (128 + SIGINT, as a shell reports it): unlike
// a fuzzing run, it has no partial result to report.
const exitInterrupted = 130

// toolFailed reports err, or that Ctrl-C stopped the command (the error
// is then the killed build's or server's, which would only confuse).
func toolFailed(ctx context.Context, e *env, sub string, j *corpusJSON, err error) int {
	if ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "qgafuzz corpus %s: interrupted; nothing was written\n", sub)
		return exitInterrupted
	}
	fmt.Fprintf(e.stderr, "qgafuzz corpus %s: %v\n", sub, errText(err))
	j.setError(err)
	return exitUsage
}

// measureProgress prints how far measuring a set of inputs has come, and
// for how long it has run: at its first input, at most once per every,
// and at its last.
func measureProgress(w io.Writer, sub string, every time.Duration) func(target string, done, total int) {
	var start, last time.Time
	return func(target string, done, total int) {
		now := time.Now()
		if done <= 1 {
			start = now // a new set (minimize measures two)
		}
		if done > 1 && done < total && now.Sub(last) < every {
			return
		}
		last = now
		fmt.Fprintf(w, "qgafuzz corpus %s: %s: measured %d of %d inputs, %s elapsed\n", sub, target, done, total, now.Sub(start).Round(time.Second))
	}
}

// readProgress prints how far reading what, the files of a corpus, has
// come (for import and export, writing them too), and for how long it has
// run: nothing for a walk shorter than every, then at most once per
// every, and at its last file once a line was printed.
func readProgress(w io.Writer, sub, what string, every time.Duration) func(done, total int) {
	return readProgressSince(w, sub, what, every, time.Time{})
}

// readProgressSince is readProgress counting the time from since, not
// from the start of each walk, unless since is zero: import and export
// read what the output holds, then the sources.
func readProgressSince(w io.Writer, sub, what string, every time.Duration, since time.Time) func(done, total int) {
	start, last := since, time.Time{}
	return func(done, total int) {
		now := time.Now()
		if done == 0 {
			last = time.Time{} // a new walk
			if since.IsZero() {
				start = now
			}
		}
		if done < total && (now.Sub(start) < every || now.Sub(last) < every) || done == total && last.IsZero() {
			return
		}
		last = now
		fmt.Fprintf(w, "qgafuzz corpus %s: read %d of %d %s, %s elapsed\n", sub, done, total, fuzz.Printable(what), now.Sub(start).Round(time.Second))
	}
}

// parseInterleaved parses flags that may come after positional arguments
// ("DIR... --out DIR"), returning the positional arguments.
func parseInterleaved(fs *flag.FlagSet, e *env, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if code, ok := parseFlags(fs, e, args); !ok {
			return nil, code, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
