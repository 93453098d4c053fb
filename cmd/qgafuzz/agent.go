package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/qgafuzz/qgafuzz/qga"
)

func init() {
	register(&command{name: "agent", summary: "serve the reference agent (qemu-ga 7.2, byte for byte)", run: runAgent})
}

const agentHelp = `
Usage: qgafuzz agent --listen unix:PATH|tcp:HOST:PORT [flags]
       qgafuzz agent --stdio [flags]

Serves the reference guest agent, which answers guest-sync, guest-sync-delimited,
guest-ping and guest-info exactly as qemu-ga 7.2 does, reports every other command
as disabled, and rejects malformed input with qemu-ga's own error replies. Like
qemu-ga in unix-listen mode it serves one client at a time, keeps its parser state
across clients, and (unless --survive-reset) stops when a client closes its
connection with replies unread.

Exit status: 0 stopped by Ctrl-C or SIGTERM, or (--stdio) at the end of the
input; 1 a client closed its connection with replies unread (where qemu-ga 7.2
exits too); 2 usage error; 3 cannot listen, or a read or write error.

Examples:
  qgafuzz agent --listen unix:/tmp/qga.sock
  printf '\xff{"execute":"guest-sync-delimited","arguments":{"id":7}}' | qgafuzz agent --stdio
`

func runAgent(e *env, args []string) int {
	fs := newFlagSet(e, "agent", agentHelp)
	listen := fs.String("listen", "", "address to listen on: unix:PATH or tcp:HOST:PORT")
	stdio := fs.Bool("stdio", false, "serve one client on standard input and output")
	version := fs.String("version", qga.DefaultVersion, "version reported by guest-info")
	survive := fs.Bool("survive-reset", false, "keep serving when a client resets its connection (qemu-ga 7.2 exits)")
	verbose := fs.Bool("v", false, "log connections on standard error")
	plant := fs.String("plant-bug", "", "testing only: diverge from qemu-ga in one way, to check that a differential fuzzer notices (one of: "+bugList()+")")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "qgafuzz agent: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if (*listen == "") == !*stdio {
		fmt.Fprintln(e.stderr, "qgafuzz agent: give exactly one of --listen ADDR or --stdio")
		return exitUsage
	}
	cfg := qga.AgentConfig{Version: *version}
	if *plant != "" {
		b, ok := qga.ParseBug(*plant)
		if !ok || b == qga.NoBug {
			fmt.Fprintf(e.stderr, "qgafuzz agent: unknown --plant-bug %q (one of: %s)\n", *plant, bugList())
			return exitUsage
		}
		cfg.Bug = b
	}
	srv := &qga.Server{Agent: qga.NewAgent(cfg), SurviveReset: *survive}
	if *verbose {
		srv.OnConnect = func(r string) { fmt.Fprintf(e.stderr, "qgafuzz agent: client connected%s\n", peerText(r)) }
		srv.OnDisconnect = func(r string, err error) {
			why := ""
			if err != nil {
				why = fmt.Sprintf(" (%v)", err)
			}
			fmt.Fprintf(e.stderr, "qgafuzz agent: client gone%s%s\n", peerText(r), why)
		}
	}
	if *stdio {
		rw := struct {
			readerFunc
			writerFunc
		}{readerFunc(e.stdin.Read), writerFunc(e.stdout.Write)}
		if err := srv.ServeConn(rw); err != nil {
			fmt.Fprintln(e.stderr, "qgafuzz agent:", errText(err))
			return exitTransport
		}
		return exitOK
	}
	if _, _, err := qga.ParseAddr(*listen); err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz agent: --listen:", errText(err))
		return exitUsage
	}
	l, err := qga.Listen(*listen)
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz agent:", errText(err))
		return exitTransport
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	// A signal closes the server, which also leaves the client being
	// served, as qemu-ga does. The watcher ends with the command (it runs
	// in process in tests), whichever way Serve returns.
	defer context.AfterFunc(ctx, func() { srv.Close() })()
	fmt.Fprintf(e.stderr, "qgafuzz agent: listening on %s\n", listenAddr(l))
	err = srv.Serve(l)
	l.Close()
	if err != nil {
		fmt.Fprintln(e.stderr, "qgafuzz agent:", errText(err))
		if errors.Is(err, qga.ErrChannelReset) {
			return exitFinding
		}
		return exitTransport
	}
	return exitOK
}

// listenAddr is l's address in qgafuzz's notation: for tcp:HOST:0 the port
// the system chose, which a user needs in order to connect.
func listenAddr(l net.Listener) string {
	return l.Addr().Network() + ":" + l.Addr().String()
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func bugList() string {
	s := ""
	for i, b := range qga.Bugs() {
		if i > 0 {
			s += ", "
		}
		s += b.String()
	}
	return s
}

// peerText names a client's address for -v, or nothing for a unix socket
// client, whose address is empty ("@" in Go): " @" reads as a typo.
func peerText(r string) string {
	if r == "" || r == "@" {
		return ""
	}
	return " from " + r
}
