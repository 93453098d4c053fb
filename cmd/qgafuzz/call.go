package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qjson"
)

func init() {
	register(&command{name: "call", summary: "run one command on a guest agent and print its return value", run: runCall})
}

const callHelp = `
Usage: qgafuzz call --connect ADDR [flags] COMMAND [ARGS-JSON]

Runs COMMAND on the guest agent at ADDR and prints its "return" value on
standard output as JSON, in the agent's own serialisation, followed by a
newline. ARGS-JSON is the command's arguments object.

ADDR is one of
  unix:PATH       a unix socket (qemu-ga -m unix-listen -p PATH, qgafuzz agent)
  tcp:HOST:PORT   a TCP socket
  file:PATH       a character device, e.g. a virtio-serial port

Before the command, the client resynchronises with 0xFF and guest-sync-delimited
and discards whatever earlier sessions left in the channel; it accepts only the
reply that echoes its request's random id, so it never prints a reply that
belongs to another request.

Exit codes: 0 success; 1 the agent returned an error (printed as "CLASS: desc"
on standard error); 2 usage error; 3 transport, timeout or protocol error (with
a one-line explanation on standard error); 130 interrupted (Ctrl-C or SIGTERM:
the connection is still drained before it is closed, since qemu-ga 7.2 exits
when a client leaves replies unread).

Examples:
  qgafuzz call --connect unix:/tmp/qga.sock guest-info
  qgafuzz call --connect unix:/tmp/qga.sock guest-sync '{"id": 42}'
`

