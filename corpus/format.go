package corpus

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file is the engines' on-disk formats and their detection. Every
// engine but one stores an input as the raw bytes of a file:
//
//	raw        qgafuzz's own corpora and crashers (corpus/<target>/, crashers/)
//	gofuzz     go-fuzz: raw files named by their SHA-1 in <workdir>/corpus, and
//	           crashers with sibling .quoted and .output files
//	libfuzzer  libFuzzer: raw files named by their SHA-1, crashes as
//	           crash-<sha1> (leak-, timeout-, oom-, slow-unit- likewise)
//	native     Go's own fuzzing: "go test fuzz v1" followed by one Go
//	           literal per argument, []byte("...") for qgafuzz's targets
//
// and simulation schedules and traces (JSON) are told apart by content.

// Format names an on-disk format.
type Format string

// The formats.
const (
	Raw       Format = "raw"
	Native    Format = "native"
	GoFuzz    Format = "gofuzz"
	LibFuzzer Format = "libfuzzer"
	// SimTrace is a simulation schedule or trace (JSON); its content is
	// not a fuzz input.
	SimTrace Format = "sim"
)

// ExportFormats are the formats import and export convert between.
var ExportFormats = []Format{Native, GoFuzz, LibFuzzer}

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range []Format{Native, GoFuzz, LibFuzzer, Raw} {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want native, gofuzz, libfuzzer or raw)", s)
}

// nativeHeader starts every file of Go's fuzzing corpora.
const nativeHeader = "go test fuzz v1\n"

// EncodeNative encodes one input as Go's fuzzing engine writes a corpus
// entry of a func(*testing.T, []byte) target.
func EncodeNative(data []byte) []byte {
	return fmt.Appendf(nil, "%s[]byte(%q)\n", nativeHeader, data)
}

// DecodeNative decodes a "go test fuzz v1" file holding one []byte or
// string value.
func DecodeNative(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte(nativeHeader))
	if !ok {
		return nil, fmt.Errorf("not a Go fuzzing corpus file (no %q header)", strings.TrimSpace(nativeHeader))
	}
	var vals [][]byte
	for _, line := range strings.Split(string(rest), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		v, err := parseNativeValue(line)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("the Go fuzzing corpus file holds %d values; qgafuzz's targets take one []byte", len(vals))
	}
	return vals[0], nil
}

func parseNativeValue(line string) ([]byte, error) {
	for _, prefix := range []string{"[]byte(", "string("} {
		if inner, ok := strings.CutPrefix(line, prefix); ok && strings.HasSuffix(inner, ")") {
			s, err := strconv.Unquote(inner[:len(inner)-1])
			if err != nil {
				return nil, fmt.Errorf("bad literal %.40q: %w", line, err)
			}
			return []byte(s), nil
		}
	}
	return nil, fmt.Errorf("unsupported value %.40q (want []byte(\"...\"))", line)
}

// SHA1Name is the file name go-fuzz and libFuzzer give an input.
func SHA1Name(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// FileName is the name an input gets in a directory of the given format:
// the SHA-1 for go-fuzz and libFuzzer, qgafuzz's content hash otherwise.
func FileName(f Format, data []byte) string {
	switch f {
	case GoFuzz, LibFuzzer:
		return SHA1Name(data)
	}
	return fuzz.InputName(data)
}

// Encode returns the file content of data in format f.
func Encode(f Format, data []byte) []byte {
	if f == Native {
		return EncodeNative(data)
	}
	return data
}

var libFuzzerArtifact = regexp.MustCompile(`^(crash|leak|timeout|oom|slow-unit|minimized-from)-[0-9a-f]{40}$`)

// Detect tells the format of a file from its content and its path.
func Detect(path string, b []byte) Format {
	switch {
	case bytes.HasPrefix(b, []byte(nativeHeader)):
		return Native
	case looksLikeSim(b):
		return SimTrace
	}
	if _, err := os.Stat(path + ".quoted"); err == nil {
		return GoFuzz
	}
	if _, err := os.Stat(path + ".output"); err == nil {
		return GoFuzz
	}
	if libFuzzerArtifact.MatchString(filepath.Base(path)) {
		return LibFuzzer
	}
	return Raw
}

// looksLikeSim reports whether b is a simulation schedule (a JSON object
// with a version and a seed) or a trace (its first line is the header
// written by sim.WriteTrace).
func looksLikeSim(b []byte) bool {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	first, _, _ := bytes.Cut(t, []byte{'\n'})
	if bytes.Contains(first, []byte(`"actor":"sim"`)) && bytes.Contains(first, []byte(`"schedule"`)) {
		return true
	}
	return bytes.Contains(t, []byte(`"version"`)) && bytes.Contains(t, []byte(`"seed"`)) &&
		bytes.Contains(t, []byte(`"ops"`))
}

// Decode returns the fuzz input held by a file's content in format f.
func Decode(f Format, b []byte) ([]byte, error) {
	switch f {
	case Native:
		return DecodeNative(b)
	case SimTrace:
		return nil, fmt.Errorf("a simulation schedule is not a fuzz input (replay it with qgafuzz repro)")
	}
	return b, nil
}

// ReadInput reads one input file in any format and decodes it.
func ReadInput(path string) ([]byte, Format, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	f := Detect(path, b)
	data, err := Decode(f, b)
	if err != nil {
		return nil, f, fmt.Errorf("%s: %w", path, err)
	}
	return data, f, nil
}

// skipName reports whether a file of a corpus directory is not an input:
// hidden and temporary files, go-fuzz's .quoted and .output siblings, and
// qgafuzz's crash reports.
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".quoted") ||
		strings.HasSuffix(name, ".output") || strings.HasSuffix(name, ".txt") ||
		strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".md")
}

// TargetFromPath guesses the target of an input from its path: a
// component naming a target's native fuzz function (testdata/fuzz/FuzzParser),
// or a component naming the target after a crashers/ or corpus/
// directory, or any component that is a target's name.
func TargetFromPath(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	parts := strings.Split(filepath.ToSlash(abs), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		for _, t := range fuzz.Targets() {
			if parts[i] == t.FuncName() {
				return t.Name, true
			}
		}
	}
	for i := len(parts) - 2; i >= 0; i-- {
		if parts[i] == "crashers" || parts[i] == "corpus" {
			if _, ok := fuzz.Lookup(parts[i+1]); ok {
				return parts[i+1], true
			}
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		if _, ok := fuzz.Lookup(parts[i]); ok {
			return parts[i], true
		}
	}
	return "", false
}
