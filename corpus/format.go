package corpus

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// nativeHeader starts every file of Go's fuzzing corpora. Go's engine also
// reads files whose lines end in CRLF, as editors and checkouts on Windows
// leave them, so a header line ending in "\r\n" counts too.
const nativeHeader = "go test fuzz v1\n"

// cutNativeHeader returns b after its native header line, and whether it
// has one.
func cutNativeHeader(b []byte) ([]byte, bool) {
	if rest, ok := bytes.CutPrefix(b, []byte(nativeHeader)); ok {
		return rest, true
	}
	return bytes.CutPrefix(b, []byte("go test fuzz v1\r\n"))
}

// EncodeNative encodes one input as Go's fuzzing engine writes a corpus
// entry of a func(*testing.T, []byte) target.
func EncodeNative(data []byte) []byte {
	return fmt.Appendf(nil, "%s[]byte(%q)\n", nativeHeader, data)
}

// DecodeNative decodes a "go test fuzz v1" file holding one []byte or
// string value.
func DecodeNative(b []byte) ([]byte, error) {
	rest, ok := cutNativeHeader(b)
	if !ok {
		return nil, fmt.Errorf("not a Go fuzzing corpus file (no %q header)", strings.TrimSpace(nativeHeader))
	}
	var lines, types []string
	for _, line := range strings.Split(string(rest), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		lines = append(lines, line)
		typ, _, _ := strings.Cut(line, "(")
		types = append(types, fmt.Sprintf("%.20q", typ))
	}
	// A file of a target with other arguments (func(*testing.T, []byte,
	// int), say) is told as such, before any value is parsed.
	switch len(lines) {
	case 0:
		return nil, fmt.Errorf("the Go fuzzing corpus file holds no value; qgafuzz's targets take one []byte")
	case 1:
	default:
		return nil, fmt.Errorf("the Go fuzzing corpus file holds %d values (%s), for a fuzz target with more arguments; qgafuzz's targets take one []byte",
			len(lines), strings.Join(types, ", "))
	}
	return parseNativeValue(lines[0])
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
	return detect(path, b, nil)
}

// detect is Detect; siblings, if not nil, are the base names of the
// files of path's directory that have a go-fuzz sibling (.quoted or
// .output), as listed: a corpus of 50,000 files is not looked up 100,000
// times more for siblings that are seldom there.
func detect(path string, b []byte, siblings map[string]bool) Format {
	switch {
	case isNative(b):
		return Native
	case looksLikeSim(b):
		return SimTrace
	}
	if siblings != nil {
		if siblings[filepath.Base(path)] {
			return GoFuzz
		}
	} else if _, err := os.Stat(path + ".quoted"); err == nil {
		return GoFuzz
	} else if _, err := os.Stat(path + ".output"); err == nil {
		return GoFuzz
	}
	if libFuzzerArtifact.MatchString(filepath.Base(path)) {
		return LibFuzzer
	}
	return Raw
}

func isNative(b []byte) bool {
	_, ok := cutNativeHeader(b)
	return ok
}

// looksLikeSim reports whether b is a simulation schedule (a JSON object
// whose own members include a version, a seed and a list of ops) or a
// trace (its first line is the header sim.WriteTrace writes: an object
// with actor "sim" and a schedule). Only the top level counts, so that a
// request whose arguments happen to hold such names stays a fuzz input.
func looksLikeSim(b []byte) bool {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	first, _, _ := bytes.Cut(t, []byte{'\n'})
	var head struct {
		Actor    string          `json:"actor"`
		Schedule json.RawMessage `json:"schedule"`
	}
	if json.Unmarshal(first, &head) == nil && head.Actor == "sim" && isJSONObject(head.Schedule) {
		return true
	}
	var sched struct {
		Version *json.Number      `json:"version"`
		Seed    *json.Number      `json:"seed"`
		Ops     []json.RawMessage `json:"ops"`
	}
	return json.Unmarshal(t, &sched) == nil && sched.Version != nil && sched.Seed != nil && sched.Ops != nil
}

func isJSONObject(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '{'
}

