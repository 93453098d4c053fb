package qga

import (
	"errors"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// TestReplyResultReason: a reply with neither or both of "return" and
// "error" is a protocol error whose reason says which (it once read
// `reply has neither exactly one of "return" and "error"` for both).
func TestReplyResultReason(t *testing.T) {
	for _, tc := range []struct {
		reply qjson.Value
		want  string
	}{
		{qjson.ObjectValue(qjson.Member{Key: "id", Value: qjson.IntValue(1)}),
			`reply has neither "return" nor "error"`},
		{qjson.ObjectValue(qjson.Member{Key: "return", Value: qjson.ObjectValue()},
			qjson.Member{Key: "error", Value: qjson.ObjectValue()}),
			`reply has both "return" and "error"`},
	} {
		line := qjson.AppendValue(nil, tc.reply)
		_, err := replyResult(tc.reply, line, 0)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Reason != tc.want {
			t.Errorf("replyResult(%s): %v, want a ProtocolError with reason %q", line, err, tc.want)
		}
	}
}
