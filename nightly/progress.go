package nightly

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// This file shows the night's progress: a line every few seconds (target,
// elapsed/budget, execs, execs/s, corpus size, coverage, crashes so far),
// and on a terminal a progress bar redrawn in place below the lines.

// board holds the current status; the engines update it, a ticker shows
// it.
type board struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	start    time.Time
	budget   time.Duration

	name        string
	phase       string
	begun       time.Time
	share       time.Duration
	execs       int64
	rate        float64
	corpus      int
	coverage    int
	crashes     int // unique crashes so far in the night
	barShown    bool
	stopTick    chan struct{}
	tickerGroup sync.WaitGroup
}

func newBoard(w io.Writer, terminal bool, budget time.Duration) *board {
	return &board{w: w, terminal: terminal, start: time.Now(), budget: budget}
}

// begin switches to a new target.
func (b *board) begin(name string, share time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.name, b.share, b.begun = name, share, time.Now()
	b.execs, b.rate, b.corpus, b.coverage, b.phase = 0, 0, 0, 0, "starting"
}

// update sets the counters of the current target.
func (b *board) update(phase string, execs int64, rate float64, corpus, coverage int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.phase, b.execs, b.rate = phase, execs, rate
	if corpus > 0 {
		b.corpus = corpus
	}
	if coverage > 0 {
		b.coverage = coverage
	}
}

func (b *board) setCrashes(n int) {
	b.mu.Lock()
	b.crashes = n
	b.mu.Unlock()
}

// line renders the progress line.
func (b *board) line() string {
	el := time.Since(b.begun)
	rate := b.rate
	if rate == 0 && b.execs > 0 && el > 0 {
		// An engine's last status, printed as it stops, can show 0/s:
		// the average says more.
		rate = float64(b.execs) / el.Seconds()
	}
	if b.phase == simPhase { // seeds, which have no corpus or coverage
		return fmt.Sprintf("nightly: %-12s %s/%s  %-8s seeds %d (%.0f/s)  crashes %d",
			b.name, clock(el), clock(b.share), b.phase, b.execs, rate, b.crashes)
	}
	if b.phase == qemuGAPhase { // streams compared with qemu-ga: no coverage
		return fmt.Sprintf("nightly: %-12s %s/%s  %-8s streams %d (%.0f/s)  seeds %d  crashes %d",
			b.name, clock(el), clock(b.share), "comparing", b.execs, rate, b.corpus, b.crashes)
	}
	return fmt.Sprintf("nightly: %-12s %s/%s  %-8s execs %d (%.0f/s)  corpus %d  coverage %d  crashes %d",
		b.name, clock(el), clock(b.share), b.phase, b.execs, rate, b.corpus, b.coverage, b.crashes)
}

// bar renders the overall progress bar.
func (b *board) bar() string {
	el := time.Since(b.start)
	frac := 1.0
	if b.budget > 0 {
		frac = min(1, el.Seconds()/b.budget.Seconds())
	}
	const width = 30
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%% %s/%s %s  crashes %d", strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, clock(el), clock(b.budget), b.name, b.crashes)
}

// printf prints a message line (above the bar on a terminal).
func (b *board) printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clearBar()
	fmt.Fprintf(b.w, format+"\n", args...)
	b.drawBar()
}

func (b *board) clearBar() {
	if b.terminal && b.barShown {
		fmt.Fprint(b.w, "\r\033[K")
		b.barShown = false
	}
}

func (b *board) drawBar() {
	if b.terminal && b.name != "" {
		fmt.Fprint(b.w, b.bar())
		b.barShown = true
	}
}

// tick starts the ticker: a progress line every `every`, the bar twice a
// second on a terminal.
func (b *board) tick(every time.Duration) {
	b.stopTick = make(chan struct{})
	b.tickerGroup.Add(1)
	go func() {
		defer b.tickerGroup.Done()
		lines := time.NewTicker(every)
		defer lines.Stop()
		barEvery := time.Hour
		if b.terminal {
			barEvery = 500 * time.Millisecond
		}
		bars := time.NewTicker(barEvery)
		defer bars.Stop()
		for {
			select {
			case <-b.stopTick:
				return
			case <-lines.C:
				b.mu.Lock()
				if b.name != "" {
					b.clearBar()
					fmt.Fprintln(b.w, b.line())
					b.drawBar()
				}
				b.mu.Unlock()
			case <-bars.C:
				b.mu.Lock()
				b.clearBar()
				b.drawBar()
				b.mu.Unlock()
			}
		}
	}()
}

// stop stops the ticker and removes the bar.
func (b *board) stop() {
	if b.stopTick != nil {
		close(b.stopTick)
		b.tickerGroup.Wait()
		b.stopTick = nil
	}
	b.mu.Lock()
	b.clearBar()
	b.mu.Unlock()
}

// clock formats a duration as m:ss (or h:mm:ss).
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