// Decode returns the fuzz input held by a file's content in format f.
// An unknown format is an error (see ParseFormat), not taken for raw.
func Decode(f Format, b []byte) ([]byte, error) {
	switch f {
	case Native:
		return DecodeNative(b)
	case SimTrace:
		return nil, fmt.Errorf("a simulation schedule is not a fuzz input (replay it with qgafuzz repro)")
	case Raw, GoFuzz, LibFuzzer:
		return b, nil
	}
	return nil, fmt.Errorf("corpus: unknown format %q (want native, gofuzz, libfuzzer or raw)", f)
}

// MaxFileSize is the largest file the corpus tools read: room for an
// input that crosses the parser's 64 MiB token limit, with a bound, so
// that a stray core dump or disk image among the inputs is skipped
// instead of exhausting memory.
const MaxFileSize = fuzz.MaxInputFile

// maxNativeFile is the largest native file the corpus tools read: the
// encoding of an input of MaxFileSize bytes, each quoted as \xNN at
// worst, so that every input exported as a native file can be read back.
const maxNativeFile = 4*MaxFileSize + 64

// ReadFile reads one corpus or crash file. It must be a regular file (or
// a link to one) of at most MaxFileSize bytes (a native file: as large as
// the encoding of such an input): a FIFO or a device would block or never
// end.
func ReadFile(path string) ([]byte, error) {
	refuse := func(why string) error { return &fs.PathError{Op: "read", Path: path, Err: errors.New(why)} }
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, refuse("not a regular file but " + fileKind(st.Mode()))
	}
	limit := int64(MaxFileSize)
	if st.Size() > MaxFileSize && st.Size() <= maxNativeFile {
		if native, err := hasNativeHeader(path); err == nil && native {
			limit = maxNativeFile
		}
	}
	if st.Size() > limit {
		return nil, refuse(fmt.Sprintf("%d bytes, over the %d MiB limit of an input file", st.Size(), limit>>20))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized to the file (one byte more to see its end): io.ReadAll's
	// 512 bytes at least, doubled as they fill, took more than twice the
	// memory of a corpus of small inputs, which minimize and merge hold.
	b, err := readAllSized(io.LimitReader(f, limit+1), st.Size()+1)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit { // it grew since the Stat
		return nil, refuse(fmt.Sprintf("over the %d MiB limit of an input file", limit>>20))
	}
	return b, nil
}

// readAllSized is io.ReadAll starting with a buffer of size bytes.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// hasNativeHeader reports whether the regular file at path starts with
// the native header.
func hasNativeHeader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len("go test fuzz v1\r\n"))
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	return isNative(head[:n]), nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// ReadInput reads one input file in any format and decodes it.
func ReadInput(path string) ([]byte, Format, error) {
	data, f, err := readInput(path, "", true, nil)
	if err != nil && f != "" { // a decoding error does not name the file
		err = fmt.Errorf("%s: %w", path, err)
	}
	return data, f, err
}

// readInput reads the file at path and decodes it as format as, or as the
// format its content shows when as is "" (where native false means that
// a native-looking file is raw). The format is "" when the file could not
// be read. siblings are as detect's.
func readInput(path string, as Format, native bool, siblings map[string]bool) ([]byte, Format, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	f := as
	if f == "" {
		f = detect(path, b, siblings)
		if f == Native && !native {
			f = Raw
		}
	}
	data, err := Decode(f, b)
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("the input is %d bytes, over the %d MiB limit of an input", len(data), MaxFileSize>>20)
	}
	return data, f, err
}

// skipName reports whether a file of a corpus directory is not an input:
// hidden and temporary files, go-fuzz's .quoted and .output siblings, and
// qgafuzz's crash reports.
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".quoted") ||
		strings.HasSuffix(name, ".output") || strings.HasSuffix(name, ".txt") ||
		strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".md")
}

// skipFile is skipName for a directory read as format as: libFuzzer and
// go-fuzz take every file of their corpora for an input (seeds named
// *.json or *.txt are common), so only hidden and temporary files and
// go-fuzz's siblings of its crashers are not.
func skipFile(name string, as Format) bool {
	if as == LibFuzzer || as == GoFuzz {
		return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".quoted") || strings.HasSuffix(name, ".output")
	}
	return skipName(name)
}

// TargetFromPath guesses the target of an input from its path: a
// component naming a target's native fuzz function (testdata/fuzz/FuzzParser),
// or a component naming the target after a crashers/ or corpus/ directory.
// A directory merely named after a target proves nothing (it may be the
// working directory of an unrelated run), so it does not count.
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
	return "", false
}
