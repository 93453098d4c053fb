// Package corpus holds the seed corpora of the fuzz targets (one
// directory per target, corpus/<target>/, one raw input per file) and the
// tools behind `qgafuzz corpus`: conversion between the engines' on-disk
// formats, per-input coverage measured with Go's fuzzing instrumentation,
// and corpus minimization, merging and statistics built on it.
//
// Per-input coverage comes from a coverage server: this package's test
// binary built with go test -c -fuzz=., which runs inputs on request and
// reports the 8-bit edge counters each touched (bucketed by hit count, as
// libFuzzer counts features).
//
// Example:
//
//	bin, err := corpus.Build(ctx, root, tmpdir)
//	if err != nil { ... }
//	srv := &corpus.Server{Bin: bin}
//	defer srv.Close()
//	tool := &corpus.Tool{Server: srv, Log: os.Stderr}
//	rep, err := tool.Minimize(ctx, "parser", []string{"out/corpus/parser"}, "parser-min")
//	// rep.FilesBefore, rep.FilesAfter, rep.FeaturesBefore == rep.FeaturesAfter
package corpus
