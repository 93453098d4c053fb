package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/qgafuzz/qgafuzz/sim"
)

// traceSpool holds the trace lines of one run while it runs, in a
// temporary file next to --trace's: a trace file starts with a header
// that needs the finished run, and a long run's lines (some 2.5 KB a
// step) would not fit in memory. writeFiles then copies them after the
// header.
type traceSpool struct {
	f        *os.File
	res      *sim.Result // the run whose lines the file holds, once it ran
	unlinked bool        // the file has no name: the system frees it at exit
}

// newTraceSpool makes the temporary file for a trace to be written to
// path, or returns nil if it cannot: the run then keeps its trace in
// memory, and writing path reports the error, as it did before spools.
// The file is removed from its directory at once where an open file can
// be (not on Windows): a run killed or interrupted mid-way (a long one,
// gigabytes of lines) then leaves nothing behind.
func newTraceSpool(path string) *traceSpool {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil
	}
	return &traceSpool{f: f, unlinked: os.Remove(f.Name()) == nil}
}

// stream sets o to write its trace to the spool, or to keep it if there is
// no spool.
func (s *traceSpool) stream(o *sim.Options) {
	if s == nil {
		o.Trace = true
		return
	}
	o.Trace, o.TraceTo = false, s.f
}

// writer is where a replay writes its trace: nil if there is no spool
// (the replay then keeps it).
func (s *traceSpool) writer() io.Writer {
	if s == nil {
		return nil
	}
	return s.f
}

// lines returns the spooled lines of r, or nil if they are not spooled
// (r kept its trace, or there is no spool).
func (s *traceSpool) lines(r *sim.Result) (io.Reader, error) {
	if s == nil || s.res != r || r == nil {
		return nil, nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.f, nil
}

// remove deletes the temporary file.
func (s *traceSpool) remove() {
	if s != nil {
		s.f.Close()
		if !s.unlinked {
			os.Remove(s.f.Name())
		}
	}
}
