package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// Tests of "qgafuzz call", run in process through run(): success, agent
// errors (exit 1, "CLASS: desc"), usage errors (2), and transport,
// timeout and protocol errors (3), against the reference agent, hostile
// agents and a live qemu-ga.

// runCallCommand runs "qgafuzz call ARGS..." and returns its exit code and output.
func runCallCommand(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = run(e, append([]string{"call"}, args...))
	return code, out.String(), errb.String()
}

// serveReferenceAgent runs the reference agent on a unix socket and
// returns its address.
func serveReferenceAgent(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qgacall")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := "unix:" + filepath.Join(dir, "agent.sock")
	l, err := qga.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("reference agent stopped: %v (a client closed with replies unread?)", err)
		}
	})
	return addr
}

// referenceLine is the reference agent's reply line for a request,
// without the {"return": ...} wrapper: what "call" must print.
func referenceLine(t *testing.T, command string) string {
	t.Helper()
	out := qga.NewAgent(qga.AgentConfig{}).Feed(nil, []byte(`{"execute":"`+command+`"}`))
	s, ok := strings.CutPrefix(string(out), `{"return": `)
	if !ok {
		t.Fatalf("reference reply %q", out)
	}
	return strings.TrimSuffix(s, "}\n") + "\n"
}

func TestCallReference(t *testing.T) {
	addr := serveReferenceAgent(t)
	checkCallAgent(t, addr, referenceLine(t, qga.CmdInfo))
}

