package qgatest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// DefaultSetup is the setup sent before a vector when the vector has no
// setup_hex field: 0xFF forces a lexical error (resetting the streamer) and
// the LF ends the lexer's error-recovery mode.
var DefaultSetup = []byte{0xff, 0x0a}

// maxGenBytes bounds the expanded size of an input_gen/send_gen list so a
// corrupt vector file cannot make the loader promise absurd allocations.
const maxGenBytes = 1 << 30

// Segment is one element of an input_gen or send_gen list: Bytes repeated
// Count times.
type Segment struct {
	Bytes []byte
	Count int64
}

// UnmarshalJSON decodes the vector file's [hex, count] pair.
func (s *Segment) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("segment: want [hex, count], got %d elements", len(pair))
	}
	var h string
	if err := json.Unmarshal(pair[0], &h); err != nil {
		return fmt.Errorf("segment hex: %w", err)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return fmt.Errorf("segment hex: %w", err)
	}
	var n float64 // python's int(n) accepts 3 and 3.0 alike
	if err := json.Unmarshal(pair[1], &n); err != nil {
		return fmt.Errorf("segment count: %w", err)
	}
	if n < 0 || n > maxGenBytes {
		return fmt.Errorf("segment count %v out of range", n)
	}
	s.Bytes, s.Count = raw, int64(n)
	return nil
}

// genLen is the expanded length of segs.
func genLen(segs []Segment) int64 {
	var n int64
	for _, s := range segs {
		n += int64(len(s.Bytes)) * s.Count
	}
	return n
}

// genBytes expands segs (probe.py's gen_bytes).
func genBytes(segs []Segment) []byte {
	out := make([]byte, 0, genLen(segs))
	for _, s := range segs {
		if len(s.Bytes) == 1 {
			// Fast path for the common one-byte filler.
			start := len(out)
			out = out[:start+int(s.Count)]
			fill := out[start:]
			for i := range fill {
				fill[i] = s.Bytes[0]
			}
			continue
		}
		out = append(out, bytes.Repeat(s.Bytes, int(s.Count))...)
	}
	return out
}

// Step is one element of a vector's steps list. Exactly one action is
// taken, with probe.py's precedence: Reconnect, then sleep, then send.
type Step struct {
	// Send is the literal send_hex payload.
	Send []byte
	// SendGen is the send_gen payload, kept unexpanded (see SendBytes).
	// When set it takes precedence over Send.
	SendGen []Segment
	// Input means "send the vector's input" (a send step whose send_hex
	// is null or absent and which has no send_gen).
	Input bool
	// Reconnect drains and closes the connection, then opens a new one.
	Reconnect bool
	// SleepMS pauses for that many milliseconds. A step loaded with
	// "sleep_ms": 0 is still a (no-op) sleep step, not a send step.
	SleepMS int
	// IdleMS is the silence that ends the read after a send. 0 means the
	// default: the vector's idle for the last step, 20 ms otherwise. A
	// negative value means an explicit zero (read only what is at hand).
	IdleMS int

	sleep bool // "sleep_ms" key present
}

// IsSleep reports whether the step is a sleep step.
func (s *Step) IsSleep() bool { return !s.Reconnect && (s.sleep || s.SleepMS > 0) }

// SendBytes returns the bytes this step sends (v supplies the input when
// s.Input is set). send_gen payloads are expanded on every call.
func (s *Step) SendBytes(v *Vector) []byte {
	switch {
	case s.SendGen != nil:
		return genBytes(s.SendGen)
	case s.Input:
		return v.InputBytes()
	}
	return s.Send
}

// Vector is one line of the vector file (see probe.py's docstring).
type Vector struct {
	Name string
	// Input holds the decoded input_hex; nil when the vector uses input_gen.
	// Use InputBytes to get the input either way.
	Input []byte
	// InputGen holds the unexpanded input_gen segments.
	InputGen []Segment
	// Output is the exact reply stream recorded after the setup.
	Output     []byte
	OutputText string
	Note       string
	// Setup is sent (and its replies discarded) before the vector:
	// DefaultSetup when setup_hex is absent, empty when it is "" or null.
	Setup           []byte
	Steps           []Step
	FreshConnection bool
	// StepOutputs holds step_outputs_hex (one entry per step plus the
	// closing read); nil when absent.
	StepOutputs [][]byte
	// IdleMS is the silence ending the read after the last step; 0 means
	// the runner's default, negative an explicit zero.
	IdleMS int
	// TimeoutS is the overall read limit per exchange; 0 means 60 s.
	TimeoutS float64
	// Line is the 1-based line of the vector in its file (0 if unknown).
	Line int
}

