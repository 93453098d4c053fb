package qga

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Addresses are written "unix:PATH" or "tcp:HOST:PORT", the forms qgafuzz
// accepts on its command line for agents and proxies.

// ParseAddr splits an address written unix:PATH or tcp:HOST:PORT into a
// network and an address for package net. A file:PATH address, which only
// DialTransport and DialClient accept, is an error here.
func ParseAddr(addr string) (network, address string, err error) {
	kind, rest, ok := strings.Cut(addr, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("qga: address %q: want unix:PATH or tcp:HOST:PORT", addr)
	}
	switch kind {
	case "unix":
		return kind, rest, nil
	case "tcp":
		if _, port, err := net.SplitHostPort(rest); err != nil || port == "" {
			return "", "", fmt.Errorf("qga: address %q: want tcp:HOST:PORT", addr)
		}
		return kind, rest, nil
	}
	return "", "", fmt.Errorf("qga: address %q: unknown kind %q, want unix:PATH or tcp:HOST:PORT", addr, kind)
}

// Listen listens on addr (unix:PATH or tcp:HOST:PORT). A unix socket file left behind by a process that
// is gone (connecting to it is refused) is removed first. Any other socket
// file is left alone and is an error: one that accepts connections, and
// one whose listen backlog is full (connecting fails with EAGAIN), which
// is a busy agent such as qemu-ga serving a client with others waiting,
// not a dead one. Only Linux tells the two apart: the BSDs and macOS
// refuse a connection to a full backlog as to a dead socket, so there a
// busy agent's socket file is taken for a stale one and replaced.
func Listen(addr string) (net.Listener, error) {
	network, address, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			c, err := net.DialTimeout("unix", address, time.Second)
			switch {
			case err == nil:
				c.Close()
				return nil, fmt.Errorf("qga: %s: another process is listening there", address)
			case errors.Is(err, syscall.EAGAIN):
				return nil, fmt.Errorf("qga: %s: another process is listening there (its backlog is full)", address)
			case !errors.Is(err, syscall.ECONNREFUSED):
				return nil, fmt.Errorf("qga: %s: cannot tell whether another process listens there, so leaving it: %w", address, err)
			}
			os.Remove(address)
		}
	}
	return net.Listen(network, address)
}

// Dial connects to addr (unix:PATH or tcp:HOST:PORT) and returns the
// plain connection. DialTransport also accepts file:PATH, and DialClient
// puts a Client on top.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	network, address, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// isClosed reports whether err means the listener or connection was closed
// on purpose.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
