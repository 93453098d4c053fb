// Command qgafuzz fuzzes and simulates the host↔guest channel of the QEMU
// guest agent. Run "qgafuzz help" for the list of subcommands.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK        = 0
	exitFinding   = 1 // an agent error, a crash, a violated invariant
	exitUsage     = 2
	exitTransport = 3 // transport, timeout or protocol error
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(env *env, args []string) int
}

// env is what a subcommand may touch, so that tests can run commands in
// process with captured output.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// textOnStderr is e with standard output sent to standard error: with
// --json, standard output carries the JSON object alone.
func (e *env) textOnStderr() *env { return &env{stdin: e.stdin, stdout: e.stderr, stderr: e.stderr} }

// jsonUsage is the help of the --json flag of fuzz, corpus and repro.
const jsonUsage = "print a machine-readable summary on standard output (the text goes to standard error)"

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(e.stderr, "qgafuzz: no help for %q: no such command\n\n", args[1])
				usage(e.stderr)
				return exitUsage
			}
			return c.run(e, []string{"--help"})
		}
		usage(e.stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "qgafuzz: unknown command %q\n\n", name)
		usage(e.stderr)
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `qgafuzz fuzzes and simulates the host<->guest channel of the QEMU guest agent
(qemu-ga): its streaming JSON parser, the 0xFF flush and the guest-sync-delimited
handshake that hosts use to tell fresh replies from stale ones.

Usage:
  qgafuzz <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run "qgafuzz <command> --help" for a command's flags and examples.
Exit codes: 0 success, 1 a finding (agent error, crash, violated invariant),
2 usage error, 3 transport, timeout or protocol error, 130 interrupted (call,
corpus).
`)
}

// newFlagSet returns a FlagSet whose help output starts with text.
func newFlagSet(e *env, name, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), strings.TrimSpace(text))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit code and false when the
// command must stop (help was asked for, or the flags were wrong).
func parseFlags(fs *flag.FlagSet, e *env, args []string) (int, bool) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package prints the error line itself
	err := fs.Parse(args)
	fs.Usage = usage
	if err == flag.ErrHelp {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, false
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "Run 'qgafuzz %s --help' for usage.\n", fs.Name())
		return exitUsage, false
	}
	return 0, true
}

// libPrefixes are the prefixes the library packages put on their errors.
var libPrefixes = []string{"fuzz: ", "corpus: ", "nightly: ", "sim: ", "qga: ", "qjson: "}

// errText is an error (or an error's message) as a command prints it
// after its own "qgafuzz CMD: ": without the prefix of the package that
// made it, which would only repeat the command's ("qgafuzz fuzz: fuzz:
// ..."). The error itself keeps it, and so does the --json error field.
func errText(err any) string {
	s := fmt.Sprint(err)
	for _, p := range libPrefixes {
		if t, ok := strings.CutPrefix(s, p); ok {
			return t
		}
	}
	return s
}
