package qgatest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// needQemuGA returns the qemu-ga path or skips (fails under CI).
func needQemuGA(t *testing.T) string {
	t.Helper()
	bin, err := FindQemuGA()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", MissingQemuGAMessage, err)
		}
		t.Skipf("%s (%v)", MissingQemuGAMessage, err)
	}
	return bin
}

func TestFindQemuGA(t *testing.T) {
	bin := needQemuGA(t)
	t.Logf("qemu-ga at %s", bin)
	if filepath.Base(bin) != "qemu-ga" && os.Getenv("QGAFUZZ_QEMU_GA") == "" {
		t.Errorf("unexpected binary %s", bin)
	}
	v, err := QemuGAVersion(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d+\.\d+(\.\d+)?`).MatchString(v) {
		t.Errorf("version %q does not look like a version", v)
	}
	t.Logf("qemu-ga version %s", v)
}

func TestFindQemuGAEnvOverride(t *testing.T) {
	t.Setenv("QGAFUZZ_QEMU_GA", filepath.Join(t.TempDir(), "nope"))
	if p, err := FindQemuGA(); err == nil {
		t.Errorf("FindQemuGA() = %q with a missing override, want an error", p)
	}
	if runtime.GOOS == "windows" {
		return
	}
	fake := writeScript(t, "echo hi")
	t.Setenv("QGAFUZZ_QEMU_GA", fake)
	if p, err := FindQemuGA(); err != nil || p != fake {
		t.Errorf("FindQemuGA() = %q, %v; want %q", p, err, fake)
	}
}

func TestSafeBlocklist(t *testing.T) {
	bin := needQemuGA(t)
	block, err := SafeBlocklist(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blocking %d commands", len(block))
	for _, c := range SafeCommands {
		if slices.Contains(block, c) {
			t.Errorf("safe command %s is blocked", c)
		}
	}
	for _, c := range []string{"guest-exec", "guest-shutdown", "guest-file-open", "guest-set-time"} {
		if !slices.Contains(block, c) {
			t.Errorf("dangerous command %s is not blocked", c)
		}
	}
}

// writeScript creates an executable shell script printing a fake command list.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu-ga")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSafeBlocklistDefensive(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	safe := "echo guest-sync; echo guest-sync-delimited; echo guest-ping; echo guest-info"
	for name, body := range map[string]string{
		"empty":        "true",
		"no-info":      "echo guest-sync; echo guest-sync-delimited; echo guest-ping; echo guest-exec",
		"only-safe":    safe,
		"fails":        safe + "; echo guest-exec; exit 1",
		"no-delimited": "echo guest-sync; echo guest-ping; echo guest-info; echo guest-exec",
	} {
		if got, err := SafeBlocklist(writeScript(t, body)); err == nil {
			t.Errorf("%s: SafeBlocklist = %q, want an error", name, got)
		}
	}
	got, err := SafeBlocklist(writeScript(t, safe+"; echo guest-exec; echo; echo guest-shutdown"))
	if err != nil || !slices.Equal(got, []string{"guest-exec", "guest-shutdown"}) {
		t.Errorf("SafeBlocklist = %q, %v", got, err)
	}
}

func TestQemuGALifecycle(t *testing.T) {
	g := StartQemuGA(t)
	if !g.Alive() {
		t.Fatal("agent not alive after start")
	}
	if v := g.Version(); !strings.HasPrefix(v, "7.") {
		t.Logf("note: qemu-ga version %s; the vectors were recorded with 7.2.22", v)
	}
	ping := func() string {
		t.Helper()
		nc, err := g.Dial()
		if err != nil {
			t.Fatal(err)
		}
		c := NewConn(nc)
		defer c.Close()
		out, err := c.Exchange([]byte(`{"execute":"guest-ping"}{"execute":"guest-get-time"}`), 50*time.Millisecond, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	want := `{"return": {}}` + "\n" +
		`{"error": {"class": "CommandNotFound", "desc": "Command guest-get-time has been disabled"}}` + "\n"
	if got := ping(); got != want {
		t.Fatalf("ping/get-time replied %q, want %q", got, want)
	}

	// qemu-ga 7.2 exits when a client closes with replies unread; Alive
	// must notice and Restart must bring it back.
	nc, err := g.Dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write([]byte(`{"execute":"guest-ping"}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the reply land in our buffer
	nc.Close()                         // without reading it
	deadline := time.Now().Add(5 * time.Second)
	for g.Alive() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g.Alive() {
		t.Log("note: agent survived a close with unread replies (not 7.2 behaviour)")
	} else {
		t.Logf("agent exited after a close with unread replies, as documented (%v); log: %q; output: %q", g.exitErr(), g.LogTail(3), g.Output())
	}
	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	if !g.Alive() {
		t.Fatal("agent not alive after restart")
	}
	if got := ping(); got != want {
		t.Fatalf("after restart: %q, want %q", got, want)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if g.Alive() {
		t.Fatal("agent alive after Stop")
	}
}

func TestStartQemuGAProcessOwnDir(t *testing.T) {
	needQemuGA(t)
	g, err := StartQemuGAProcess(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	dir := g.Dir
	if _, err := os.Stat(g.Socket); err != nil {
		t.Errorf("socket: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary dir %s not removed: %v", dir, err)
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	if g, err := StartQemuGAProcess(context.Background(), long); err == nil {
		g.Close()
		t.Error("no error for a socket path beyond the unix limit")
	}
}