// InputBytes returns the vector's input, expanding input_gen on demand
// (up to ~130 MiB; the result is not cached).
func (v *Vector) InputBytes() []byte {
	if v.Input != nil || v.InputGen == nil {
		return v.Input
	}
	return genBytes(v.InputGen)
}

// InputLen is len(v.InputBytes()) without expanding anything.
func (v *Vector) InputLen() int64 {
	if v.Input != nil || v.InputGen == nil {
		return int64(len(v.Input))
	}
	return genLen(v.InputGen)
}

// Big reports whether the vector uses generated input (input_gen or a
// send_gen step); such vectors send tens of MiB and are slow to replay.
func (v *Vector) Big() bool {
	if v.InputGen != nil {
		return true
	}
	for i := range v.Steps {
		if v.Steps[i].SendGen != nil {
			return true
		}
	}
	return false
}

type rawVector struct {
	Name            string          `json:"name"`
	InputHex        *string         `json:"input_hex"`
	InputGen        []Segment       `json:"input_gen"`
	OutputHex       *string         `json:"output_hex"`
	OutputText      string          `json:"output_text"`
	Note            string          `json:"note"`
	SetupHex        json.RawMessage `json:"setup_hex"`
	Steps           []rawStep       `json:"steps"`
	FreshConnection bool            `json:"fresh_connection"`
	StepOutputsHex  []string        `json:"step_outputs_hex"`
	IdleMS          *float64        `json:"idle_ms"`
	TimeoutS        *float64        `json:"timeout_s"`
}

type rawStep map[string]json.RawMessage

func present(m rawStep, k string) bool { _, ok := m[k]; return ok }

func isNull(r json.RawMessage) bool { return len(r) == 0 || string(r) == "null" }

func (rs rawStep) decode() (Step, error) {
	var s Step
	if present(rs, "reconnect") {
		s.Reconnect = true // probe.py tests presence, not the value
		return s, nil
	}
	if r, ok := rs["sleep_ms"]; ok {
		var ms float64
		if !isNull(r) {
			if err := json.Unmarshal(r, &ms); err != nil {
				return s, fmt.Errorf("sleep_ms: %w", err)
			}
		}
		s.sleep, s.SleepMS = true, int(ms)
		return s, nil
	}
	if r, ok := rs["idle_ms"]; ok && !isNull(r) {
		var ms float64
		if err := json.Unmarshal(r, &ms); err != nil {
			return s, fmt.Errorf("idle_ms: %w", err)
		}
		s.IdleMS = explicitMS(ms)
	}
	if r, ok := rs["send_gen"]; ok && !isNull(r) {
		if err := json.Unmarshal(r, &s.SendGen); err != nil {
			return s, fmt.Errorf("send_gen: %w", err)
		}
		if s.SendGen == nil {
			s.SendGen = []Segment{}
		}
		if genLen(s.SendGen) > maxGenBytes {
			return s, errors.New("send_gen expands beyond 1 GiB")
		}
		return s, nil
	}
	if r, ok := rs["send_hex"]; ok && !isNull(r) {
		var h string
		if err := json.Unmarshal(r, &h); err != nil {
			return s, fmt.Errorf("send_hex: %w", err)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return s, fmt.Errorf("send_hex: %w", err)
		}
		s.Send = b
		return s, nil
	}
	s.Input = true
	return s, nil
}

// explicitMS converts a millisecond value from the file, mapping an
// explicit zero (or negative) to -1 so it differs from "absent".
func explicitMS(ms float64) int {
	if int(ms) <= 0 {
		return -1
	}
	return int(ms)
}