// checkCallAgent runs the calls whose outcome is the same on the reference
// agent and on qemu-ga 7.2.
func checkCallAgent(t *testing.T, addr, info string) {
	t.Helper()
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--connect", addr, "guest-info"}, exitOK, info, ""},
		{[]string{"--connect", addr, "guest-ping"}, exitOK, "{}\n", ""},
		{[]string{"--connect", addr, "guest-sync", `{"id": 42}`}, exitOK, "42\n", ""},
		{[]string{"guest-sync", `{'id': -7}`, "--connect", addr, "--timeout", "5s"}, exitOK, "-7\n", ""},
		{[]string{"--connect", addr, "--no-delimited", "guest-sync-delimited", `{"id": 9223372036854775807}`}, exitOK, "9223372036854775807\n", ""},
		{[]string{"--connect", addr, "nope"}, exitFinding, "", "CommandNotFound: The command nope has not been found\n"},
		{[]string{"--connect", addr, "guest-exec", `{"path": "/bin/true"}`}, exitFinding, "", "CommandNotFound: Command guest-exec has been disabled\n"},
		{[]string{"--connect", addr, "guest-sync"}, exitFinding, "", "GenericError: Parameter 'id' is missing\n"},
		{[]string{"--connect", addr, "guest-sync", `{"id": "1"}`}, exitFinding, "", "GenericError: Invalid parameter type for 'id', expected: integer\n"},
	}
	for _, tc := range cases {
		code, stdout, stderr := runCallCommand(tc.args...)
		if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("call %q:\n got exit %d, stdout %.80q, stderr %q\nwant exit %d, stdout %.80q, stderr %q",
				tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
}

func TestCallUsage(t *testing.T) {
	addr := serveReferenceAgent(t)
	for _, args := range [][]string{
		{},
		{"guest-info"},
		{"--connect", addr},
		{"--connect", addr, "guest-sync", `{"id":`},
		{"--connect", addr, "guest-sync", `[1]`},
		{"--connect", addr, "guest-sync", `{"id":1} {}`},
		{"--connect", addr, "guest-sync", `{"id":1}`, "extra"},
		{"--connect", addr, "--max-reply", "12XB", "guest-info"},
		{"--connect", addr, "--timeout", "0s", "guest-info"},
		{"--connect", addr, "--max-reply", "28", "guest-ping"},
		{"--connect", addr, "--bogus", "guest-info"},
		{"--connect", addr, ""},
		{"--connect", addr, " "},
		{"--connect", "bogus", "guest-info"},
		{"--connect", "file:", "guest-info"},
		{"--connect", "tcp:localhost", "guest-info"},
		{"--connect", addr, "guest-sync", `{"id":` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`},
	} {
		code, stdout, stderr := runCallCommand(args...)
		if code != exitUsage || stdout != "" || stderr == "" {
			t.Errorf("call %.80q: exit %d, stdout %q, stderr %q; want exit 2 with a message", args, code, stdout, stderr)
		}
	}
	// The message names every address kind call takes, file: included.
	if _, _, stderr := runCallCommand("--connect", "bogus", "guest-info"); !strings.Contains(stderr, "file:PATH") {
		t.Errorf("--connect bogus: %q does not name file:PATH", stderr)
	}
	if code, stdout, _ := runCallCommand("--help"); code != exitOK || !strings.Contains(stdout, "Usage: qgafuzz call") {
		t.Errorf("--help: exit %d, %q", code, stdout)
	}
}

func TestCallTransportErrors(t *testing.T) {
	silent, _ := qgatest.ServeHostile(t, qgatest.HostileSilence, qgatest.HostileConfig{})
	wrongID, _ := qgatest.ServeHostile(t, qgatest.HostileWrongID, qgatest.HostileConfig{})
	ref := serveReferenceAgent(t)
	regular := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(regular, []byte("data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--connect", "unix:" + filepath.Join(t.TempDir(), "none.sock"), "guest-info"}, "cannot connect"},
		{[]string{"--connect", silent, "--timeout", "200ms", "guest-info"}, "no reply from"},
		{[]string{"--connect", wrongID, "guest-info"}, "protocol error"},
		{[]string{"--connect", ref, "--max-reply", "1KiB", "guest-info"}, "raise --max-reply"},
		{[]string{"--connect", "file:" + regular, "guest-info"}, "not a character device"},
	}
	for _, tc := range cases {
		start := time.Now()
		code, stdout, stderr := runCallCommand(tc.args...)
		if code != exitTransport || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("call %q: exit %d, stdout %q, stderr %q; want exit 3 and one line containing %q",
				tc.args, code, stdout, stderr, tc.want)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("call %q took %v", tc.args, took)
		}
	}
	if got, _ := os.ReadFile(regular); string(got) != "data\n" {
		t.Errorf("call --connect file:%s wrote into the file: it holds %q", regular, got)
	}
}

func TestCallQemuGA(t *testing.T) {
	ga := qgatest.StartQemuGA(t)
	addr := "unix:" + ga.Socket
	info := referenceLine(t, qga.CmdInfo)
	if v := ga.Version(); v != qga.DefaultVersion {
		t.Skipf("qemu-ga %s: the expected outputs are those of %s", v, qga.DefaultVersion)
	}
	checkCallAgent(t, addr, info)
	time.Sleep(20 * time.Millisecond)
	if !ga.Alive() {
		t.Fatalf("qemu-ga exited after the calls; log:\n%s", ga.LogTail(20))
	}
}

// TestSizeFlag checks the units --max-reply takes.
func TestSizeFlag(t *testing.T) {
	var s sizeFlag
	for in, want := range map[string]int{"4096": 4096, "64KiB": 64 << 10, "16M": 16 << 20, "1GiB": 1 << 30} {
		if err := s.Set(in); err != nil || int(s) != want {
			t.Errorf("size %q = %d, %v; want %d", in, s, err, want)
		}
	}
	if err := s.Set("-1"); err == nil {
		t.Error("size -1 accepted")
	}
	// --help shows the default as it would be written: 16MiB.
	for n, want := range map[int]string{0: "0", 4096: "4KiB", 16 << 20: "16MiB", 1 << 30: "1GiB", 1000: "1000", 1536: "1536"} {
		s = sizeFlag(n)
		if got := s.String(); got != want {
			t.Errorf("sizeFlag(%d).String() = %q, want %q", n, got, want)
		}
		if want != "0" {
			var back sizeFlag
			if err := back.Set(want); err != nil || int(back) != n {
				t.Errorf("Set(%q) = %d, %v; want %d", want, back, err, n)
			}
		}
	}
	// The largest size is the platform's int (2 GiB - 1 on 32-bit).
	if err := s.Set(strconv.Itoa(math.MaxInt/(1<<10)) + "KiB"); err != nil || int(s) != math.MaxInt/(1<<10)<<10 {
		t.Errorf("largest size in KiB = %d, %v", s, err)
	}
	if err := s.Set(strconv.Itoa(math.MaxInt/(1<<10)+1) + "KiB"); err == nil {
		t.Errorf("size beyond the int range accepted as %d", s)
	}
}
