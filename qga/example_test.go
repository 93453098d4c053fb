package qga_test

import (
	"context"
	"fmt"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
	"github.com/qgafuzz/qgafuzz/qjson"
)

// The reference agent answers bytes with bytes, as qemu-ga does: the 0xFF
// flush byte is a lexical error, answered as one, and the reply to
// guest-sync-delimited is prefixed with 0xFF.
func ExampleAgent_Feed() {
	a := qga.NewAgent(qga.AgentConfig{})
	out := a.Feed(nil, []byte("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}"))
	fmt.Printf("%q\n", out)
	// Output:
	// "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n\xff{\"return\": 7}\n"
}

// A Client resynchronises before its first call and skips whatever stale
// bytes the channel holds. Here it talks to the reference agent through an
// in-memory transport in virtual time; DialClient connects to a real one.
func ExampleClient_Execute() {
	clock := qgatest.NewVirtualClock()
	agent := qga.NewAgent(qga.AgentConfig{})
	tr := qgatest.NewLoopTransport(func(p []byte) []byte { return agent.Feed(nil, p) }, clock)
	tr.Inject([]byte("{\"return\": 1}\n{\"ret")) // an earlier host's unread replies
	c := qga.NewClient(tr, qga.ClientOptions{Now: clock.Now})
	defer c.Close()

	var v qjson.Value
	err := c.Execute(context.Background(), qga.CmdSync, map[string]int64{"id": 42}, &v)
	fmt.Println(v, err)
	err = c.Execute(context.Background(), "guest-exec", nil, nil)
	fmt.Println(err)
	// Output:
	// 42 <nil>
	// CommandNotFound: Command guest-exec has been disabled
}