func (r *rawVector) decode(line int) (Vector, error) {
	v := Vector{Name: r.Name, OutputText: r.OutputText, Note: r.Note,
		FreshConnection: r.FreshConnection, Line: line}
	if v.Name == "" {
		return v, errors.New("missing name")
	}
	var err error
	if r.InputHex != nil {
		if v.Input, err = hex.DecodeString(*r.InputHex); err != nil {
			return v, fmt.Errorf("input_hex: %w", err)
		}
	} else if r.InputGen != nil {
		v.InputGen = r.InputGen
		if genLen(v.InputGen) > maxGenBytes {
			return v, errors.New("input_gen expands beyond 1 GiB")
		}
	}
	if r.OutputHex == nil {
		return v, errors.New("missing output_hex")
	}
	if v.Output, err = hex.DecodeString(*r.OutputHex); err != nil {
		return v, fmt.Errorf("output_hex: %w", err)
	}
	switch {
	case r.SetupHex == nil:
		v.Setup = append([]byte(nil), DefaultSetup...)
	case isNull(r.SetupHex):
		v.Setup = []byte{}
	default:
		var h string
		if err := json.Unmarshal(r.SetupHex, &h); err != nil {
			return v, fmt.Errorf("setup_hex: %w", err)
		}
		if v.Setup, err = hex.DecodeString(h); err != nil {
			return v, fmt.Errorf("setup_hex: %w", err)
		}
	}
	needInput := len(r.Steps) == 0
	for i, rs := range r.Steps {
		s, err := rs.decode()
		if err != nil {
			return v, fmt.Errorf("steps[%d]: %w", i, err)
		}
		needInput = needInput || s.Input
		v.Steps = append(v.Steps, s)
	}
	if needInput && r.InputHex == nil && r.InputGen == nil {
		return v, errors.New("no input_hex or input_gen")
	}
	if r.StepOutputsHex != nil {
		v.StepOutputs = make([][]byte, len(r.StepOutputsHex))
		for i, h := range r.StepOutputsHex {
			if v.StepOutputs[i], err = hex.DecodeString(h); err != nil {
				return v, fmt.Errorf("step_outputs_hex[%d]: %w", i, err)
			}
		}
	}
	if r.IdleMS != nil {
		v.IdleMS = explicitMS(*r.IdleMS)
	}
	if r.TimeoutS != nil {
		v.TimeoutS = *r.TimeoutS
	}
	return v, nil
}

// ReadVectors parses a JSON-lines vector stream. Blank lines are skipped;
// names must be unique.
func ReadVectors(r io.Reader) ([]Vector, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out []Vector
	seen := map[string]int{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var rv rawVector
		if err := json.Unmarshal(line, &rv); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		v, err := rv.decode(i + 1)
		if err != nil {
			return nil, fmt.Errorf("line %d (%q): %w", i+1, rv.Name, err)
		}
		if prev, dup := seen[v.Name]; dup {
			return nil, fmt.Errorf("line %d: duplicate vector name %q (first on line %d)", i+1, v.Name, prev)
		}
		seen[v.Name] = i + 1
		out = append(out, v)
	}
	return out, nil
}

// LoadVectors reads the vector file at path.
func LoadVectors(path string) ([]Vector, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vs, err := ReadVectors(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vs, nil
}

// RealVectors loads the recorded qemu-ga 7.2 vectors (see VectorsPath) or
// fails the test: every fidelity test needs them.
func RealVectors(tb testing.TB) []Vector {
	tb.Helper()
	path, err := VectorsPath()
	if err != nil {
		tb.Fatal(err)
	}
	vs, err := LoadVectors(path)
	if err != nil {
		tb.Fatal(err)
	}
	return vs
}

// VectorsPath locates the qemu-ga 7.2 vector file: $QGAFUZZ_VECTORS if set,
// else <module root>/../shared/vectors/qga72.jsonl, where the module root is
// the nearest directory at or above the working directory holding go.mod.
func VectorsPath() (string, error) {
	if p := os.Getenv("QGAFUZZ_VECTORS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("QGAFUZZ_VECTORS: %w", err)
		}
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(dir), "shared", "vectors", "qga72.jsonl")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("vector file not found at %s (module root %s); set QGAFUZZ_VECTORS to its path", p, dir)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod found at or above %s; set QGAFUZZ_VECTORS to the path of qga72.jsonl", wd)
		}
		dir = parent
	}
}
