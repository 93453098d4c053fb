package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTopLevelUsage: help goes to stdout with exit 0; anything the
// command line cannot mean is exit 2 with the reason on stderr.
func TestTopLevelUsage(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		stdout   string // what stdout holds
		inStderr string
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"help", "sim"}, exitOK, "qgafuzz sim", ""},
		{[]string{"help", "nope"}, exitUsage, "", `no help for "nope"`},
	} {
		code, stdout, stderr := runCmdline(c.args...)
		if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.inStderr) ||
			(c.stdout == "" && stdout != "") {
			t.Errorf("qgafuzz %q: exit %d, stdout %.60q, stderr %.60q; want exit %d", c.args, code, stdout, stderr, c.code)
		}
	}
}

// TestErrorsPrefixedOnce: an error of a library package, which starts
// with the package's name ("fuzz: ", "corpus: "), is printed after the
// command's own prefix without it: "qgafuzz fuzz: X", not "qgafuzz fuzz:
// fuzz: X".
func TestErrorsPrefixedOnce(t *testing.T) {
	doubled := regexp.MustCompile(`qgafuzz [a-z ]+: (?:[a-z-]+: )*(?:fuzz|corpus|nightly|sim|qga|qjson): `)
	outside := t.TempDir()
	for _, c := range []struct {
		args []string
		want string // in stderr
		away bool   // run outside the source tree
	}{
		{[]string{"fuzz", "--target", "differential", "--agent-cmd", "true", "--time", "1s"}, "qgafuzz fuzz: agent command", false},
		{[]string{"corpus", "stats", filepath.Join(outside, "nosuch")}, "qgafuzz corpus stats: ", false},
		{[]string{"fuzz", "--target", "parser", "--time", "1s"}, "qgafuzz fuzz: " + outside, true},
		{[]string{"nightly", "--budget", "1m", "--out", filepath.Join(outside, "out")}, "qgafuzz nightly: " + outside, true},
	} {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			if c.away {
				t.Chdir(outside)
			}
			code, _, stderr := runCmdline(c.args...)
			if code == exitOK || !strings.Contains(stderr, c.want) || doubled.MatchString(stderr) {
				t.Errorf("qgafuzz %q: exit %d, stderr %q; want an error once prefixed, %q", c.args, code, stderr, c.want)
			}
		})
	}
}
