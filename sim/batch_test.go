package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBatchContextStopsBetweenSeeds: a done context stops a batch between
// seeds, and the summary covers exactly the seeds that ran, a prefix of
// the batch, marked as interrupted.
func TestBatchContextStopsBetweenSeeds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := &Batch{Options: Options{Client: Plain}, From: 1, To: 50}
	s, err := b.RunContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	s.WriteText(&text)
	if !s.Interrupted || s.Runs != 0 || s.Failures != 0 || !strings.Contains(text.String(), "INTERRUPTED before any seed ran (50 planned)") {
		t.Fatalf("cancelled before the start: interrupted %v, %d runs, %d failures\n%s", s.Interrupted, s.Runs, s.Failures, text.String())
	}

	// Cancelled once the batch is under way (the plain client fails on
	// most seeds, so the failing seeds show which seeds ran).
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	const total = 3000
	b = &Batch{Options: Options{Client: Plain}, From: 101, To: 100 + total, Workers: 2,
		ProgressEvery: time.Millisecond, Progress: func(p Progress) {
			if p.Runs >= 10 {
				cancel()
			}
		}}
	s, err = b.RunContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Interrupted || s.Runs < 10 || s.Runs >= total || s.Failures == 0 {
		t.Fatalf("cancelled after 10 seeds: interrupted %v, %d of %d runs, %d failures", s.Interrupted, s.Runs, total, s.Failures)
	}
	last := s.From + uint64(s.Runs) - 1
	for _, seed := range s.FailingSeeds() {
		if seed > last {
			t.Fatalf("failing seed %d is past the %d seeds that ran (%d..%d)", seed, s.Runs, s.From, last)
		}
	}
	text.Reset()
	s.WriteText(&text)
	if want := "INTERRUPTED after "; !strings.Contains(text.String(), want) {
		t.Fatalf("summary lacks %q:\n%s", want, text.String())
	}

	// A batch that ran every seed is not interrupted.
	s, err = (&Batch{Options: Options{Client: Plain}, From: 1, To: 5}).RunContext(context.Background())
	if err != nil || s.Interrupted || s.Runs != 5 {
		t.Fatalf("full batch: %v, %+v", err, s)
	}
}

// TestBatchFailingSeedsOmitted: the summary keeps the lowest failing seeds
// and says how many it left out.
func TestBatchFailingSeedsOmitted(t *testing.T) {
	s, err := (&Batch{Options: Options{Client: Plain}, From: 1, To: 40, KeepFailures: 3}).Run()
	if err != nil {
		t.Fatal(err)
	}
	seeds := s.FailingSeeds()
	if s.Failures <= 3 || len(seeds) != 3 || s.FailingSeedsOmitted() != s.Failures-3 {
		t.Fatalf("%d failures, kept %v, omitted %d", s.Failures, seeds, s.FailingSeedsOmitted())
	}
	var text strings.Builder
	s.WriteText(&text)
	if want := "only the lowest 3 are kept"; !strings.Contains(text.String(), want) {
		t.Fatalf("summary lacks %q:\n%s", want, text.String())
	}
}

// TestBatchMaxFailuresSaysItStopped: a batch stopped by MaxFailures says
// so and which seeds ran, rather than showing the planned range alone.
func TestBatchMaxFailuresSaysItStopped(t *testing.T) {
	s, err := (&Batch{Options: Options{Client: Plain}, From: 1, To: 200, MaxFailures: 2, Workers: 1}).Run()
	if err != nil {
		t.Fatal(err)
	}
	if !s.StoppedEarly || s.Interrupted || s.Failures != 2 || s.Runs >= 200 {
		t.Fatalf("stopped %v, interrupted %v, %d failures in %d runs", s.StoppedEarly, s.Interrupted, s.Failures, s.Runs)
	}
	var text strings.Builder
	s.WriteText(&text)
	want := fmt.Sprintf("STOPPED after 2 failing seed(s) (the maximum): %d of 200 seeds ran (seeds 1..%d)", s.Runs, s.Runs)
	if !strings.Contains(text.String(), want) {
		t.Fatalf("summary lacks %q:\n%s", want, text.String())
	}
	// Reaching the maximum on the last seed is not stopping early.
	s, err = (&Batch{Options: Options{Client: Plain}, From: 1, To: 5, MaxFailures: 1000}).Run()
	if err != nil || s.StoppedEarly {
		t.Fatalf("full batch: %v, stopped %v", err, s.StoppedEarly)
	}
}