func runCall(e *env, args []string) int {
	fs := newFlagSet(e, "call", callHelp)
	connect := fs.String("connect", "", "agent address: unix:PATH, tcp:HOST:PORT or file:PATH")
	timeout := fs.Duration("timeout", qga.DefaultTimeout, "give up after this long (connect, resync, request and reply)")
	maxReply := sizeFlag(qga.DefaultMaxReplySize)
	fs.Var(&maxReply, "max-reply", "largest reply accepted: a `SIZE` in bytes, or with a unit, e.g. 64KiB, 16MiB, 1GiB")
	noDelim := fs.Bool("no-delimited", false, "resynchronise with 0xFF and guest-sync, for agents without guest-sync-delimited")
	pos, code, ok := parseInterspersed(fs, e, args)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "qgafuzz call: "+format+"\n", a...)
		fmt.Fprintln(e.stderr, "Run 'qgafuzz call --help' for usage.")
		return exitUsage
	}
	switch {
	case *connect == "":
		return usageErr("--connect ADDR is required")
	case len(pos) == 0:
		return usageErr("missing COMMAND")
	case strings.TrimSpace(pos[0]) == "":
		return usageErr("COMMAND is empty")
	case len(pos) > 2:
		return usageErr("too many arguments: want COMMAND [ARGS-JSON], got %d arguments", len(pos))
	case *timeout <= 0:
		return usageErr("--timeout must be positive")
	case int64(maxReply) < qga.MinReplySize:
		return usageErr("--max-reply must be at least %d bytes, room for the sync reply that starts every call", qga.MinReplySize)
	}
	if path, ok := strings.CutPrefix(*connect, "file:"); ok {
		if path == "" {
			return usageErr("--connect %q: want file:PATH", *connect)
		}
	} else if _, _, err := qga.ParseAddr(*connect); err != nil {
		if strings.HasPrefix(*connect, "tcp:") {
			return usageErr("--connect: %v", err)
		}
		// ParseAddr knows the socket kinds only; call also opens devices.
		return usageErr("--connect %q: want unix:PATH, tcp:HOST:PORT or file:PATH", *connect)
	}
	name := pos[0]
	var cmdArgs any
	if len(pos) == 2 {
		v, err := parseArgsJSON(pos[1])
		if err != nil {
			return usageErr("ARGS-JSON: %v", err)
		}
		cmdArgs = v
	}

	// Ctrl-C or SIGTERM cancels the call rather than killing the process,
	// so that the deferred Close drains the connection: qemu-ga 7.2 exits
	// when a client closes it with replies unread.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, *timeout)
	defer cancel()
	interrupted := func() int {
		fmt.Fprintln(e.stderr, "qgafuzz call: interrupted")
		return exitInterrupted
	}
	opts := qga.ClientOptions{Timeout: *timeout, MaxReplySize: int(maxReply)}
	if *noDelim {
		opts.Resync = qga.ResyncFlushPlain
	}
	// A busy agent (qemu-ga serves one client at a time, and refuses
	// connections beyond its backlog of one) is waited for, within
	// --timeout, as a blocking connect would wait.
	c, err := retryBusy(ctx, func() (*qga.Client, error) { return qga.DialClient(ctx, *connect, opts) })
	if err != nil {
		if sigCtx.Err() != nil {
			return interrupted()
		}
		if errors.Is(err, syscall.EAGAIN) {
			fmt.Fprintf(e.stderr, "qgafuzz call: cannot connect to %s within %v: the agent is busy with other clients (qemu-ga serves one at a time): %v\n", *connect, *timeout, errText(err))
			return exitTransport
		}
		fmt.Fprintf(e.stderr, "qgafuzz call: cannot connect to %s: %v\n", *connect, errText(err))
		return exitTransport
	}
	defer c.Close()
	var v qjson.Value
	err = c.Execute(ctx, name, cmdArgs, &v)
	if err == nil {
		out := append(qjson.AppendValue(nil, v), '\n')
		if _, err := e.stdout.Write(out); err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz call:", errText(err))
			return exitTransport
		}
		return exitOK
	}
	var ae *qga.AgentError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(e.stderr, "%s: %s\n", fuzz.Printable(ae.Class), fuzz.Printable(ae.Desc))
		return exitFinding
	case sigCtx.Err() != nil:
		c.Close() // drain before saying so
		return interrupted()
	case errors.Is(err, qga.ErrInvalidRequest):
		return usageErr("%v", err)
	case errors.Is(err, qga.ErrTimeout):
		fmt.Fprintf(e.stderr, "qgafuzz call: no reply from %s within %v (is the agent running, and no other client connected? qemu-ga serves one at a time): %v\n", *connect, *timeout, errText(err))
	case errors.Is(err, qga.ErrReplyTooLarge):
		fmt.Fprintf(e.stderr, "qgafuzz call: %v; raise --max-reply to accept it\n", errText(err))
	default:
		fmt.Fprintf(e.stderr, "qgafuzz call: %s: %v\n", *connect, errText(err))
	}
	return exitTransport
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (Go's flag package stops at the first
// positional), and returns the positionals. "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, e *env, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if code, ok := parseFlags(fs, e, args); !ok {
			return nil, code, false
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, true
		}
		if len(rest) == 0 {
			return pos, 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseArgsJSON parses the arguments object with qemu-ga's own parser (so
// whatever the agent accepts is accepted, single quotes included).
func parseArgsJSON(s string) (qjson.Value, error) {
	d := qjson.NewDecoder()
	p := []byte(s + "\n")
	n, ok := d.Feed(p)
	if !ok {
		return qjson.Value{}, fmt.Errorf("not a complete JSON value: %q", s)
	}
	ev := d.Event()
	if ev.Err != nil {
		return qjson.Value{}, fmt.Errorf("%s", fuzz.Printable(ev.Err.Desc))
	}
	if strings.TrimSpace(string(p[n:])) != "" {
		return qjson.Value{}, fmt.Errorf("more than one JSON value: %q", s)
	}
	if ev.Value.Kind() != qjson.Object {
		return qjson.Value{}, fmt.Errorf("want a JSON object, got %s", ev.Value.Kind())
	}
	return ev.Value, nil
}

// sizeFlag is a byte count written as a number with an optional unit:
// k/K/KiB/KB, M/MiB/MB, G/GiB/GB (all binary).
type sizeFlag int

// String writes the size as --help shows the default: in the largest
// binary unit that divides it (16MiB, not 16777216), else in bytes.
func (s *sizeFlag) String() string {
	n := int(*s)
	for _, u := range []struct {
		name string
		size int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.Itoa(n/u.size) + u.name
		}
	}
	return strconv.Itoa(n)
}

func (s *sizeFlag) Set(v string) error {
	num := strings.TrimRightFunc(v, unicode.IsLetter)
	unit := strings.ToLower(v[len(num):])
	mult := 1
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return fmt.Errorf("unknown unit %q (use KiB, MiB or GiB)", v[len(num):])
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 || n > math.MaxInt/mult {
		return fmt.Errorf("want a positive size such as 65536, 64KiB or 16MiB")
	}
	*s = sizeFlag(n * mult)
	return nil
}

// Compile-time check that the flag type satisfies flag.Value.
var _ flag.Value = (*sizeFlag)(nil)
