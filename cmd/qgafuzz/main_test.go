package main

import (
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
