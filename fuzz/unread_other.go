//go:build !linux

package fuzz

import (
	"net"
	"time"
)

// waitUnread cannot tell what the peer has read outside Linux: the caller
// pauses instead.
func waitUnread(net.Conn, func() time.Time) bool { return false }
