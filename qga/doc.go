// Package qga is the protocol layer of qgafuzz: a reference guest agent that
// answers byte for byte like qemu-ga 7.2 (guest-sync, guest-sync-delimited,
// guest-ping, guest-info, and every error), and the framing shared with the
// host client.
//
// An Agent is a transducer from request bytes to reply bytes; it keeps
// parser state across calls and connections, as qemu-ga does:
//
//	a := qga.NewAgent(qga.AgentConfig{})
//	out := a.Feed(nil, []byte("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}"))
//	// out is the error reply for the 0xFF, then "\xff{\"return\": 7}\n".
//
// Serve puts an Agent on a listener, one client at a time, like qemu-ga in
// unix-listen mode.
package qga
