package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
)

// This file writes a schedule's JSON (a schedule file, a trace's header)
// without building it whole in memory: a long run's workload and fault
// events take some 200 bytes a step as JSON, and encoding/json holds the
// value it marshals, the buffers it grew on the way, and then a copy. The
// bytes are the ones json.Marshal and json.MarshalIndent write.

// writeScheduleJSON writes wrap(s), a value that holds s (s itself or a
// trace header), as json.MarshalIndent(wrap(s), "", indent) writes it
// (json.Marshal if indent is empty), with s's ops and events marshalled
// one at a time. depth is how deep s is in that value (0: it is s), for
// the indentation.
func writeScheduleJSON(w *bufio.Writer, s *Schedule, wrap func(*Schedule) any, depth int, indent string) error {
	marshal := func(v any) ([]byte, error) {
		if indent == "" {
			return json.Marshal(v)
		}
		return json.MarshalIndent(v, "", indent)
	}
	whole := func() error {
		b, err := marshal(wrap(s))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if s == nil {
		return whole()
	}
	ops, events := s.Ops, s.Events
	rest := *s
	rest.Ops, rest.Events = nil, nil
	head, err := marshal(wrap(&rest))
	if err != nil {
		return err
	}
	// The two nil slices, one after the other as in Schedule: inside a
	// JSON string every quote is escaped, so this is the only place
	// where these bytes occur.
	pre := strings.Repeat(indent, depth+1) // the prefix of s's members' lines
	marker := []byte(`"ops":null,"events":null`)
	if indent != "" {
		marker = []byte(`"ops": null,` + "\n" + pre + `"events": null`)
	}
	i := bytes.Index(head, marker)
	if i < 0 || bytes.Index(head[i+1:], marker) >= 0 {
		return whole() // not the layout this expects
	}
	sep := ":"
	if indent != "" {
		sep = ": "
	}
	w.Write(head[:i])
	w.WriteString(`"ops"` + sep)
	if err := writeJSONArray(w, ops, pre, indent); err != nil {
		return err
	}
	if indent == "" {
		w.WriteString(`,"events"` + sep)
	} else {
		w.WriteString(",\n" + pre + `"events"` + sep)
	}
	if err := writeJSONArray(w, events, pre, indent); err != nil {
		return err
	}
	_, err = w.Write(head[i+len(marker):])
	return err
}

// writeJSONArray writes xs as encoding/json writes a slice, each element
// marshalled on its own; with indent, as MarshalIndent does for a member
// on lines prefixed with pre.
func writeJSONArray[T any](w *bufio.Writer, xs []T, pre, indent string) error {
	switch {
	case xs == nil:
		_, err := w.WriteString("null")
		return err
	case len(xs) == 0:
		_, err := w.WriteString("[]")
		return err
	}
	w.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			w.WriteByte(',')
		}
		var b []byte
		var err error
		if indent == "" {
			b, err = json.Marshal(x)
		} else {
			w.WriteString("\n" + pre + indent)
			b, err = json.MarshalIndent(x, pre+indent, indent)
		}
		if err != nil {
			return err
		}
		w.Write(b)
	}
	if indent != "" {
		w.WriteString("\n" + pre)
	}
	_, err := w.Write([]byte{']'})
	return err
}

// writeFile writes what write writes to path, as os.WriteFile would.
func writeFile(path string, write func(*bufio.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, traceBlock)
	if err = write(bw); err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
