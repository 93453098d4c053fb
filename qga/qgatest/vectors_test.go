package qgatest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func vectorByName(t *testing.T, vs []Vector, name string) *Vector {
	t.Helper()
	for i := range vs {
		if vs[i].Name == name {
			return &vs[i]
		}
	}
	t.Fatalf("vector %s not found", name)
	return nil
}

func TestLoadRealVectors(t *testing.T) {
	vs := RealVectors(t)
	if len(vs) <= 150 {
		t.Fatalf("loaded %d vectors, want > 150", len(vs))
	}
	t.Logf("loaded %d vectors", len(vs))
	seen := map[string]bool{}
	big := 0
	for i := range vs {
		v := &vs[i]
		if seen[v.Name] {
			t.Errorf("duplicate name %s", v.Name)
		}
		seen[v.Name] = true
		if v.Big() {
			big++
			if v.Input != nil || v.InputGen == nil {
				t.Errorf("%s: big vector should keep input_gen unexpanded", v.Name)
			}
		} else if v.Input == nil {
			t.Errorf("%s: no input", v.Name)
		}
		if !bytes.Equal(v.Setup, DefaultSetup) {
			t.Errorf("%s: setup %x, want the default ff0a", v.Name, v.Setup)
		}
		if v.StepOutputs != nil && len(v.StepOutputs) != len(v.Steps)+1 {
			t.Errorf("%s: %d step outputs for %d steps", v.Name, len(v.StepOutputs), len(v.Steps))
		}
		if v.StepOutputs != nil && !bytes.Equal(bytes.Join(v.StepOutputs, nil), v.Output) {
			t.Errorf("%s: step outputs do not add up to the output", v.Name)
		}
		if !v.Big() && string(v.Output) != v.OutputText && isLatin1ASCII(v.Output) {
			t.Errorf("%s: output_text differs from output_hex", v.Name)
		}
	}
	if big == 0 {
		t.Error("no big vectors found")
	}
}

func isLatin1ASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func TestLimitVectorLengths(t *testing.T) {
	vs := RealVectors(t)
	want := map[string]int64{
		"limit.tokens_2097153":                 1 + 2*1048575 + 2,
		"limit.size_string_max_ok":             1 + 67108861 + 1,
		"limit.size_whitespace_free":           1 + 67108870 + 1,
		"limit.size_two_strings_ok":            2 + 33554430 + 3 + 33554426 + 2,
		"limit.size_two_strings_over_at_close": 2 + 33554430 + 3 + 33554427 + 2,
	}
	for name, n := range want {
		v := vectorByName(t, vs, name)
		if !v.Big() {
			t.Errorf("%s: Big() = false", name)
		}
		if got := v.InputLen(); got != n {
			t.Errorf("%s: InputLen = %d, want %d", name, got, n)
		}
	}
	v := vectorByName(t, vs, "limit.tokens_2097153")
	in := v.InputBytes()
	if int64(len(in)) != 2097153 {
		t.Fatalf("tokens input has %d bytes, want 2097153", len(in))
	}
	if !bytes.HasPrefix(in, []byte("[1,1,1,")) || !bytes.HasSuffix(in, []byte(",1,1]")) {
		t.Errorf("tokens input has wrong shape: %q...%q", in[:8], in[len(in)-8:])
	}
	if got := bytes.Count(in, []byte("1")); got != 1048576 {
		t.Errorf("tokens input has %d numbers, want 1048576", got)
	}
	if v.IdleMS != 4000 {
		t.Errorf("tokens idle_ms = %d, want 4000", v.IdleMS)
	}
	if testing.Short() {
		return
	}
	v = vectorByName(t, vs, "limit.size_two_strings_ok")
	in = v.InputBytes()
	if int64(len(in)) != v.InputLen() || !bytes.HasPrefix(in, []byte(`["aaa`)) ||
		!bytes.HasSuffix(in, []byte(`aaa"]`)) || !bytes.Contains(in, []byte(`a","a`)) {
		t.Errorf("two_strings input malformed (len %d)", len(in))
	}
	if v.TimeoutS != 180 {
		t.Errorf("two_strings timeout_s = %v, want 180", v.TimeoutS)
	}
}

func TestStepVectors(t *testing.T) {
	vs := RealVectors(t)
	v := vectorByName(t, vs, "conn.request_split_across_connections")
	if len(v.Steps) != 3 || !v.Steps[1].Reconnect || v.Steps[0].IdleMS != 200 || v.Steps[2].IdleMS != 250 {
		t.Errorf("unexpected steps %+v", v.Steps)
	}
	sent := append(append([]byte(nil), v.Steps[0].SendBytes(v)...), v.Steps[2].SendBytes(v)...)
	if !bytes.Equal(sent, v.Input) {
		t.Errorf("steps send %q, input is %q", sent, v.Input)
	}
}

