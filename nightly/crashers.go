package nightly

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file stores unique crashes, one directory each, under
// DIR/crashers/<target>/<signature>/:
//
//	minimized     the smallest input found that fails the same way
//	original      the input the engine found
//	failure.txt   the failure report (panic stack or violated property)
//	signature.txt the deduplication signature
//	repro.txt     the command that reproduces the crash
//
// (simulation failures hold schedule.json and original.json instead of
// the inputs). A directory is assembled under a temporary name and renamed
// into place, so it is complete or absent; temporary directories left by
// a killed run are removed by the next one, and a directory found
// incomplete is moved aside, never deleted.

// Files of a crash directory.
const (
	FileMinimized = "minimized"
	FileOriginal  = "original"
	FileFailure   = "failure.txt"
	FileSignature = "signature.txt"
	FileRepro     = "repro.txt"
	FileSchedule  = "schedule.json"
	FileOrigSched = "original.json"
)

var slugRE = regexp.MustCompile(`[^a-z0-9.]+`)

// Slug is the directory name of a signature: readable, filesystem-safe,
// and unique (a hash of the whole signature ends it).
func Slug(target, sig string) string {
	s := strings.TrimPrefix(sig, target+"/")
	s = strings.ReplaceAll(s, "github.com/qgafuzz/qgafuzz/", "")
	s = strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-.")
	if len(s) > 72 {
		s = strings.Trim(s[:72], "-.")
	}
	sum := sha256.Sum256([]byte(sig))
	return s + "-" + hex.EncodeToString(sum[:4])
}

// crashStore is DIR/crashers.
type crashStore struct {
	dir string
}

// recover removes what a killed run left: temporary directories (they
// were never renamed into place, so nothing was published from them), and
// moves aside crash directories that lack a file. It returns one message
// per fix.
func (s crashStore) recover() []string {
	var msgs []string
	targets, _ := os.ReadDir(s.dir)
	for _, t := range targets {
		if !t.IsDir() {
			continue
		}
		tdir := filepath.Join(s.dir, t.Name())
		ents, _ := os.ReadDir(tdir)
		for _, e := range ents {
			p := filepath.Join(tdir, e.Name())
			switch {
			case !e.IsDir():
			case strings.HasPrefix(e.Name(), ".tmp-"):
				if err := os.RemoveAll(p); err == nil {
					msgs = append(msgs, "removed a half-written crash directory left by an interrupted run: "+p)
				}
			case strings.Contains(e.Name(), ".incomplete-"):
			default:
				if missing := incomplete(p); missing != "" {
					aside := p + ".incomplete-" + time.Now().UTC().Format("20060102T150405")
					if err := os.Rename(p, aside); err == nil {
						msgs = append(msgs, fmt.Sprintf("crash directory %s lacks %s; moved it to %s (its files are kept) and will store the crash again if found", p, missing, aside))
					}
				}
			}
		}
	}
	return msgs
}

// incomplete returns the first required file a crash directory lacks.
func incomplete(dir string) string {
	need := []string{FileSignature, FileFailure, FileRepro}
	if _, err := os.Stat(filepath.Join(dir, FileSchedule)); err == nil {
		need = append(need, FileSchedule)
	} else {
		need = append(need, FileMinimized, FileOriginal)
	}
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return n
		}
	}
	return ""
}

// exists reports whether a complete crash directory is stored.
func (s crashStore) exists(target, slug string) bool {
	p := filepath.Join(s.dir, target, slug)
	_, err := os.Stat(p)
	return err == nil && incomplete(p) == ""
}

// save stores the files of one crash under <target>/<slug> atomically: it
// writes them in a temporary directory and renames it. A crash already
// stored is left as it is (the first night's files stay).
func (s crashStore) save(target, slug string, files map[string][]byte) (string, error) {
	final := filepath.Join(s.dir, target, slug)
	if s.exists(target, slug) {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".tmp-"+slug+"-")
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		// A file in place but not synced is kept, as the final rename's
		// unsynced directory below is: a crash is never dropped for that.
		if err := fuzz.WriteFileAtomic(filepath.Join(tmp, n), files[n]); err != nil && !errors.Is(err, fuzz.ErrNotDurable) {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("storing crash %s: %w", final, err)
	}
	// Not returned: the crash is in place, and save's callers would
	// leave a crash whose save failed out of the report.
	_ = fuzz.SyncDir(filepath.Dir(final))
	return final, nil
}

// Suppressions are known crash signatures that do not fail a run.
type Suppressions struct {
	exact    map[string]bool
	prefixes []string
}

// LoadSuppressions reads a suppressions file: one signature per line (or
// a crash directory's name, or a prefix ending in '*'), '#' starts a
// comment. An empty path gives no suppressions.
func LoadSuppressions(path string) (*Suppressions, error) {
	s := &Suppressions{exact: map[string]bool{}}
	if path == "" {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if msg := badSuppression(line); msg != "" {
			return nil, fmt.Errorf("suppressions %s:%d: %q: %s (want an exact signature such as parser/panic ..., a crash directory's name, or a signature prefix ending in '*')", path, lineNo, line, msg)
		}
		switch {
		case line == "":
		case strings.HasSuffix(line, "*"):
			s.prefixes = append(s.prefixes, strings.TrimSuffix(line, "*"))
		default:
			s.exact[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("suppressions %s: %w", path, err)
	}
	return s, nil
}

var slugLineRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*-[0-9a-f]{8}$`)

// badSuppression says why a (comment-stripped, trimmed) line of a
// suppressions file is malformed, or returns "" for a valid or empty line.
// A '*' inside a line is a wildcard written in the wrong place, except in
// "(*", a pointer receiver: signatures name frames such as
// qjson.(*Decoder).Feed, and such a signature is suppressed exactly.
func badSuppression(line string) string {
	stars := strings.ReplaceAll(line, "(*", "(")
	switch i := strings.Index(stars, "*"); {
	case line == "":
		return ""
	case line == "*":
		return "a bare '*' would suppress every crash"
	case i >= 0 && i != len(stars)-1:
		return "'*' is only allowed at the end of a line (a prefix)"
	case i >= 0, strings.Contains(line, "/"), slugLineRE.MatchString(line):
		return ""
	}
	return "neither a signature (target/...) nor a crash directory's name (slug-hash)"
}

// Match reports whether a crash is suppressed.
func (s *Suppressions) Match(target, sig string) bool {
	if s == nil {
		return false
	}
	if s.exact[sig] || s.exact[Slug(target, sig)] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(sig, p) {
			return true
		}
	}
	return false
}

// Len returns the number of entries.
func (s *Suppressions) Len() int { return len(s.exact) + len(s.prefixes) }
