package corpus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestConvertAndStatsStopOnCancel: import, export and stats read a corpus
// of any size one file at a time; Ctrl-C (a cancelled context) stops them
// between two files, and what Convert wrote by then is whole.
func TestConvertAndStatsStopOnCancel(t *testing.T) {
	src := t.TempDir()
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("in%02d", i)), []byte(fmt.Sprintf("input %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := filepath.Join(t.TempDir(), "out")
	res, _, err := ConvertContext(ctx, "", LibFuzzer, dst, src)
	if !errors.Is(err, context.Canceled) || res.Written != 0 {
		t.Errorf("ConvertContext after cancel: wrote %d, error %v; want 0 and context.Canceled", res.Written, err)
	}
	if _, err := ReadStats(ctx, nil, "", src); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadStats after cancel: error %v, want context.Canceled", err)
	}
	// Not cancelled, both go through.
	if res, _, err := ConvertContext(context.Background(), "", LibFuzzer, dst, src); err != nil || res.Written != 50 {
		t.Errorf("ConvertContext: wrote %d, error %v; want 50", res.Written, err)
	}
	if st, err := ReadStats(context.Background(), nil, "", src); err != nil || st.Files != 50 {
		t.Errorf("ReadStats: %+v, %v", st, err)
	}
}