func TestReadVectorsSynthetic(t *testing.T) {
	src := strings.Join([]string{
		`{"name":"a","input_hex":"7b7d","output_hex":"0a"}`,
		``,
		`{"name":"b","input_hex":"00","output_hex":"","setup_hex":""}`,
		`{"name":"c","input_hex":"00","output_hex":"","setup_hex":null,"fresh_connection":true}`,
		`{"name":"d","input_hex":null,"input_gen":[["6162",3],["63",2.0]],"output_hex":"","setup_hex":"0a","idle_ms":0,"timeout_s":1.5}`,
		`{"name":"e","input_hex":"31","output_hex":"31","step_outputs_hex":["","31",""],` +
			`"steps":[{"send_hex":"20","idle_ms":7},{"reconnect":false},{"sleep_ms":0,"send_hex":"41"},{"send_gen":[["41",4]]},{}]}`,
	}, "\n")
	vs, err := ReadVectors(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 5 {
		t.Fatalf("got %d vectors", len(vs))
	}
	if !bytes.Equal(vs[0].Setup, DefaultSetup) || vs[0].Line != 1 || vs[0].StepOutputs != nil {
		t.Errorf("a: %+v", vs[0])
	}
	if vs[1].Setup == nil || len(vs[1].Setup) != 0 || len(vs[2].Setup) != 0 || !vs[2].FreshConnection {
		t.Errorf("b/c: setup %q %q", vs[1].Setup, vs[2].Setup)
	}
	d := &vs[3]
	if !d.Big() || d.InputLen() != 8 || string(d.InputBytes()) != "abababcc" || d.Input != nil {
		t.Errorf("d: input %q", d.InputBytes())
	}
	if string(d.Setup) != "\n" || d.IdleMS != -1 || d.TimeoutS != 1.5 {
		t.Errorf("d: %+v", d)
	}
	e := &vs[4]
	if e.Big() != true || len(e.Steps) != 5 || len(e.StepOutputs) != 3 || string(e.StepOutputs[1]) != "1" {
		t.Fatalf("e: %+v", e)
	}
	s := e.Steps
	if string(s[0].Send) != " " || s[0].IdleMS != 7 || s[0].Input {
		t.Errorf("step 0: %+v", s[0])
	}
	if !s[1].Reconnect {
		t.Errorf("step 1: reconnect key present must mean reconnect: %+v", s[1])
	}
	if !s[2].IsSleep() || s[2].Send != nil {
		t.Errorf("step 2: sleep_ms present must mean sleep: %+v", s[2])
	}
	if string(s[3].SendBytes(e)) != "AAAA" || s[3].IsSleep() {
		t.Errorf("step 3: %+v", s[3])
	}
	if !s[4].Input || string(s[4].SendBytes(e)) != "1" {
		t.Errorf("step 4: %+v", s[4])
	}
}

func TestReadVectorsErrors(t *testing.T) {
	for _, src := range []string{
		`{"name":"a","input_hex":"zz","output_hex":""}`,
		`{"name":"a","input_hex":"00"}`,
		`{"input_hex":"00","output_hex":""}`,
		`{"name":"a","input_hex":null,"output_hex":""}`,
		`{"name":"a","input_hex":"00","output_hex":""}` + "\n" + `{"name":"a","input_hex":"00","output_hex":""}`,
		`{"name":"a","input_gen":[["00"]],"output_hex":""}`,
		`{"name":"a","input_gen":[["00",-1]],"output_hex":""}`,
		`{"name":"a","input_gen":[["0000",1073741824]],"output_hex":""}`,
		`{"name":"a",`,
	} {
		if _, err := ReadVectors(strings.NewReader(src)); err == nil {
			t.Errorf("no error for %s", src)
		} else {
			t.Logf("ok: %v", err)
		}
	}
}

func TestVectorsPathEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v.jsonl")
	if err := os.WriteFile(p, []byte(`{"name":"x","input_hex":"","output_hex":""}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QGAFUZZ_VECTORS", p)
	got, err := VectorsPath()
	if err != nil || got != p {
		t.Fatalf("VectorsPath() = %q, %v; want %q", got, err, p)
	}
	t.Setenv("QGAFUZZ_VECTORS", p+".missing")
	if _, err := VectorsPath(); err == nil {
		t.Error("no error for a missing QGAFUZZ_VECTORS file")
	}
}
