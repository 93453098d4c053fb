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
// A Server puts an Agent on a listener (Server.Serve), one client at a
// time, like qemu-ga in unix-listen mode.
//
// Client is the careful host end of the channel: it resynchronises with
// guest-sync-delimited whenever it does not know where the channel stands,
// matches every reply to its request by a fresh random id, and never
// returns a reply that belongs to another request:
//
//	c, err := qga.DialClient(ctx, "unix:/tmp/qga.sock", qga.ClientOptions{})
//	var info qjson.Value
//	err = c.Execute(ctx, qga.CmdInfo, nil, &info)
//	c.Close() // drains first: qemu-ga 7.2 exits on unread replies
//
// Close may be called from another goroutine (on a signal, say): a call in
// progress then ends at once with an error matching ErrClosed, and Close
// drains what it left unread before closing.
package qga
